//! MACA: multi-level advantage credit assignment (docs/algorithms.md section 5).
//!
//! A transformer critic over the agents' observation tokens
//! ([`TransformerCritic`]) has a V head and a Q head affine in the joint
//! action vector, so `EQ(s, pi) = Q(s, pi)` is exact. Team returns are GAE
//! (lambda 0.95) with EQ as the value; agent i's advantage is the return
//! minus a mix of three counterfactual baselines, each Q with a different
//! set of agents' actions replaced by their policies:
//! `b_ind` (agent i), `b_cor` (agent i's correlated set
//! `C_i = {j : A[i, j] >= sigma} + {i}` from the critic's attention) and
//! `b_jnt` (everyone: EQ). The actor update is MAPPO's (chunked recurrence,
//! clip 0.1, 10 epochs, entropy 0.01); the critic minimises
//! `L_V + 0.5 L_Q + 1.0 L_EQ` (Huber, on normalised returns).
//!
//! Baseline weights psi per agent, two modes:
//! - `attention` (the authors' code): `psi_ind = 0.3 A[i,i]`,
//!   `psi_cor = 0.3 (sum_{j in C_i} A[i,j] - A[i,i])`, `psi_jnt` the rest;
//! - `cmaes` (the paper): `psi = softmax(Linear(z_s; eta))`, the same for all
//!   agents of a state, with `eta` searched by CMA-ES. The paper publishes
//!   neither the population nor the fitness estimator; ours: one candidate
//!   eta per policy update (no extra environment steps), its fitness the
//!   return improvement that update produced, `-(R(batch k+1) - R(batch k))`
//!   with R the mean return of a batch's episodes (collected with the
//!   policy before and after the update), and a population of 8 (the
//!   default `4 + 3 ln 771 = 23` would leave about 50 generations in a
//!   million spread steps; 8 gives about 150). The estimate is noisy: a
//!   batch of 10 spread episodes has a standard error near 2 while one
//!   update improves the return by a fraction of that.
//!
//! Dropping a baseline from `baselines` zeroes its weight and renormalises
//! the others (the ablations).
//!
//! Choices of ours where the spec is silent: the critic sees the time step
//! and the time-limit cut ends the value (as MAPPO's preset, both
//! switchable); no value clipping; PyTorch's default initialisation of the
//! critic. A checkpoint keeps the whole search (strategy, candidates in
//! flight, their scores), so a resumed run continues it.

mod config;
pub use config::*;

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::actor::Actor;
use crate::buffer::EpisodeBatch;
use crate::cmaes::Cmaes;
use crate::critic::{correlated_sets, TransformerCritic, TransformerDims};
use crate::env::batch::Dims;
use crate::learner::ppo::{chunked_policy, huber, normalise_if, value_stops, PpoClip, PpoSamples};
use crate::learner::returns::gae;
use crate::learner::value_targets::ValueTargets;
use crate::learner::{masked_mean, scalar, CriticReadout, Learner, UpdateStats};
use crate::optim::{descend, Optimizer, Rule};
use crate::state::TrainingState;
use crate::Result;

/// The order of the baselines in weight and value tensors.
const BASELINES: [Baseline; 3] = [Baseline::Individual, Baseline::Correlated, Baseline::Joint];

/// The CMA-ES search over the weights of `psi = softmax(Linear(z_s))`.
struct CmaesWeights {
    /// The candidate in use; its parameters are eta.
    head: nn::Linear,
    population: usize,
    sigma: f64,
    seed: u64,
    /// Created at the first update around the head's parameters (zeros, or
    /// a resumed checkpoint's last candidate).
    es: Option<Cmaes>,
    candidates: Vec<Vec<f64>>,
    fitness: Vec<f64>,
    /// Mean return of the batch the candidate in use was applied to.
    previous_return: Option<f64>,
}

impl CmaesWeights {
    fn eta(&self) -> Vec<f64> {
        let flat =
            Tensor::cat(&[self.head.ws.view([-1]), self.head.bs.as_ref().expect("the head has a bias").view([-1])], 0);
        Vec::<f64>::try_from(flat.to_kind(Kind::Double).to_device(tch::Device::Cpu)).expect("a 1-D tensor")
    }

    fn load(&mut self, eta: &[f64]) {
        let ws = self.head.ws.size();
        let n_w = (ws[0] * ws[1]) as usize;
        let opts = (self.head.ws.kind(), self.head.ws.device());
        tch::no_grad(|| {
            self.head.ws.copy_(&Tensor::from_slice(&eta[..n_w]).view(ws.as_slice()).to_kind(opts.0).to_device(opts.1));
            if let Some(bs) = self.head.bs.as_mut() {
                bs.copy_(&Tensor::from_slice(&eta[n_w..]).to_kind(opts.0).to_device(opts.1));
            }
        });
    }

    /// Scores the candidate used in the previous update by the return
    /// `batch_return` it led to and puts the next candidate in the head.
    fn advance(&mut self, batch_return: f64) -> Result<()> {
        if let Some(previous) = self.previous_return.take() {
            self.fitness.push(-(batch_return - previous));
        }
        if self.fitness.len() == self.candidates.len() {
            let es = match self.es.as_mut() {
                Some(es) => {
                    es.tell(&self.fitness)?;
                    es
                }
                None => self.es.insert(Cmaes::new(&self.eta(), self.sigma, self.population, self.seed)?),
            };
            self.candidates = es.ask();
            self.fitness.clear();
        }
        let next = self.candidates[self.fitness.len()].clone();
        self.load(&next);
        self.previous_return = Some(batch_return);
        Ok(())
    }

    /// Saves the search (the strategy, the candidates of its generation and
    /// their scores so far) under `psi_search/`; eta is in the `psi` store.
    fn save_state(&self, state: &mut TrainingState) {
        if let Some(es) = &self.es {
            es.save_state("psi_search/strategy", state);
        }
        let flat: Vec<f64> = self.candidates.iter().flatten().copied().collect();
        state.put_f64s("psi_search/candidates", &flat);
        state.put_f64s("psi_search/fitness", &self.fitness);
        state.put_f64s("psi_search/previous_return", self.previous_return.as_slice());
    }

    /// Restores what [`save_state`](Self::save_state) saved.
    fn load_state(&mut self, state: &TrainingState) -> Result<()> {
        let dim = self.eta().len();
        self.es = match state.contains("psi_search/strategy/mean") {
            true => {
                let mut es = Cmaes::new(&vec![0.0; dim], self.sigma, self.population, self.seed)?;
                es.load_state("psi_search/strategy", state)?;
                Some(es)
            }
            false => None,
        };
        self.candidates = state.get_f64s("psi_search/candidates", None)?.chunks(dim).map(<[f64]>::to_vec).collect();
        self.fitness = state.get_f64s("psi_search/fitness", None)?;
        self.previous_return = state.get_f64s("psi_search/previous_return", None)?.first().copied();
        Ok(())
    }
}

/// How the learner weighs its baselines.
enum Weighting {
    Attention,
    Cmaes(Box<CmaesWeights>),
}

/// The MACA learner.
pub struct Maca {
    cfg: MacaConfig,
    n_actions: i64,
    sigma: f64,
    critic_vs: nn::VarStore,
    critic: TransformerCritic,
    /// eta of the `cmaes` mode (searched, never trained), apart from the
    /// critic's optimiser.
    psi_vs: nn::VarStore,
    values: ValueTargets,
    weighting: Weighting,
    critic_opt: Optimizer,
    actor_opt: Optimizer,
}

impl Maca {
    /// A MACA learner for an actor whose parameters are `actor_vs`; `seed`
    /// drives the CMA-ES search.
    pub fn new(cfg: &MacaConfig, seed: u64, actor_vs: &nn::VarStore, dims: Dims, device: tch::Device) -> Result<Self> {
        let critic_vs = nn::VarStore::new(device);
        let critic = TransformerCritic::new(
            &(critic_vs.root() / "critic"),
            TransformerDims {
                n_agents: dims.n_agents,
                n_actions: dims.n_actions,
                token_dim: dims.obs_dim + usize::from(cfg.critic_time_feature),
                width: cfg.critic_width,
                heads: cfg.critic_heads,
                mlp: cfg.critic_mlp,
                blocks: cfg.critic_blocks,
                embed: cfg.critic_embed,
            },
        );
        let values = ValueTargets::new(&critic_vs.root(), cfg.value_norm, cfg.critic_time_feature, dims.episode_limit);
        let psi_vs = nn::VarStore::new(device);
        let weighting = match cfg.coefficients {
            CoefficientMode::Attention => Weighting::Attention,
            CoefficientMode::Cmaes => {
                let zeros =
                    nn::LinearConfig { ws_init: nn::Init::Const(0.0), bs_init: Some(nn::Init::Const(0.0)), bias: true };
                let head = nn::linear(psi_vs.root() / "psi", cfg.critic_embed as i64, 3, zeros);
                Weighting::Cmaes(Box::new(CmaesWeights {
                    head,
                    population: cfg.cmaes_population,
                    sigma: cfg.cmaes_sigma,
                    seed,
                    es: None,
                    candidates: Vec::new(),
                    fitness: Vec::new(),
                    previous_return: None,
                }))
            }
        };
        let adam = Rule::adam(cfg.adam_eps);
        Ok(Self {
            actor_opt: Optimizer::new(actor_vs, adam, cfg.lr_actor)?,
            critic_opt: Optimizer::new(&critic_vs, adam, cfg.lr_critic)?,
            psi_vs,
            sigma: cfg.sigma.unwrap_or(1.0 / dims.n_agents as f64),
            cfg: cfg.clone(),
            n_actions: dims.n_actions as i64,
            critic_vs,
            critic,
            values,
            weighting,
        })
    }

    /// The critic's tokens `[T+1, B, n, obs (+1)]`.
    fn tokens(&self, batch: &EpisodeBatch) -> Tensor {
        self.values.input(&batch.obs, batch.first_step)
    }

    /// The baseline weights `[.., n, 3]` (individual, correlated, joint)
    /// for states embedded as `z` `[.., embed]` with attention `[.., n, n]`
    /// and correlated sets `sets` `[.., n, n]`, with dropped baselines
    /// zeroed and the rest renormalised.
    fn weights(&self, z: &Tensor, attention: &Tensor, sets: &Tensor) -> Tensor {
        let psi = match &self.weighting {
            Weighting::Attention => attention_weights(attention, sets, self.cfg.attention_scale),
            Weighting::Cmaes(w) => {
                let n = attention.size()[attention.dim() - 1];
                let psi = w.head.forward(z).softmax(-1, z.kind()).unsqueeze(-2);
                let mut shape = psi.size();
                shape[psi.dim() - 2] = n;
                psi.expand(shape.as_slice(), false)
            }
        };
        let keep: Vec<f32> = BASELINES.iter().map(|b| f32::from(u8::from(self.cfg.baselines.contains(b)))).collect();
        let keep = Tensor::from_slice(&keep).to_kind(psi.kind()).to_device(psi.device());
        let kept = psi * keep;
        let total = kept.sum_dim_intlist(-1, true, kept.kind()).clamp_min(1e-12);
        kept / total
    }
}

/// The attention-mode weights `[.., n, 3]`: `psi_ind = s A[i,i]`,
/// `psi_cor = s (sum_{j in C_i} A[i,j] - A[i,i])`,
/// `psi_jnt = clamp(1 - psi_ind - psi_cor, 0, 1)`.
pub(crate) fn attention_weights(attention: &Tensor, sets: &Tensor, scale: f64) -> Tensor {
    let own = attention.diagonal(0, -2, -1);
    let in_set = (attention * sets).sum_dim_intlist(-1, false, attention.kind());
    let ind = &own * scale;
    let cor = (in_set - &own) * scale;
    let jnt = (-(&ind + &cor) + 1.0).clamp(0.0, 1.0);
    Tensor::stack(&[ind, cor, jnt], -1)
}

/// The three baselines `[.., n, 3]` (individual, correlated, joint) from
/// `q(v)`, the critic on joint action vectors `v` `[.., K, n A]` -> `[.., K]`:
/// `pi` and `onehot` `[.., n, A]` the policies and taken actions, `sets`
/// `[.., n, n]` the correlated sets.
pub(crate) fn baselines(pi: &Tensor, onehot: &Tensor, sets: &Tensor, q: impl Fn(&Tensor) -> Tensor) -> Tensor {
    let size = pi.size();
    let (n, a) = (size[size.len() - 2], size[size.len() - 1]);
    let lead = &size[..size.len() - 2];
    // Row k of `marginalised`: which agents' slots carry pi instead of u.
    let own = Tensor::eye(n, (pi.kind(), pi.device())).expand(sets.size().as_slice(), false);
    let mut everyone_shape = lead.to_vec();
    everyone_shape.extend([1, n]);
    let everyone = Tensor::ones(everyone_shape.as_slice(), (pi.kind(), pi.device()));
    let marginalised = Tensor::cat(&[own, sets.to_kind(pi.kind()), everyone], -2).unsqueeze(-1); // [.., 2n+1, n, 1]
    let v: Tensor = &marginalised * pi.unsqueeze(-3) + (-&marginalised + 1.0) * onehot.to_kind(pi.kind()).unsqueeze(-3);
    let mut v_shape = lead.to_vec();
    v_shape.extend([2 * n + 1, n * a]);
    let values = q(&v.reshape(v_shape.as_slice())); // [.., 2n+1]
    let joint = values.narrow(-1, 2 * n, 1).expand_as(&values.narrow(-1, 0, n));
    Tensor::stack(&[values.narrow(-1, 0, n), values.narrow(-1, n, n), joint], -1)
}

impl Learner for Maca {
    fn name(&self) -> &'static str {
        "maca"
    }

    fn update(&mut self, actor: &Actor, batch: &EpisodeBatch, _env_steps: u64) -> Result<UpdateStats> {
        if let Weighting::Cmaes(w) = &mut self.weighting {
            w.advance(batch.mean_return())?;
        }
        let c = self.cfg.clone();
        let t = batch.max_len();
        let size = batch.actions.size();
        let (b, n) = (size[1], size[2]);
        let mask = batch.mask.narrow(0, 0, t); // [T, B]
        let agent_mask = mask.unsqueeze(-1).expand([t, b, n], true);
        let tokens = self.tokens(batch);
        let onehot = batch.actions.one_hot(self.n_actions).to_kind(Kind::Float); // [T+1, B, n, A]
        let pi = batch.probs.shallow_clone();
        let joint = |x: &Tensor| x.view([x.size()[0], b, 1, -1]); // [.., n, A] -> [.., 1, nA]

        let (returns, advantages, psi, set_size) = tch::no_grad(|| {
            let encoded = self.critic.encode(&tokens);
            let eq = self.values.denormalize(&self.critic.q(&encoded.z, &joint(&pi)).squeeze_dim(-1)); // [T+1, B]
            let stops = value_stops(batch, c.bootstrap_truncation);
            let returns = gae(&batch.reward, &stops, &batch.mask, &eq, c.gamma, c.gae_lambda) + eq.narrow(0, 0, t);
            let z = encoded.z.narrow(0, 0, t);
            let attention = encoded.attention.narrow(0, 0, t);
            let sets = correlated_sets(&attention, self.sigma);
            let values = baselines(&pi.narrow(0, 0, t), &onehot.narrow(0, 0, t), &sets, |v| {
                self.values.denormalize(&self.critic.q(&z, v))
            });
            let psi = self.weights(&z, &attention, &sets); // [T, B, n, 3]
            let baseline = (&psi * values).sum_dim_intlist(-1, false, Kind::Float);
            let advantages = returns.unsqueeze(-1) - baseline; // [T, B, n]
            let set_size = sets.sum_dim_intlist(-1, false, Kind::Float);
            (returns, advantages, psi, set_size)
        });
        let targets = self.values.fit(&returns, &mask);
        let actions = batch.actions.narrow(0, 0, t);
        let mut samples = PpoSamples {
            actions,
            advantage: normalise_if(c.advantage_norm, &advantages, &agent_mask),
            mask: agent_mask.shallow_clone(),
        };
        // Q on the taken actions and EQ on the behaviour policies, per step.
        let critic_v = Tensor::cat(&[joint(&onehot), joint(&pi)], 2).narrow(0, 0, t); // [T, B, 2, nA]
        let ppo =
            PpoClip::new(c.epochs, c.minibatches, c.clip, c.entropy_coef, c.grad_clip).shuffled(c.shuffle_minibatches);
        let critic = &self.critic;
        let critic_opt = &mut self.critic_opt;
        let critic_tokens = tokens.narrow(0, 0, t);
        let stats = ppo.run(
            &mut self.actor_opt,
            b,
            &mut samples,
            |_, _| {},
            |minibatch| chunked_policy(actor, batch, minibatch, c.chunk_len),
            |minibatch| {
                let mb = |x: &Tensor| minibatch.take(x);
                let z = critic.encode(&mb(&critic_tokens)).z;
                let q = critic.q(&z, &mb(&critic_v)); // [T, len, 2]
                let (target, m) = (mb(&targets), mb(&mask));
                let loss_of = |v: &Tensor| masked_mean(&huber(&(&target - v), c.huber_delta), &m);
                let (l_v, l_q, l_eq) =
                    (loss_of(&critic.value(&z)), loss_of(&q.select(-1, 0)), loss_of(&q.select(-1, 1)));
                let critic_loss = &l_v + c.q_loss_coef * &l_q + c.eq_loss_coef * &l_eq;
                descend(critic_opt, &critic_loss, c.grad_clip)?;
                Ok([&l_v, &l_q, &l_eq].map(scalar))
            },
        )?;
        let ([pl, ent, clip, ratio], [l_v, l_q, l_eq]) = (stats.actor, stats.learner);
        let psi_mean = |k: i64| scalar(&masked_mean(&psi.select(-1, k), &agent_mask));
        let mut out = vec![
            ("policy_loss", pl),
            ("entropy", ent),
            ("clip_fraction", clip),
            ("ratio_mean", ratio),
            ("value_loss", l_v),
            ("q_loss", l_q),
            ("eq_loss", l_eq),
            ("advantage_mean", scalar(&masked_mean(&advantages, &agent_mask))),
            ("psi_individual", psi_mean(0)),
            ("psi_correlated", psi_mean(1)),
            ("psi_joint", psi_mean(2)),
            ("correlated_set_size", scalar(&masked_mean(&set_size, &agent_mask))),
        ];
        if let Weighting::Cmaes(w) = &self.weighting {
            out.push(("cmaes_sigma", w.es.as_ref().map_or(self.cfg.cmaes_sigma, Cmaes::sigma)));
        }
        Ok(out)
    }

    fn var_stores(&self) -> Vec<(&'static str, &nn::VarStore)> {
        match self.weighting {
            Weighting::Attention => vec![("critic", &self.critic_vs)],
            Weighting::Cmaes(_) => vec![("critic", &self.critic_vs), ("psi", &self.psi_vs)],
        }
    }

    fn critic_readout(&self, batch: &EpisodeBatch) -> Option<CriticReadout> {
        let b = batch.actions.size()[1];
        let value = tch::no_grad(|| {
            let z = self.critic.encode(&self.tokens(batch)).z;
            let pi = batch.probs.view([batch.probs.size()[0], b, 1, -1]);
            self.values.denormalize(&self.critic.q(&z, &pi).squeeze_dim(-1))
        });
        Some(CriticReadout { value, advantage: None })
    }

    fn var_stores_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        match self.weighting {
            Weighting::Attention => vec![("critic", &mut self.critic_vs)],
            Weighting::Cmaes(_) => vec![("critic", &mut self.critic_vs), ("psi", &mut self.psi_vs)],
        }
    }

    fn optimizers_mut(&mut self) -> Vec<&mut Optimizer> {
        vec![&mut self.actor_opt, &mut self.critic_opt]
    }

    fn save_state(&self, state: &mut TrainingState) {
        self.actor_opt.save_state("actor_optimizer", state);
        self.critic_opt.save_state("critic_optimizer", state);
        if let Weighting::Cmaes(w) = &self.weighting {
            w.save_state(state);
        }
    }

    fn load_state(&mut self, state: &TrainingState) -> Result<()> {
        self.actor_opt.load_state("actor_optimizer", state)?;
        self.critic_opt.load_state("critic_optimizer", state)?;
        match &mut self.weighting {
            Weighting::Cmaes(w) => w.load_state(state),
            Weighting::Attention => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{Spread, SpreadConfig, VecEnv};
    use tch::Device;

    const N: i64 = 3;
    const A: i64 = 5;

    /// A random transformer critic in f64 and `b` random states' tokens.
    fn critic(b: i64) -> (TransformerCritic, nn::VarStore, Tensor) {
        tch::manual_seed(11);
        let mut vs = nn::VarStore::new(Device::Cpu);
        let dims = TransformerDims {
            n_agents: N as usize,
            n_actions: A as usize,
            token_dim: 6,
            width: 16,
            heads: 1,
            mlp: 16,
            blocks: 1,
            embed: 32,
        };
        let critic = TransformerCritic::new(&vs.root(), dims);
        vs.double();
        let tokens = Tensor::randn([b, N, 6], (Kind::Double, Device::Cpu));
        (critic, vs, tokens)
    }

    fn random_policies(b: i64) -> Tensor {
        (Tensor::randn([b, N, A], (Kind::Double, Device::Cpu)) * 1.5).softmax(-1, Kind::Double)
    }

    /// Every joint action of N agents with A actions, as `[A^N, N]` indices.
    fn joint_actions() -> Vec<Vec<i64>> {
        (0..A.pow(N as u32)).map(|k| (0..N).map(|i| (k / A.pow(i as u32)) % A).collect()).collect()
    }

    /// `sum_u prod_{j in free} pi_j(u_j) Q(s, u)` over the actions of the
    /// agents in `free`, the others held at `taken`; state `s` of `z`.
    fn enumerated(critic: &TransformerCritic, z: &Tensor, pi: &Tensor, taken: &[i64], free: &[i64]) -> f64 {
        let pi = Vec::<f64>::try_from(pi.contiguous().view([-1])).unwrap();
        let mut total = 0.0;
        for u in joint_actions() {
            if (0..N).any(|j| !free.contains(&j) && u[j as usize] != taken[j as usize]) {
                continue;
            }
            let weight: f64 = free.iter().map(|&j| pi[(j * A + u[j as usize]) as usize]).product();
            let v = Tensor::from_slice(&u).one_hot(A).to_kind(Kind::Double).view([1, N * A]);
            total += weight * f64::try_from(critic.q(z, &v)).unwrap();
        }
        total
    }

    #[test]
    fn eq_on_probabilities_equals_the_enumerated_expectation_of_q() {
        let (critic, _vs, tokens) = critic(6);
        let pi = random_policies(6);
        for s in 0..6 {
            let z = critic.encode(&tokens.get(s)).z;
            let eq = f64::try_from(critic.q(&z, &pi.get(s).view([1, N * A]))).unwrap();
            let all: Vec<i64> = (0..N).collect();
            let expected = enumerated(&critic, &z, &pi.get(s), &[0; N as usize], &all);
            assert!((eq - expected).abs() < 1e-9, "state {s}: EQ {eq} vs enumeration {expected}");
        }
    }

    #[test]
    fn each_baseline_marginalises_exactly_its_agents() {
        let (critic, _vs, tokens) = critic(4);
        let pi = random_policies(4);
        let taken = Tensor::randint(A, [4, N], (Kind::Int64, Device::Cpu));
        let onehot = taken.one_hot(A).to_kind(Kind::Double);
        // Sets of every size: {i}, {i, next}, everyone.
        let sets = Tensor::from_slice(&[
            1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, //
            1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, //
            1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, //
            1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0,
        ])
        .view([4, N, N]);
        let z = critic.encode(&tokens).z;
        let values = baselines(&pi, &onehot, &sets, |v| critic.q(&z, v)); // [4, N, 3]
        for s in 0..4 {
            let u = Vec::<i64>::try_from(taken.get(s)).unwrap();
            let zs = z.get(s);
            let row = Vec::<f64>::try_from(sets.get(s).view([-1])).unwrap();
            for i in 0..N {
                let set: Vec<i64> = (0..N).filter(|&j| row[(i * N + j) as usize] == 1.0).collect();
                let expected = [
                    enumerated(&critic, &zs, &pi.get(s), &u, &[i]),
                    enumerated(&critic, &zs, &pi.get(s), &u, &set),
                    enumerated(&critic, &zs, &pi.get(s), &u, &[0, 1, 2]),
                ];
                for (k, e) in expected.iter().enumerate() {
                    let got = values.double_value(&[s, i, k as i64]);
                    assert!((got - e).abs() < 1e-9, "state {s}, agent {i}, baseline {k}: {got} vs {e}");
                }
            }
        }
    }

    #[test]
    fn attention_weights_follow_the_authors_formula() {
        let attention = Tensor::from_slice(&[0.5, 0.3, 0.2, 0.1, 0.6, 0.3, 0.4, 0.4, 0.2]).view([3, 3]);
        let sets = correlated_sets(&attention, 1.0 / 3.0);
        let psi = Vec::<f64>::try_from(attention_weights(&attention, &sets, 0.3).view([-1])).unwrap();
        // Agent 0: set {0}; agent 1: set {1}; agent 2: set {0, 1, 2} (self below sigma).
        let expected = [0.15, 0.0, 0.85, 0.18, 0.0, 0.82, 0.06, 0.24, 0.70];
        for (g, e) in psi.iter().zip(expected) {
            assert!((g - e).abs() < 1e-12, "{psi:?} vs {expected:?}");
        }
    }

    fn maca(cfg: MacaConfig) -> Maca {
        let envs = VecEnv::new(vec![Spread::new(SpreadConfig::default())]).unwrap();
        let actor_vs = nn::VarStore::new(Device::Cpu);
        let _ = actor_vs.root().zeros("w", &[1]);
        Maca::new(&cfg, 3, &actor_vs, envs.dims(), Device::Cpu).unwrap()
    }

    #[test]
    fn dropping_a_baseline_renormalises_the_others() {
        let attention = Tensor::from_slice(&[0.5f32, 0.3, 0.2, 0.1, 0.6, 0.3, 0.4, 0.4, 0.2]).view([1, 3, 3]);
        let sets = correlated_sets(&attention, 1.0 / 3.0);
        let z = Tensor::zeros([1, 256], (Kind::Float, Device::Cpu));
        let full = maca(MacaConfig::default()).weights(&z, &attention, &sets);
        for drop in BASELINES {
            let kept: Vec<Baseline> = BASELINES.into_iter().filter(|b| *b != drop).collect();
            let psi = maca(MacaConfig { baselines: kept, ..Default::default() }).weights(&z, &attention, &sets);
            let k = BASELINES.iter().position(|b| *b == drop).unwrap() as i64;
            assert_eq!(f64::try_from(psi.select(-1, k).abs().max()).unwrap(), 0.0, "{drop:?} still weighted");
            let sums = psi.sum_dim_intlist(-1, false, Kind::Float);
            assert!(sums.allclose(&Tensor::ones_like(&sums), 1e-6, 1e-6, false), "{drop:?}: {sums}");
            // The kept weights keep their ratios.
            let ratio = (&psi / full.clamp_min(1e-12)).index_select(-1, &Tensor::from_slice(&kept_indices(k)));
            let r = Vec::<f32>::try_from(ratio.view([-1])).unwrap();
            for pair in r.chunks(2) {
                if pair.iter().all(|x| x.is_finite() && *x > 0.0) {
                    assert!((pair[0] - pair[1]).abs() < 1e-5, "{drop:?}: ratios {r:?}");
                }
            }
        }
    }

    fn kept_indices(dropped: i64) -> Vec<i64> {
        (0..3).filter(|&k| k != dropped).collect()
    }

    #[test]
    fn cmaes_scores_each_candidate_by_the_return_improvement_it_produced() {
        let cfg = MacaConfig { coefficients: CoefficientMode::Cmaes, cmaes_population: 4, ..Default::default() };
        let mut learner = maca(cfg);
        let Weighting::Cmaes(w) = &mut learner.weighting else { unreachable!() };
        // Batch returns before updates 0..=4: update k used candidate k.
        let returns = [-80.0, -70.0, -75.0, -60.0, -61.0];
        let mut used = Vec::new();
        for (k, r) in returns.iter().enumerate() {
            w.advance(*r).unwrap();
            if k < 4 {
                assert_eq!(w.fitness.len(), k, "one fitness per finished update");
                used.push(w.candidates[k].clone());
                let gap = w.eta().iter().zip(&used[k]).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                assert!(gap < 1e-6, "update {k} runs candidate {k} (the head is off by {gap})");
            }
        }
        // After the 5th batch the generation was told: improvements 10, -5,
        // 15, -1 ranked as fitness -10, 5, -15, 1.
        let es = w.es.as_ref().unwrap();
        assert_eq!(es.evaluations(), 4);
        let expected_mean: Vec<f64> = {
            // mu = 2 best (candidates 2 then 0) with weights ln(2.5) - ln(1), ln(2.5) - ln(2).
            let (w1, w2) = (2.5f64.ln(), 2.5f64.ln() - 2f64.ln());
            used[2].iter().zip(&used[0]).map(|(a, b)| (w1 * a + w2 * b) / (w1 + w2)).collect()
        };
        let gap = es.mean().iter().zip(&expected_mean).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(gap < 1e-12, "the new mean is off the weighted best two by {gap}");
        assert!(!w.candidates.is_empty() && w.fitness.is_empty(), "a new generation was asked for");
    }
}
