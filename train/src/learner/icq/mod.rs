//! ICQ (Yang et al., NeurIPS 2021, "Believe what you see"), independent
//! form: every update reads only actions the dataset took, so no value is
//! ever extrapolated to an action the data never tried.
//!
//! Critic: a recurrent per-agent Q-network (the actor's architecture on its
//! own parameters) learns each agent's reward by a SARSA-style target on
//! the dataset's next action, importance-weighted by `softmax(Q'/alpha)`
//! over the batch (normalised to mean 1):
//! `y_t = r_t + gamma (1 - terminal) w_{t+1} Q'(tau_{t+1}, u_{t+1})`; at an
//! episode's last step, where no next action was taken, the bootstrap is
//! the policy's expectation `sum_a pi(a) Q'(tau_T, a)`.
//! Actor: advantage-weighted cloning of the dataset's actions,
//! `L = -mean w log pi(u | tau)` with `w = softmax(A / beta)` over the
//! batch (mean 1) and `A = Q(tau, u) - sum_a pi(a | tau) Q(tau, a)`.

mod config;

pub use config::IcqConfig;

use tch::{nn, Kind, Tensor};

use crate::actor::{masked_log_probs, Actor};
use crate::buffer::EpisodeBatch;
use crate::critic::target::{TargetNetwork, TargetUpdate, TARGET_CHECKPOINT};
use crate::learner::offline::{unroll_episodes, OfflineRewards};
use crate::learner::registry::BuildContext;
use crate::learner::{masked_mean, scalar, Learner, UpdateStats};
use crate::optim::{descend, Optimizer, Rule};
use crate::state::TrainingState;
use crate::Result;

/// The checkpoint name of ICQ's critic.
const CRITIC_CHECKPOINT: &str = "critic";

/// ICQ: an actor and an in-sample recurrent critic.
pub struct Icq {
    cfg: IcqConfig,
    rewards: OfflineRewards,
    actor_opt: Optimizer,
    critic_vs: nn::VarStore,
    critic: Actor,
    critic_opt: Optimizer,
    target: TargetNetwork<Actor>,
}

impl Icq {
    /// ICQ for the actor in `ctx.actor_vs`, with a critic of the same shape.
    pub fn new(cfg: &IcqConfig, ctx: &BuildContext<'_>) -> Result<Self> {
        let (spec, options) = (ctx.actor, ctx.actor_options);
        let critic_vs = nn::VarStore::new(ctx.device);
        let critic = Actor::new(&critic_vs.root(), spec, options);
        let adam = Rule::adam(cfg.adam_eps);
        Ok(Self {
            cfg: cfg.clone(),
            rewards: OfflineRewards::new(ctx.offline, ctx.dims, ctx.device)?,
            actor_opt: Optimizer::new(ctx.actor_vs, adam, cfg.lr_actor)?,
            critic_opt: Optimizer::new(&critic_vs, adam, cfg.lr_critic)?,
            target: TargetNetwork::new(
                &critic_vs,
                |p| Actor::new(p, spec, options),
                TargetUpdate::interval_or_tau(cfg.target_update),
            )?,
            critic,
            critic_vs,
        })
    }
}

/// `softmax(x / temperature)` over the entries where `mask` is 1, scaled
/// to mean 1 over them (0 elsewhere): the batch-normalised weights of ICQ.
fn batch_weights(x: &Tensor, mask: &Tensor, temperature: f64) -> Tensor {
    let blocked = mask.eq(0.0);
    let flat = (x / temperature).masked_fill(&blocked, f64::NEG_INFINITY).view([-1]);
    let count = mask.sum(Kind::Float).clamp_min(1.0);
    flat.softmax(0, Kind::Float).view_as(x) * count
}

impl Learner for Icq {
    fn name(&self) -> &'static str {
        "icq"
    }

    fn update(&mut self, actor: &Actor, batch: &EpisodeBatch, _env_steps: u64) -> Result<UpdateStats> {
        let (reward, mut stats) = self.rewards.per_agent(batch)?; // [T, B, n]
        let c = self.cfg.clone();
        let t = batch.max_len();
        let size = batch.actions.size();
        let (b, n) = (size[1], size[2]);
        let mask = batch.mask.narrow(0, 0, t).unsqueeze(-1).expand([t, b, n], true);
        let actions = batch.actions.unsqueeze(-1); // [T+1, B, n, 1]
        let log_pi = masked_log_probs(&unroll_episodes(actor, batch), &batch.avail); // [T+1, B, n, A]

        // Critic: SARSA on the dataset's next actions, importance-weighted.
        let y = tch::no_grad(|| -> Result<Tensor> {
            let q_next = unroll_episodes(&self.target.net, batch); // [T+1, B, n, A]
            let taken_next = q_next.gather(-1, &actions, false).squeeze_dim(-1).narrow(0, 1, t);
            let next_mask = batch.mask.narrow(0, 1, t).unsqueeze(-1).expand([t, b, n], true);
            let w = batch_weights(&taken_next, &next_mask, c.alpha);
            let expected = (log_pi.exp() * &q_next).sum_dim_intlist(-1, false, Kind::Float).narrow(0, 1, t);
            // In-sample where the episode goes on, the policy's
            // expectation after its last step.
            let next = &next_mask * &w * &taken_next + (next_mask.ones_like() - &next_mask) * expected;
            let continues = batch.terminated.ones_like().g_sub(&batch.terminated).unsqueeze(-1);
            Ok(&reward + c.gamma * continues * next)
        })?;
        let q = unroll_episodes(&self.critic, batch).narrow(0, 0, t); // [T, B, n, A]
        let q_taken = q.gather(-1, &actions.narrow(0, 0, t), false).squeeze_dim(-1);
        let critic_loss = masked_mean(&(&q_taken - &y).square(), &mask);
        descend(&mut self.critic_opt, &critic_loss, c.grad_clip)?;
        self.target.follow(&self.critic_vs)?;

        // Actor: advantage-weighted log-likelihood of the dataset's actions.
        let log_pi = log_pi.narrow(0, 0, t);
        let (weights, advantage) = tch::no_grad(|| {
            let q = unroll_episodes(&self.critic, batch).narrow(0, 0, t);
            let q_taken = q.gather(-1, &actions.narrow(0, 0, t), false).squeeze_dim(-1);
            let baseline = (log_pi.exp() * &q).sum_dim_intlist(-1, false, Kind::Float);
            let advantage = &q_taken - baseline;
            (batch_weights(&advantage, &mask, c.beta), advantage)
        });
        let taken = log_pi.gather(-1, &actions.narrow(0, 0, t), false).squeeze_dim(-1);
        let actor_loss = -masked_mean(&(&weights * &taken), &mask);
        descend(&mut self.actor_opt, &actor_loss, c.grad_clip)?;
        stats.extend([
            ("critic_loss", scalar(&critic_loss)),
            ("actor_loss", scalar(&actor_loss)),
            ("advantage_mean", scalar(&masked_mean(&advantage, &mask))),
            ("q_taken_mean", scalar(&masked_mean(&q_taken.detach(), &mask))),
            ("weight_max", scalar(&weights.max())),
        ]);
        Ok(stats)
    }

    fn var_stores(&self) -> Vec<(&'static str, &nn::VarStore)> {
        let mut stores = vec![(CRITIC_CHECKPOINT, &self.critic_vs), (TARGET_CHECKPOINT, self.target.var_store())];
        stores.extend(self.rewards.var_stores());
        stores
    }

    fn var_stores_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        let mut stores =
            vec![(CRITIC_CHECKPOINT, &mut self.critic_vs), (TARGET_CHECKPOINT, self.target.var_store_mut())];
        stores.extend(self.rewards.var_stores_mut());
        stores
    }

    fn optimizers_mut(&mut self) -> Vec<&mut Optimizer> {
        vec![&mut self.actor_opt, &mut self.critic_opt]
    }

    fn save_state(&self, state: &mut TrainingState) {
        self.actor_opt.save_state("actor_optimizer", state);
        self.critic_opt.save_state("critic_optimizer", state);
        self.target.save_state("target", state);
        self.rewards.save_state(state);
    }

    fn load_state(&mut self, state: &TrainingState) -> Result<()> {
        self.actor_opt.load_state("actor_optimizer", state)?;
        self.critic_opt.load_state("critic_optimizer", state)?;
        self.target.load_state("target", state)?;
        self.rewards.load_state(state)
    }

    offline_reward_hooks!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_weights_are_a_softmax_over_valid_entries_with_mean_one() {
        let x = Tensor::from_slice(&[0.0f32, 0.1, 5.0, -0.1]);
        let mask = Tensor::from_slice(&[1.0f32, 1.0, 0.0, 1.0]);
        let w = Vec::<f32>::try_from(batch_weights(&x, &mask, 0.1)).unwrap();
        assert_eq!(w[2], 0.0, "padding gets no weight");
        assert!((w[0] + w[1] + w[3] - 3.0).abs() < 1e-5, "mean 1 over valid entries: {w:?}");
        let e = [0f32, 1.0, -1.0].map(f32::exp);
        let z: f32 = e.iter().sum();
        assert!((w[1] - 3.0 * e[1] / z).abs() < 1e-5, "{w:?}");
        let flat = Vec::<f32>::try_from(batch_weights(&x, &mask, 1e6)).unwrap();
        assert!(flat.iter().zip([1.0, 1.0, 0.0, 1.0]).all(|(a, b)| (a - b).abs() < 1e-4), "{flat:?}");
    }
}
