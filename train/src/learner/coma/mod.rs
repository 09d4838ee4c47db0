//! COMA: counterfactual multi-agent policy gradients (Foerster et al. 2018;
//! docs/algorithms.md section 1).
//!
//! The critic is trained as the reference code does: one gradient step per
//! time step, from the last step backwards, on TD(lambda) targets from a
//! target critic. The actor's advantages then come from the critic after
//! those steps, in one batched pass (the reference code reuses the Q-values
//! computed before each step's update; the difference is one critic step).

mod config;
pub use config::*;

use tch::nn;

use crate::actor::{entropy, epsilon_floor, masked_probs, Actor};
use crate::buffer::EpisodeBatch;
use crate::critic::td::{TdCritic, TdSettings};
use crate::critic::{coma_critic, coma_readout, counterfactual_advantage, train_coma_critic, ComaCritic, ComaInputs};
use crate::env::batch::Dims;
use crate::learner::{masked_mean, scalar, taken, unroll_episodes, CriticReadout, Learner, UpdateStats};
use crate::optim::{descend, Optimizer, Rule};
use crate::Result;

/// The COMA learner.
pub struct Coma {
    cfg: ComaConfig,
    n_actions: i64,
    critic: TdCritic<ComaCritic>,
    actor_opt: Optimizer,
}

impl Coma {
    /// A COMA learner for an actor whose parameters are `actor_vs`.
    pub fn new(cfg: &ComaConfig, actor_vs: &nn::VarStore, dims: Dims, device: tch::Device) -> Result<Self> {
        let rms = Rule::RmsProp { alpha: cfg.rms_alpha, eps: cfg.rms_eps };
        let settings = TdSettings {
            gamma: cfg.gamma,
            lambda: cfg.td_lambda,
            target_update_interval: cfg.target_update_interval,
            grad_clip: cfg.grad_clip,
        };
        Ok(Self {
            cfg: cfg.clone(),
            n_actions: dims.n_actions as i64,
            critic: coma_critic(dims, cfg.critic_hidden, device, rms, cfg.lr_critic, settings)?,
            actor_opt: Optimizer::new(actor_vs, rms, cfg.lr_actor)?,
        })
    }

    /// The exploration floor after `env_steps` steps (linear anneal).
    pub fn epsilon(&self, env_steps: u64) -> f64 {
        let c = &self.cfg;
        let frac = (env_steps as f64 / c.epsilon_anneal_steps.max(1) as f64).min(1.0);
        c.epsilon_start + frac * (c.epsilon_finish - c.epsilon_start)
    }
}

impl Learner for Coma {
    fn name(&self) -> &'static str {
        "coma"
    }

    fn exploration(&self, env_steps: u64) -> f64 {
        self.epsilon(env_steps)
    }

    fn update(&mut self, actor: &Actor, batch: &EpisodeBatch, env_steps: u64) -> Result<UpdateStats> {
        let features = ComaInputs::build(batch, self.n_actions);
        let critic_loss = train_coma_critic(&mut self.critic, batch, &features)?;

        let t = batch.max_len();
        let q = tch::no_grad(|| self.critic.net.forward(&features.narrow(0, 0, t))); // [T, B, n, A]
        let logits = unroll_episodes(actor, &batch.inputs.narrow(0, 0, t));
        let avail = batch.avail.narrow(0, 0, t);
        let pi = epsilon_floor(&masked_probs(&logits, &avail), &avail, self.epsilon(env_steps));
        let actions = batch.actions.narrow(0, 0, t);
        let advantage = counterfactual_advantage(&q, &pi, &actions).detach();
        // The exploration floor's mixture has no log_softmax form; it keeps
        // every available action at eps/|A| or more while eps > 0.
        let log_pi = taken(&pi, &actions).clamp_min(1e-10).log();
        let mask = batch.mask.narrow(0, 0, t).unsqueeze(-1); // [T, B, 1]
        let actor_loss = -masked_mean(&(&advantage * log_pi), &mask);
        descend(&mut self.actor_opt, &actor_loss, self.cfg.grad_clip)?;

        Ok(vec![
            ("critic_loss", critic_loss),
            ("actor_loss", scalar(&actor_loss)),
            ("advantage_mean", scalar(&masked_mean(&advantage, &mask))),
            ("q_taken_mean", scalar(&masked_mean(&taken(&q, &actions), &mask))),
            ("entropy", scalar(&masked_mean(&entropy(&pi.detach()), &mask))),
            ("epsilon", self.epsilon(env_steps)),
        ])
    }

    actor_and_td_critic_state!();

    fn critic_readout(&self, batch: &EpisodeBatch) -> Option<CriticReadout> {
        Some(coma_readout(&self.critic.net, batch, self.n_actions))
    }
}
