//! The hypernetwork mixing critic of LICA (docs/algorithms.md section 3), also
//! SeCA's f_phi (section 4): a network of the state mixes the agents'
//! concatenated action vectors (one-hot actions or probability vectors)
//! into one team value. Not monotonic (no abs()), so it can rank any joint
//! action; differentiable in the action vectors, so an actor can be trained
//! through it.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::td::{TdCritic, TdSettings};
use crate::buffer::EpisodeBatch;
use crate::config::{check, positive, unit};
use crate::env::batch::Dims;
use crate::learner::CriticReadout;
use crate::optim::Rule;
use crate::Result;

/// One-hot joint actions: `actions` `[.., n]` (i64) -> `[.., n A]` (float),
/// agent i's one-hot in slots `i A .. (i + 1) A`.
pub fn joint_one_hot(actions: &Tensor, n_actions: i64) -> Tensor {
    let size = actions.size();
    let mut shape = size[..size.len() - 1].to_vec();
    shape.push(-1);
    actions.one_hot(n_actions).to_kind(Kind::Float).view(shape.as_slice())
}

/// `Q(s, v) = ReLU(v W1(s) + b1(s)) w2(s) + b2(s)`, `v` = `[v_1 .. v_n]`.
#[derive(Debug)]
pub struct MixingCritic {
    w1_hidden: nn::Linear,
    w1_out: nn::Linear,
    b1: nn::Linear,
    w2_hidden: nn::Linear,
    w2_out: nn::Linear,
    b2_hidden: nn::Linear,
    b2_out: nn::Linear,
    /// Normalises the state before every hypernetwork (`state_norm`).
    state_norm: Option<nn::LayerNorm>,
    joint: i64,
    embed: i64,
}

impl MixingCritic {
    /// A critic for `state_dim` states and joint action vectors of length
    /// `joint_dim` (= n A), mixing through `embed` (E) units. `hyper_hidden`
    /// is the width of W1's hypernetwork hidden layer; the paper uses
    /// E n A, whose second layer then has (E n A)^2 weights, so larger
    /// teams set it smaller.
    ///
    /// The hypernetworks' output layers (W1, w2 and b2's last linears) start
    /// at `init_scale` times PyTorch's default weights. The papers state no
    /// initialisation; at PyTorch's default the untrained critic's values
    /// on the one-step junction reach ±12 and its surface between one-hot
    /// corners, which training never visits and the actor climbs, steers
    /// the actors into non-optimal joint actions (0 of 10 seeds solved
    /// against 50 of 50 at 0.1; see tests/learn_junction.rs).
    ///
    /// With `state_norm` a LayerNorm over the state's features comes before
    /// the hypernetworks, for states whose features differ in scale (a
    /// battle's positions run to 32 map units beside health fractions).
    pub fn new(
        vs: &nn::Path,
        state_dim: usize,
        joint_dim: usize,
        embed: usize,
        hyper_hidden: usize,
        init_scale: f64,
        state_norm: bool,
    ) -> Self {
        let (s, j, e, h) = (state_dim as i64, joint_dim as i64, embed as i64, hyper_hidden as i64);
        let lin = |name: &str, i: i64, o: i64| super::linear(vs / name, i, o, None);
        let mut c = Self {
            w1_hidden: lin("hyper_w1_hidden", s, h),
            w1_out: lin("hyper_w1_out", h, j * e),
            b1: lin("hyper_b1", s, e),
            w2_hidden: lin("hyper_w2_hidden", s, e),
            w2_out: lin("hyper_w2_out", e, e),
            b2_hidden: lin("hyper_b2_hidden", s, e),
            b2_out: lin("hyper_b2_out", e, 1),
            state_norm: state_norm.then(|| nn::layer_norm(vs / "state_norm", vec![s], Default::default())),
            joint: j,
            embed: e,
        };
        tch::no_grad(|| {
            for layer in [&mut c.w1_out, &mut c.w2_out, &mut c.b2_out] {
                let _ = layer.ws.g_mul_scalar_(init_scale);
            }
        });
        c
    }

    /// The mixing weights for `state` `[.., S]`.
    pub fn hyper(&self, state: &Tensor) -> Hyper {
        let lead = &state.size()[..state.dim() - 1];
        let mut w1_shape = lead.to_vec();
        w1_shape.extend([self.joint, self.embed]);
        let normed = self.state_norm.as_ref().map(|norm| norm.forward(state));
        let state = normed.as_ref().unwrap_or(state);
        Hyper {
            w1: self.w1_out.forward(&self.w1_hidden.forward(state).relu()).view(w1_shape.as_slice()),
            b1: self.b1.forward(state),
            w2: self.w2_out.forward(&self.w2_hidden.forward(state).relu()),
            b2: self.b2_out.forward(&self.b2_hidden.forward(state).relu()).squeeze_dim(-1),
        }
    }

    /// The team value of joint action vectors: `state` `[.., S]`, `v`
    /// `[K.., .., nA]` (extra leading dims broadcast over the state's) ->
    /// `[K.., ..]`.
    pub fn forward(&self, state: &Tensor, v: &Tensor) -> Tensor {
        self.hyper(state).mix(v)
    }
}

/// The state-dependent weights of a [`MixingCritic`], reusable for many
/// action vectors of the same states.
#[derive(Debug)]
pub struct Hyper {
    /// `[.., nA, E]`.
    w1: Tensor,
    /// `[.., E]`.
    b1: Tensor,
    /// `[.., E]`.
    w2: Tensor,
    /// `[..]`.
    b2: Tensor,
}

impl Hyper {
    /// `v` `[K.., .., nA]` -> `[K.., ..]`.
    pub fn mix(&self, v: &Tensor) -> Tensor {
        let hidden = (v.unsqueeze(-2).matmul(&self.w1).squeeze_dim(-2) + &self.b1).relu();
        let kind = hidden.kind();
        (hidden * &self.w2).sum_dim_intlist(-1, false, kind) + &self.b2
    }
}

/// The hypernetwork mixing critic of LICA and SeCA (`[lica.critic]`,
/// `[seca.critic]`; docs/algorithms.md sections 3-4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixingCriticConfig {
    /// Adam learning rate.
    pub lr: f64,
    /// Discount factor.
    pub gamma: f64,
    /// TD(lambda) trace parameter.
    pub td_lambda: f64,
    /// Mixing width E.
    pub embed: usize,
    /// Width of W1's hypernetwork hidden layer (unset: E n A, the paper's;
    /// its second layer then holds (E n A)^2 weights, so set it smaller for
    /// larger teams).
    pub hyper_hidden: Option<usize>,
    /// Scale of the hypernetworks' output layers at initialisation, against
    /// PyTorch's default (ours: the papers state none; a small start keeps
    /// the untrained critic flat in the action vectors, see
    /// train/src/critic/mixing.rs).
    pub init_scale: f64,
    /// A LayerNorm over the state before the hypernetworks (ours; off by
    /// default, as in the paper).
    pub state_norm: bool,
    /// Hard copy to the target critic every this many critic updates.
    pub target_update_interval: usize,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
}

impl Default for MixingCriticConfig {
    fn default() -> Self {
        Self {
            lr: 5e-4,
            gamma: 0.99,
            td_lambda: 0.8,
            embed: 64,
            hyper_hidden: None,
            init_scale: 0.1,
            state_norm: false,
            target_update_interval: 200,
            grad_clip: 10.0,
        }
    }
}

impl MixingCriticConfig {
    pub(crate) fn validate(&self, table: &str) -> Result<()> {
        let key = |k: &str| format!("{table}.critic.{k}");
        positive(&key("lr"), self.lr)?;
        positive(&key("grad_clip"), self.grad_clip)?;
        positive(&key("init_scale"), self.init_scale)?;
        unit(&key("gamma"), self.gamma)?;
        unit(&key("td_lambda"), self.td_lambda)?;
        check(self.embed >= 1, &key("embed"), "at least 1", self.embed)?;
        if let Some(h) = self.hyper_hidden {
            check(h >= 1, &key("hyper_hidden"), "at least 1", h)?;
        }
        check(
            self.target_update_interval >= 1,
            &key("target_update_interval"),
            "at least 1",
            self.target_update_interval,
        )
    }
}

/// The mixing critic (and its target) of LICA and SeCA, Adam-trained.
pub(crate) fn mixing_critic(
    cfg: &MixingCriticConfig,
    dims: Dims,
    device: tch::Device,
) -> Result<TdCritic<MixingCritic>> {
    let joint = dims.n_agents * dims.n_actions;
    let hyper_hidden = cfg.hyper_hidden.unwrap_or(cfg.embed * joint);
    let build = |p: &nn::Path| {
        MixingCritic::new(p, dims.state_dim, joint, cfg.embed, hyper_hidden, cfg.init_scale, cfg.state_norm)
    };
    let settings = TdSettings {
        gamma: cfg.gamma,
        lambda: cfg.td_lambda,
        target_update_interval: cfg.target_update_interval,
        grad_clip: cfg.grad_clip,
    };
    TdCritic::new(device, build, Rule::adam(1e-8), cfg.lr, settings)
}

/// Trains a mixing critic on the batch's one-hot joint actions `[T+1, B, nA]`
/// with TD(lambda); returns the mean loss.
pub(crate) fn train_mixing_critic(
    critic: &mut TdCritic<MixingCritic>,
    batch: &EpisodeBatch,
    joint: &Tensor,
) -> Result<f64> {
    let g = tch::no_grad(|| critic.target.net.forward(&batch.state, joint)); // [T+1, B]
    let targets = critic.targets(batch, &g);
    critic.train_backwards(batch, &targets, |net, t| net.forward(&batch.state.get(t), &joint.get(t)))
}

/// The readout of a mixing critic (LICA and SeCA): Q_tot of the joint
/// action taken.
pub(crate) fn mixing_readout(critic: &MixingCritic, batch: &EpisodeBatch, n_actions: i64) -> CriticReadout {
    let value = tch::no_grad(|| critic.forward(&batch.state, &joint_one_hot(&batch.actions, n_actions)));
    CriticReadout { value, advantage: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_normalised_state_makes_the_critic_blind_to_the_states_scale() {
        tch::manual_seed(4);
        let opts = (Kind::Float, tch::Device::Cpu);
        let state = Tensor::randn([5, 4], opts);
        let v = Tensor::rand([5, 6], opts);
        let gap = |state_norm: bool| {
            tch::manual_seed(5);
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let critic = MixingCritic::new(&vs.root(), 4, 6, 8, 10, 1.0, state_norm);
            let q = |s: &Tensor| critic.forward(s, &v);
            f64::try_from((q(&state) - q(&(&state * 30.0 + 5.0))).abs().max()).unwrap()
        };
        // LayerNorm's epsilon (1e-5 against the variance) leaves a trace.
        let (normed, raw) = (gap(true), gap(false));
        assert!(normed < 1e-3 && raw > 1e-1, "largest change of Q: {normed} normalised, {raw} raw");
    }

    #[test]
    fn forward_is_the_documented_formula_and_broadcasts() {
        tch::manual_seed(3);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let critic = MixingCritic::new(&vs.root(), 4, 6, 8, 10, 1.0, false);
        let opts = (Kind::Float, tch::Device::Cpu);
        let state = Tensor::randn([5, 4], opts);
        let v = Tensor::randn([3, 5, 6], opts);
        let q = critic.forward(&state, &v);
        assert_eq!(q.size(), [3, 5]);
        // By hand for one row: ReLU(v W1 + b1) . w2 + b2.
        let s = state.get(2);
        let w1 = critic.w1_out.forward(&critic.w1_hidden.forward(&s).relu()).view([6, 8]);
        let b1 = critic.b1.forward(&s);
        let w2 = critic.w2_out.forward(&critic.w2_hidden.forward(&s).relu());
        let b2 = critic.b2_out.forward(&critic.b2_hidden.forward(&s).relu());
        let h = (v.get(1).get(2).view([1, 6]).matmul(&w1).view([8]) + b1).relu();
        let want = (h * w2).sum(Kind::Float) + b2.view([]);
        assert!(f64::try_from((q.get(1).get(2) - want).abs()).unwrap() < 1e-5);
    }
}
