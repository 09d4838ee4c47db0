//! Independent discrete CQL (Kumar et al., NeurIPS 2020, as OG-MARL runs it
//! for discrete actions): the shared GRU network is a per-agent Q-network
//! (its outputs are Q-values over the agent's actions), trained from a
//! dataset by a TD loss on each agent's reward plus the conservative term
//! `alpha (logsumexp_a Q(tau, a) - Q(tau, u))` that keeps Q low on actions
//! the dataset never took. The deployed policy is the softmax of the
//! Q-values (a Boltzmann policy at temperature 1; greedy evaluation takes
//! its most probable action, the greedy policy over Q), so export, agent
//! and hil run it as any actor (docs/algorithms.md, "Offline learners").

mod config;

pub use config::CqlConfig;

use std::collections::HashMap;

use tch::{nn, Tensor};

use crate::actor::{Actor, UNAVAILABLE_LOGIT};
use crate::buffer::EpisodeBatch;
use crate::critic::target::{TargetNetwork, TargetUpdate, TARGET_CHECKPOINT};
use crate::learner::offline::{unroll_episodes, OfflineRewards};
use crate::learner::registry::BuildContext;
use crate::learner::{masked_mean, scalar, Learner, UpdateStats};
use crate::optim::{descend, Optimizer, Rule};
use crate::state::TrainingState;
use crate::Result;

/// Independent CQL on the shared actor network.
pub struct Cql {
    cfg: CqlConfig,
    rewards: OfflineRewards,
    opt: Optimizer,
    /// The actor's variables (shallow copies: they read its current values).
    online: HashMap<String, Tensor>,
    target: TargetNetwork<Actor>,
}

impl Cql {
    /// CQL training the network in `ctx.actor_vs` as a Q-network.
    pub fn new(cfg: &CqlConfig, ctx: &BuildContext<'_>) -> Result<Self> {
        let (spec, options) = (ctx.actor, ctx.actor_options);
        let update = TargetUpdate::interval_or_tau(cfg.target_update);
        Ok(Self {
            cfg: cfg.clone(),
            rewards: OfflineRewards::new(ctx.offline, ctx.dims, ctx.device)?,
            opt: Optimizer::new(ctx.actor_vs, Rule::adam(cfg.adam_eps), cfg.lr)?,
            online: ctx.actor_vs.variables(),
            target: TargetNetwork::new(ctx.actor_vs, |p| Actor::new(p, spec, options), update)?,
        })
    }
}

/// Q-values with unavailable actions pushed far below every available one.
fn available(q: &Tensor, avail: &Tensor) -> Tensor {
    q.masked_fill(&avail.eq(0.0), UNAVAILABLE_LOGIT)
}

impl Learner for Cql {
    fn name(&self) -> &'static str {
        "cql"
    }

    fn update(&mut self, actor: &Actor, batch: &EpisodeBatch, _env_steps: u64) -> Result<UpdateStats> {
        let (reward, mut stats) = self.rewards.per_agent(batch)?; // [T, B, n]
        let c = &self.cfg;
        let t = batch.max_len();
        let size = batch.actions.size();
        let (b, n) = (size[1], size[2]);
        let q = unroll_episodes(actor, batch); // [T+1, B, n, A]
        let avail = &batch.avail;
        let actions = batch.actions.narrow(0, 0, t).unsqueeze(-1);
        let q_taken = q.narrow(0, 0, t).gather(-1, &actions, false).squeeze_dim(-1); // [T, B, n]
        let target = tch::no_grad(|| -> Result<Tensor> {
            let q_next = available(&unroll_episodes(&self.target.net, batch).narrow(0, 1, t), &avail.narrow(0, 1, t));
            let next = if c.double_q {
                let best = available(&q.detach().narrow(0, 1, t), &avail.narrow(0, 1, t)).argmax(-1, true);
                q_next.gather(-1, &best, false).squeeze_dim(-1)
            } else {
                q_next.amax([-1].as_slice(), false)
            };
            let continues = batch.terminated.ones_like().g_sub(&batch.terminated).unsqueeze(-1);
            Ok(&reward + c.gamma * continues * next)
        })?;
        let mask = batch.mask.narrow(0, 0, t).unsqueeze(-1).expand([t, b, n], true);
        let td = masked_mean(&(&q_taken - &target).square(), &mask);
        let q_now = available(&q.narrow(0, 0, t), &avail.narrow(0, 0, t));
        let conservative = masked_mean(&(q_now.logsumexp([-1].as_slice(), false) - &q_taken), &mask);
        let loss = &td + c.alpha * &conservative;
        descend(&mut self.opt, &loss, c.grad_clip)?;
        self.target.follow_variables(&self.online)?;
        let q_mean = tch::no_grad(|| masked_mean(&q_taken, &mask));
        stats.extend([
            ("td_loss", scalar(&td)),
            ("cql_loss", scalar(&conservative)),
            ("q_taken_mean", scalar(&q_mean)),
            ("target_mean", scalar(&masked_mean(&target, &mask))),
        ]);
        Ok(stats)
    }

    fn var_stores(&self) -> Vec<(&'static str, &nn::VarStore)> {
        let mut stores = vec![(TARGET_CHECKPOINT, self.target.var_store())];
        stores.extend(self.rewards.var_stores());
        stores
    }

    fn var_stores_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        let mut stores = vec![(TARGET_CHECKPOINT, self.target.var_store_mut())];
        stores.extend(self.rewards.var_stores_mut());
        stores
    }

    fn optimizers_mut(&mut self) -> Vec<&mut Optimizer> {
        vec![&mut self.opt]
    }

    fn save_state(&self, state: &mut TrainingState) {
        self.opt.save_state("q_optimizer", state);
        self.target.save_state("target", state);
        self.rewards.save_state(state);
    }

    fn load_state(&mut self, state: &TrainingState) -> Result<()> {
        self.opt.load_state("q_optimizer", state)?;
        self.target.load_state("target", state)?;
        self.rewards.load_state(state)
    }

    offline_reward_hooks!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_actions_neither_bootstrap_nor_enter_the_conservative_term() {
        let q = Tensor::from_slice(&[1.0f32, 5.0, 2.0]).view([1, 3]);
        let avail = Tensor::from_slice(&[1.0f32, 0.0, 1.0]).view([1, 3]);
        let masked = available(&q, &avail);
        assert_eq!(masked.argmax(-1, false).int64_value(&[0]), 2);
        let lse = masked.logsumexp([-1].as_slice(), false).double_value(&[0]);
        let want = (1f64.exp() + 2f64.exp()).ln();
        assert!((lse - want).abs() < 1e-5, "{lse} vs {want}");
    }
}
