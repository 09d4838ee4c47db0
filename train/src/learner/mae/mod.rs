//! MAE: marginal advantage estimation (docs/algorithms.md section 6).
//!
//! The critic is COMA's Q_i(s, (., u_-i)), trained the same way
//! (TD(lambda) targets from a hard-copied target, one step per time step,
//! last first), with Adam. Agent i's advantage is COMA's counterfactual
//! advantage averaged over `samples` partner joint actions drawn from the
//! partners' current policies instead of the partners' taken actions:
//! `A_mar,i = (1/m) sum_k [Q(s, (u_i, u_-i^k))[u_i] - sum_a pi_i(a) Q(s, (a, u_-i^k))]`.
//! One draw serves every agent (agent i's own slot of the draw is masked
//! out of its features), so each agent's partners are drawn from pi_-i.
//!
//! The actor update is the paper's per-agent PPO-clip on `A_mar,i` (clip
//! 0.1). The paper publishes no code, epochs or minibatches: ours are 4
//! epochs of 1 minibatch (whole-episode backpropagation through time) and
//! no entropy bonus by default (EPyMARL's PPO epochs; not tuned); all three
//! are config values. `advantage_norm` standardises the advantages over the
//! batch before the update, as MAPPO and MACA do (off by default: the paper
//! describes none).

mod config;
pub use config::*;

use tch::nn;
use tch::Tensor;

use crate::actor::{masked_log_probs, Actor};
use crate::buffer::EpisodeBatch;
use crate::critic::td::{TdCritic, TdSettings};
use crate::critic::{coma_critic, coma_readout, counterfactual_advantage, train_coma_critic, ComaCritic, ComaInputs};
use crate::env::batch::Dims;
use crate::learner::ppo::{normalise_if, PpoClip, PpoSamples};
use crate::learner::{masked_mean, scalar, unroll_episodes, CriticReadout, Learner, UpdateStats};
use crate::optim::{Optimizer, Rule};
use crate::Result;

/// The MAE learner.
pub struct Mae {
    cfg: MaeConfig,
    n_actions: i64,
    critic: TdCritic<ComaCritic>,
    actor_opt: Optimizer,
}

impl Mae {
    /// An MAE learner for an actor whose parameters are `actor_vs`.
    pub fn new(cfg: &MaeConfig, actor_vs: &nn::VarStore, dims: Dims, device: tch::Device) -> Result<Self> {
        let settings = TdSettings {
            gamma: cfg.gamma,
            lambda: cfg.td_lambda,
            target_update_interval: cfg.target_update_interval,
            grad_clip: cfg.grad_clip,
        };
        Ok(Self {
            cfg: cfg.clone(),
            n_actions: dims.n_actions as i64,
            critic: coma_critic(dims, cfg.critic_hidden, device, Rule::adam(1e-8), cfg.lr_critic, settings)?,
            actor_opt: Optimizer::new(actor_vs, Rule::adam(1e-8), cfg.lr_actor)?,
        })
    }
}

/// Joint actions drawn from `probs` `[.., A]` -> `[..]` (i64). Actions of
/// probability 0 are never drawn; rows of all zeros (padding) give 0.
pub(crate) fn sample_actions(probs: &Tensor) -> Tensor {
    let u = probs.rand_like().clamp(1e-10, 1.0 - 1e-7);
    let gumbel = -(-u.log()).log();
    let log_p = probs.log(); // -inf where the probability is 0
    (log_p + gumbel).argmax(-1, false)
}

/// The marginal advantage `[T, B, n]` of the taken actions, averaged over
/// the partner joint actions `partners` (each `[T+1, B, n]`, i64):
/// `pi` `[T, B, n, A]` the agents' policies, `q_of(features)` the critic.
pub(crate) fn marginal_advantage(
    batch: &EpisodeBatch,
    pi: &Tensor,
    partners: &[Tensor],
    n_actions: i64,
    q_of: impl Fn(&Tensor) -> Tensor,
) -> Tensor {
    let t = pi.size()[0];
    let actions = batch.actions.narrow(0, 0, t);
    let total = partners.iter().fold(Tensor::zeros_like(&actions).to_kind(pi.kind()), |acc, joint| {
        let q = q_of(&ComaInputs::build_with_joint(batch, joint, n_actions).narrow(0, 0, t)).to_kind(pi.kind());
        acc + counterfactual_advantage(&q, pi, &actions)
    });
    total / partners.len() as f64
}

impl Learner for Mae {
    fn name(&self) -> &'static str {
        "mae"
    }

    fn update(&mut self, actor: &Actor, batch: &EpisodeBatch, _env_steps: u64) -> Result<UpdateStats> {
        let critic_loss = train_coma_critic(&mut self.critic, batch, &ComaInputs::build(batch, self.n_actions))?;

        let c = self.cfg.clone();
        let t = batch.max_len();
        let size = batch.actions.size();
        let (b, n) = (size[1], size[2]);
        let behaviour = batch.probs.shallow_clone(); // the current policy, [T+1, B, n, A]
        let pi = behaviour.narrow(0, 0, t);
        let advantage = tch::no_grad(|| {
            let partners: Vec<Tensor> = (0..c.samples).map(|_| sample_actions(&behaviour)).collect();
            marginal_advantage(batch, &pi, &partners, self.n_actions, |x| self.critic.net.forward(x))
        });
        let actions = batch.actions.narrow(0, 0, t);
        let mask = batch.mask.narrow(0, 0, t).unsqueeze(-1).expand([t, b, n], true);
        let update_advantage = normalise_if(c.advantage_norm, &advantage, &mask);
        let mut samples = PpoSamples { actions, advantage: update_advantage, mask: mask.shallow_clone() };
        let ppo =
            PpoClip::new(c.epochs, c.minibatches, c.clip, c.entropy_coef, c.grad_clip).shuffled(c.shuffle_minibatches);
        let (inputs, avail) = (batch.inputs.narrow(0, 0, t), batch.avail.narrow(0, 0, t));
        let stats = ppo.run(
            &mut self.actor_opt,
            b,
            &mut samples,
            |_, _| {},
            |minibatch| masked_log_probs(&unroll_episodes(actor, &minibatch.take(&inputs)), &minibatch.take(&avail)),
            |_| Ok([0.0; 0]),
        )?;
        let [pl, ent, clip, _] = stats.actor;
        Ok(vec![
            ("critic_loss", critic_loss),
            ("policy_loss", pl),
            ("advantage_mean", scalar(&masked_mean(&advantage, &mask))),
            ("entropy", ent),
            ("clip_fraction", clip),
        ])
    }

    actor_and_td_critic_state!();

    fn critic_readout(&self, batch: &EpisodeBatch) -> Option<CriticReadout> {
        Some(coma_readout(&self.critic.net, batch, self.n_actions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    const N: i64 = 3;
    const A: i64 = 5;

    /// One step (T = 1) of `b` episodes with random observations, states,
    /// actions and policies; a random critic in f64.
    fn case(b: i64) -> (EpisodeBatch, Tensor, ComaCritic, nn::VarStore) {
        tch::manual_seed(17);
        let cpu = tch::Device::Cpu;
        let f = (Kind::Double, cpu);
        let (obs_dim, state_dim) = (4, 6);
        let probs = (Tensor::randn([2, b, N, A], f) * 1.5).softmax(-1, Kind::Double);
        let batch = EpisodeBatch {
            inputs: Tensor::zeros([2, b, N, 1], f),
            hidden: Tensor::zeros([2, b, N, 1], f),
            obs: Tensor::randn([2, b, N, obs_dim], (Kind::Float, cpu)),
            state: Tensor::randn([2, b, state_dim], (Kind::Float, cpu)),
            avail: Tensor::ones([2, b, N, A], f),
            actions: Tensor::randint(A, [2, b, N], (Kind::Int64, cpu)),
            probs: probs.shallow_clone(),
            reward: Tensor::zeros([1, b], f),
            agent_reward: None,
            terminated: Tensor::zeros([1, b], f),
            mask: Tensor::cat(&[Tensor::ones([1, b], f), Tensor::zeros([1, b], f)], 0),
            returns: vec![0.0; b as usize],
            wins: Vec::new(),
            lengths: vec![1; b as usize],
            first_step: 0,
        };
        let vs = nn::VarStore::new(cpu);
        let input = ComaInputs::dim(state_dim as usize, obs_dim as usize, N as usize, A as usize);
        let critic = ComaCritic::new(&vs.root(), input, 32, A as usize);
        (batch, probs.narrow(0, 0, 1), critic, vs)
    }

    fn q_of(critic: &ComaCritic) -> impl Fn(&Tensor) -> Tensor + '_ {
        |x| critic.forward(x).to_kind(Kind::Double)
    }

    #[test]
    fn one_sample_of_the_taken_partners_is_comas_advantage() {
        let (batch, pi, critic, _vs) = case(8);
        let mae = tch::no_grad(|| marginal_advantage(&batch, &pi, &[batch.actions.shallow_clone()], A, q_of(&critic)));
        let q = tch::no_grad(|| critic.forward(&ComaInputs::build(&batch, A).narrow(0, 0, 1))).to_kind(Kind::Double);
        let coma = counterfactual_advantage(&q, &pi, &batch.actions.narrow(0, 0, 1));
        let err = (mae - &coma).abs().max().double_value(&[]);
        assert!(err < 1e-5, "max error {err}");
        assert!(coma.abs().max().double_value(&[]) > 1e-3, "a zero advantage proves nothing");
    }

    #[test]
    fn sampled_partners_converge_to_the_enumerated_expectation() {
        let (batch, pi, critic, _vs) = case(4);
        // Exact: every partner joint action, weighted by its probability.
        let mut exact = Tensor::zeros([1, 4, N], (Kind::Double, tch::Device::Cpu));
        for code in 0..A.pow(N as u32) {
            let joint: Vec<i64> = (0..N).map(|j| code / A.pow(j as u32) % A).collect();
            let u = Tensor::from_slice(&joint).view([1, 1, N]).expand([2, 4, N], true);
            // Probability of the draw under pi, per episode and agent i,
            // leaving out agent i's own component (it is masked out of i's
            // features, so summing over it with its probabilities is a no-op).
            let p = pi.gather(-1, &u.narrow(0, 0, 1).unsqueeze(-1), false).squeeze_dim(-1); // [1, B, n]
            let weight = p.prod_dim_int(-1, true, Kind::Double);
            let adv = tch::no_grad(|| marginal_advantage(&batch, &pi, &[u], A, q_of(&critic)));
            exact += adv * weight;
        }
        let behaviour = batch.probs.shallow_clone();
        let error = |m: usize| {
            let partners: Vec<Tensor> = (0..m).map(|_| sample_actions(&behaviour)).collect();
            let est = tch::no_grad(|| marginal_advantage(&batch, &pi, &partners, A, q_of(&critic)));
            (est - &exact).abs().max().double_value(&[])
        };
        let (coarse, fine) = (error(10), error(20_000));
        let scale = exact.abs().max().double_value(&[]);
        assert!(fine < 0.02 * scale.max(0.1), "m = 20000: error {fine} against |exact| {scale}");
        assert!(fine < coarse, "m = 10 error {coarse}, m = 20000 error {fine}");
    }

    #[test]
    fn sampling_never_draws_an_action_of_probability_zero() {
        let probs = Tensor::from_slice(&[0.5f32, 0.0, 0.5, 0.0, 0.0, 1.0]).view([2, 3]).repeat([500, 1]);
        let drawn = sample_actions(&probs).view([500, 2]);
        assert_eq!(drawn.select(1, 1).ne(2).sum(Kind::Int64).int64_value(&[]), 0);
        assert_eq!(drawn.select(1, 0).eq(1).sum(Kind::Int64).int64_value(&[]), 0);
        let zeros = drawn.select(1, 0).eq(0).sum(Kind::Int64).int64_value(&[]);
        assert!((200..300).contains(&zeros), "action 0 drawn {zeros} of 500 times at p = 0.5");
    }
}
