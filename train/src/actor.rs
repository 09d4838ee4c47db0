//! The parameter-shared recurrent actor (docs/algorithms.md section 0): one
//! network serves every agent; this is what gets exported to robots.
//!
//! `x_i -> [LayerNorm] -> Linear(in, H) -> ReLU -> GRUCell(H, H) -> Linear(H, A)`
//!
//! Variables (under the var-store path the caller gives): `input_norm.{weight,bias}`
//! (optional), `fc1.{weight,bias}`, `gru.{weight_ih,weight_hh,bias_ih,bias_hh}`
//! in PyTorch's layout and gate order (r, z, n), `fc2.{weight,bias}`.

use murmur_runtime::ActorSpec;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// Logit given to unavailable actions before the softmax.
pub const UNAVAILABLE_LOGIT: f64 = -1e10;

/// Architecture switches beyond the [`ActorSpec`] dimensions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActorOptions {
    /// LayerNorm on the input vector (MAPPO).
    pub input_layer_norm: bool,
    /// Orthogonal initialisation of the weight matrices (MAPPO).
    pub orthogonal_init: bool,
    /// A ReLU layer `Linear(H, H)` between the GRU and the logits
    /// (JaxMARL's MAPPO actor).
    #[serde(default)]
    pub head_layer: bool,
    /// Only the observation part of the input reaches the network: the
    /// previous action and the id are multiplied by 0 and their `fc1`
    /// columns start at 0, so they stay 0 and the exported actor ignores
    /// them exactly.
    #[serde(default)]
    pub observation_only: bool,
}

/// A GRU cell with PyTorch's parameters: `weight_ih` `[3H, in]`,
/// `weight_hh` `[3H, H]`, `bias_ih` and `bias_hh` `[3H]`, gates r, z, n.
#[derive(Debug)]
pub struct GruCell {
    /// Input-to-hidden weights `[3H, in]`.
    pub weight_ih: Tensor,
    /// Hidden-to-hidden weights `[3H, H]`.
    pub weight_hh: Tensor,
    /// Input-to-hidden bias `[3H]`.
    pub bias_ih: Tensor,
    /// Hidden-to-hidden bias `[3H]`.
    pub bias_hh: Tensor,
}

impl GruCell {
    /// PyTorch's default initialisation, U(-1/sqrt(H), 1/sqrt(H)), or
    /// orthogonal weights with zero biases.
    pub fn new(vs: nn::Path, input: i64, hidden: i64, orthogonal: bool) -> Self {
        let k = 1.0 / (hidden as f64).sqrt();
        let w = |name: &str, cols: i64| {
            if orthogonal {
                vs.var(name, &[3 * hidden, cols], nn::Init::Orthogonal { gain: 1.0 })
            } else {
                vs.var(name, &[3 * hidden, cols], nn::Init::Uniform { lo: -k, up: k })
            }
        };
        let b = |name: &str| {
            let init = if orthogonal { nn::Init::Const(0.0) } else { nn::Init::Uniform { lo: -k, up: k } };
            vs.var(name, &[3 * hidden], init)
        };
        Self {
            weight_ih: w("weight_ih", input),
            weight_hh: w("weight_hh", hidden),
            bias_ih: b("bias_ih"),
            bias_hh: b("bias_hh"),
        }
    }

    /// One step: `x` `[R, in]`, `h` `[R, H]` -> `[R, H]`.
    pub fn forward(&self, x: &Tensor, h: &Tensor) -> Tensor {
        let (gi_rz, gi_n) = self.project_inputs(x);
        self.step(&self.recurrent(), &gi_rz, &gi_n, h)
    }

    /// The input half of the gates, for any leading dims: `[.., in]` ->
    /// (`x W_ir,iz^T + b_ir,iz + b_hr,hz` `[.., 2H]`, `x W_in^T + b_in` `[.., H]`).
    /// Done once for a whole sequence it turns T small matmuls into one; the
    /// recurrent r/z biases fold in here since they add to the same sum.
    pub fn project_inputs(&self, x: &Tensor) -> (Tensor, Tensor) {
        let hidden = self.weight_hh.size()[1];
        let gi = x.matmul(&self.weight_ih.tr()) + &self.bias_ih;
        let gi_rz = gi.narrow(-1, 0, 2 * hidden) + self.bias_hh.narrow(0, 0, 2 * hidden);
        (gi_rz, gi.narrow(-1, 2 * hidden, hidden))
    }

    /// The recurrent weights split by gate, once per sequence.
    pub fn recurrent(&self) -> Recurrent {
        let hidden = self.weight_hh.size()[1];
        Recurrent {
            w_rz_t: self.weight_hh.narrow(0, 0, 2 * hidden).tr(),
            w_n_t: self.weight_hh.narrow(0, 2 * hidden, hidden).tr(),
            b_n: self.bias_hh.narrow(0, 2 * hidden, hidden),
        }
    }

    /// One step from projected inputs (see [`Self::project_inputs`]), `[R, 2H]`
    /// and `[R, H]`, and state `h` `[R, H]`:
    /// `r, z = sigmoid(gi_rz + h W_hr,hz^T)`, `n = tanh(gi_n + r * (h W_hn^T + b_hn))`,
    /// `h' = n + z (h - n)`.
    ///
    /// Written out rather than `Tensor::gru_cell`: on the CPU this builds 7
    /// autograd nodes a step instead of about 16, and the unroll's backward
    /// pass is where training spends its time.
    pub fn step(&self, w: &Recurrent, gi_rz: &Tensor, gi_n: &Tensor, h: &Tensor) -> Tensor {
        let rz = gi_rz.addmm(h, &w.w_rz_t).sigmoid().chunk(2, 1);
        let gh_n = w.b_n.addmm(h, &w.w_n_t);
        gi_n.addcmul(&rz[0], &gh_n).tanh().lerp_tensor(h, &rz[1])
    }
}

/// [`GruCell`]'s recurrent weights split by gate: `w_rz_t` `[H, 2H]`,
/// `w_n_t` `[H, H]` (transposed), `b_n` `[H]`.
#[derive(Debug)]
pub struct Recurrent {
    w_rz_t: Tensor,
    w_n_t: Tensor,
    b_n: Tensor,
}

/// The shared GRU actor.
#[derive(Debug)]
pub struct Actor {
    spec: ActorSpec,
    options: ActorOptions,
    input_norm: Option<nn::LayerNorm>,
    fc1: nn::Linear,
    gru: GruCell,
    head: Option<nn::Linear>,
    fc2: nn::Linear,
    /// `[input_dim]`: 1 on the observation, 0 on the previous action and id.
    input_mask: Option<Tensor>,
}

impl Actor {
    /// Creates the actor's variables under `vs`.
    pub fn new(vs: &nn::Path, spec: ActorSpec, options: ActorOptions) -> Self {
        let (inp, h, a) = (spec.input_dim() as i64, spec.hidden as i64, spec.n_actions as i64);
        let linear = |name: &str, i: i64, o: i64, gain: f64| {
            let cfg = if options.orthogonal_init {
                nn::LinearConfig {
                    ws_init: nn::Init::Orthogonal { gain },
                    bs_init: Some(nn::Init::Const(0.0)),
                    bias: true,
                }
            } else {
                nn::LinearConfig::default()
            };
            nn::linear(vs / name, i, o, cfg)
        };
        let fc1 = linear("fc1", inp, h, 2f64.sqrt());
        let input_mask = options.observation_only.then(|| {
            let obs = spec.obs_dim as i64;
            let _ = tch::no_grad(|| fc1.ws.narrow(1, obs, inp - obs).zero_());
            Tensor::cat(
                &[
                    Tensor::ones([obs], (Kind::Float, vs.device())),
                    Tensor::zeros([inp - obs], (Kind::Float, vs.device())),
                ],
                0,
            )
        });
        Self {
            input_mask,
            input_norm: options
                .input_layer_norm
                .then(|| nn::layer_norm(vs / "input_norm", vec![inp], Default::default())),
            fc1,
            gru: GruCell::new(vs / "gru", h, h, options.orthogonal_init),
            head: options.head_layer.then(|| linear("head", h, h, 2.0)),
            // MAPPO's small output gain keeps the initial policy near uniform.
            fc2: linear("fc2", h, a, 0.01),
            spec,
            options,
        }
    }

    /// The dimensions this actor was built for.
    pub fn spec(&self) -> ActorSpec {
        self.spec
    }

    /// The architecture switches.
    pub fn options(&self) -> ActorOptions {
        self.options
    }

    /// A zero hidden state for `rows` agents: `[rows, H]`.
    pub fn initial_hidden(&self, rows: i64, device: tch::Device) -> Tensor {
        Tensor::zeros([rows, self.spec.hidden as i64], (Kind::Float, device))
    }

    fn embed(&self, x: &Tensor) -> Tensor {
        let masked;
        let x = match &self.input_mask {
            Some(mask) => {
                masked = x * mask;
                &masked
            }
            None => x,
        };
        match &self.input_norm {
            Some(norm) => self.fc1.forward(&norm.forward(x)).relu(),
            None => self.fc1.forward(x).relu(),
        }
    }

    /// The logits `[.., A]` from GRU states `[.., H]`.
    fn logits(&self, h: &Tensor) -> Tensor {
        match &self.head {
            Some(head) => self.fc2.forward(&head.forward(h).relu()),
            None => self.fc2.forward(h),
        }
    }

    /// One step for `R` rows (agents): `x` `[R, input_dim]`, `h` `[R, H]` ->
    /// (logits `[R, A]`, next hidden `[R, H]`).
    pub fn step(&self, x: &Tensor, h: &Tensor) -> (Tensor, Tensor) {
        let h = self.gru.forward(&self.embed(x), h);
        (self.logits(&h), h)
    }

    /// Runs a whole sequence: `x` `[T, R, input_dim]`, `h0` `[R, H]` ->
    /// logits `[T, R, A]`.
    ///
    /// With `chunks = Some((h_recorded, len))` (`h_recorded` `[T, R, H]`, the
    /// hidden states the rollout fed at each step), the recurrence restarts
    /// from the recorded, detached state every `len` steps: truncated
    /// backpropagation through time in chunks, as MAPPO trains.
    pub fn unroll(&self, x: &Tensor, h0: &Tensor, chunks: Option<(&Tensor, usize)>) -> Tensor {
        let t_len = x.size()[0];
        let (gi_rz, gi_n) = self.gru.project_inputs(&self.embed(x));
        let (gi_rz, gi_n) = (gi_rz.unbind(0), gi_n.unbind(0));
        let w = self.gru.recurrent();
        let mut h = h0.shallow_clone();
        let mut hs = Vec::with_capacity(t_len as usize);
        for t in 0..t_len {
            if let Some((rec, len)) = chunks {
                if t > 0 && t % len as i64 == 0 {
                    h = rec.get(t).detach();
                }
            }
            h = self.gru.step(&w, &gi_rz[t as usize], &gi_n[t as usize], &h);
            hs.push(h.shallow_clone());
        }
        self.logits(&Tensor::stack(&hs, 0))
    }
}

/// Action probabilities with unavailable actions removed: logits of
/// unavailable actions set to [`UNAVAILABLE_LOGIT`], softmax, then those
/// probabilities zeroed exactly and the rest renormalised.
/// `logits`, `avail` `[.., A]` (avail 1.0 = allowed) -> `[.., A]`.
pub fn masked_probs(logits: &Tensor, avail: &Tensor) -> Tensor {
    let blocked = avail.eq(0.0);
    let p = logits.masked_fill(&blocked, UNAVAILABLE_LOGIT).softmax(-1, Kind::Float) * avail;
    &p / p.sum_dim_intlist(-1, true, Kind::Float).clamp_min(1e-12)
}

/// The log-probabilities of [`masked_probs`] `[.., A]`, by a `log_softmax`
/// over the available actions (exact where a probability underflows);
/// unavailable actions get about -1e10, finite, so `p log p` is 0 there.
pub fn masked_log_probs(logits: &Tensor, avail: &Tensor) -> Tensor {
    logits.masked_fill(&avail.eq(0.0), UNAVAILABLE_LOGIT).log_softmax(-1, Kind::Float)
}

/// The entropy `-sum_a p log p` `[..]` of log-probabilities `log_p` `[.., A]`.
pub fn entropy_of_log_probs(log_p: &Tensor) -> Tensor {
    -(log_p.exp() * log_p).sum_dim_intlist(-1, false, Kind::Float)
}

/// The exploration floor `(1 - eps) pi + eps / |available|` over available
/// actions (COMA). `probs`, `avail` `[.., A]`.
pub fn epsilon_floor(probs: &Tensor, avail: &Tensor, eps: f64) -> Tensor {
    if eps == 0.0 {
        return probs.shallow_clone();
    }
    let n_avail = avail.sum_dim_intlist(-1, true, Kind::Float).clamp_min(1.0);
    probs * (1.0 - eps) + avail / n_avail * eps
}

/// Mean entropy `-sum_a p log p` per row, treating `0 log 0 = 0`: `[.., A]` -> `[..]`.
pub fn entropy(probs: &Tensor) -> Tensor {
    -(probs * probs.clamp_min(1e-12).log()).sum_dim_intlist(-1, false, Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_zeroes_unavailable_actions_exactly() {
        let logits = Tensor::from_slice(&[5.0f32, 1.0, 1.0, 30.0]).view([1, 4]);
        let avail = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 0.0]).view([1, 4]);
        let p = masked_probs(&logits, &avail);
        let v: Vec<f32> = p.view([-1]).try_into().unwrap();
        assert_eq!(v[3], 0.0);
        let z = 5f32.exp() + 2.0 * 1f32.exp();
        assert!((v[0] - 5f32.exp() / z).abs() < 1e-6 && (v[1] - 1f32.exp() / z).abs() < 1e-6);
        let f: Vec<f32> = epsilon_floor(&p, &avail, 0.3).view([-1]).try_into().unwrap();
        assert!((f[1] - (0.7 * v[1] + 0.1)).abs() < 1e-6 && f[3] == 0.0);
        assert!((f.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn unroll_matches_stepping_and_gru_matches_the_equations() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let spec = ActorSpec { obs_dim: 3, n_actions: 4, n_agents: 2, hidden: 5 };
        let actor = Actor::new(
            &vs.root(),
            spec,
            ActorOptions { input_layer_norm: true, orthogonal_init: true, head_layer: false, observation_only: false },
        );
        let x = Tensor::randn([6, 2, spec.input_dim() as i64], (Kind::Float, tch::Device::Cpu));
        let h0 = actor.initial_hidden(2, tch::Device::Cpu);
        let all = actor.unroll(&x, &h0, None);
        let mut h = h0;
        for t in 0..6 {
            let (logits, h2) = actor.step(&x.get(t), &h);
            assert!(f64::try_from((logits - all.get(t)).abs().max()).unwrap() < 1e-6);
            h = h2;
        }
        // The GRU cell against its equations (PyTorch gate order r, z, n).
        let g = &actor.gru;
        let (xi, hi) = (
            Tensor::randn([2, 5], (Kind::Float, tch::Device::Cpu)),
            Tensor::randn([2, 5], (Kind::Float, tch::Device::Cpu)),
        );
        let gi = xi.matmul(&g.weight_ih.tr()) + &g.bias_ih;
        let gh = hi.matmul(&g.weight_hh.tr()) + &g.bias_hh;
        let (gi, gh) = (gi.chunk(3, 1), gh.chunk(3, 1));
        let r = (&gi[0] + &gh[0]).sigmoid();
        let z = (&gi[1] + &gh[1]).sigmoid();
        let n = (&gi[2] + &r * &gh[2]).tanh();
        let expected: Tensor = (1.0 - &z) * n + z * &hi;
        let got: Tensor = g.forward(&xi, &hi);
        assert!(f64::try_from((&got - expected).abs().max()).unwrap() < 1e-6);
        let torch = xi.gru_cell(&hi, &g.weight_ih, &g.weight_hh, Some(&g.bias_ih), Some(&g.bias_hh));
        assert!(f64::try_from((got - torch).abs().max()).unwrap() < 1e-6);
    }
}
