//! COMA's configuration table `[coma]` (docs/algorithms.md section 1).

use serde::{Deserialize, Serialize};

use super::Coma;
use crate::config::{check, positive, unit};
use crate::learner::registry::{BuildContext, LearnerConfig};
use crate::learner::Learner;
use crate::Result;

/// COMA hyperparameters (docs/algorithms.md section 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComaConfig {
    /// Actor learning rate (RMSprop).
    pub lr_actor: f64,
    /// Critic learning rate (RMSprop).
    pub lr_critic: f64,
    /// RMSprop smoothing constant.
    pub rms_alpha: f64,
    /// RMSprop epsilon.
    pub rms_eps: f64,
    /// Discount factor.
    pub gamma: f64,
    /// TD(lambda) trace parameter.
    pub td_lambda: f64,
    /// Hidden width of the critic's two layers.
    pub critic_hidden: usize,
    /// Hard copy to the target critic every this many critic updates.
    pub target_update_interval: usize,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Exploration floor at the start of training.
    pub epsilon_start: f64,
    /// Exploration floor after annealing.
    pub epsilon_finish: f64,
    /// Environment steps over which the floor anneals linearly.
    pub epsilon_anneal_steps: u64,
}

impl Default for ComaConfig {
    fn default() -> Self {
        Self {
            lr_actor: 5e-4,
            lr_critic: 5e-4,
            rms_alpha: 0.99,
            rms_eps: 1e-5,
            gamma: 0.99,
            td_lambda: 0.8,
            critic_hidden: 128,
            target_update_interval: 200,
            grad_clip: 10.0,
            epsilon_start: 0.5,
            epsilon_finish: 0.01,
            epsilon_anneal_steps: 100_000,
        }
    }
}

impl LearnerConfig for ComaConfig {
    const NAME: &'static str = "coma";
    const SUMMARY: &'static str = "Counterfactual multi-agent policy gradients (Foerster et al., AAAI 2018)";

    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>> {
        Ok(Box::new(Coma::new(self, ctx.actor_vs, ctx.dims, ctx.device)?))
    }

    fn validate(&self, _batch_episodes: usize) -> Result<()> {
        let c = self;
        positive("coma.lr_actor", c.lr_actor)?;
        positive("coma.lr_critic", c.lr_critic)?;
        positive("coma.rms_eps", c.rms_eps)?;
        positive("coma.grad_clip", c.grad_clip)?;
        unit("coma.rms_alpha", c.rms_alpha)?;
        unit("coma.gamma", c.gamma)?;
        unit("coma.td_lambda", c.td_lambda)?;
        unit("coma.epsilon_start", c.epsilon_start)?;
        unit("coma.epsilon_finish", c.epsilon_finish)?;
        check(c.critic_hidden >= 1, "coma.critic_hidden", "at least 1", c.critic_hidden)?;
        check(c.target_update_interval >= 1, "coma.target_update_interval", "at least 1", c.target_update_interval)?;
        Ok(())
    }
}
