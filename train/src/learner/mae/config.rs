//! MAE's configuration table `[mae]` (docs/algorithms.md section 6).

use serde::{Deserialize, Serialize};

use super::Mae;
use crate::config::{check, positive, unit};
use crate::learner::registry::{BuildContext, LearnerConfig};
use crate::learner::Learner;
use crate::Result;

/// MAE hyperparameters (docs/algorithms.md section 6; the paper's MPE
/// defaults). Epochs, minibatches and the entropy bonus are not published:
/// ours, documented in train/src/learner/mae/mod.rs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaeConfig {
    /// Actor learning rate (Adam).
    pub lr_actor: f64,
    /// Critic learning rate (Adam).
    pub lr_critic: f64,
    /// Discount factor.
    pub gamma: f64,
    /// TD(lambda) trace parameter of the critic's targets.
    pub td_lambda: f64,
    /// Hidden width of the critic's two layers (COMA's critic).
    pub critic_hidden: usize,
    /// Hard copy to the target critic every this many critic updates.
    pub target_update_interval: usize,
    /// Sampled partner joint actions per marginal advantage (m).
    pub samples: usize,
    /// PPO ratio clip of the per-agent update.
    pub clip: f64,
    /// Passes of the actor over each batch.
    pub epochs: usize,
    /// Minibatches per pass (episodes are split between them).
    pub minibatches: usize,
    /// Draw each pass's minibatches from a fresh permutation of the
    /// episodes (JaxMARL's MAPPO); off, the same contiguous splits.
    pub shuffle_minibatches: bool,
    /// Entropy bonus coefficient (plain `-beta H`).
    pub entropy_coef: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Standardise the marginal advantages over the batch's valid entries
    /// before the PPO update, as MAPPO and MACA do (ours; off, as the
    /// paper describes none).
    pub advantage_norm: bool,
}

impl Default for MaeConfig {
    fn default() -> Self {
        Self {
            lr_actor: 5e-5,
            lr_critic: 5e-4,
            gamma: 0.98,
            td_lambda: 0.8,
            critic_hidden: 128,
            target_update_interval: 200,
            samples: 10,
            clip: 0.1,
            epochs: 4,
            minibatches: 1,
            shuffle_minibatches: false,
            entropy_coef: 0.0,
            grad_clip: 10.0,
            advantage_norm: false,
        }
    }
}

impl LearnerConfig for MaeConfig {
    const NAME: &'static str = "mae";
    const SUMMARY: &'static str = "Marginal advantage estimation over sampled partner actions";

    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>> {
        Ok(Box::new(Mae::new(self, ctx.actor_vs, ctx.dims, ctx.device)?))
    }

    fn validate(&self, batch_episodes: usize) -> Result<()> {
        positive("mae.lr_actor", self.lr_actor)?;
        positive("mae.lr_critic", self.lr_critic)?;
        positive("mae.clip", self.clip)?;
        positive("mae.grad_clip", self.grad_clip)?;
        unit("mae.gamma", self.gamma)?;
        unit("mae.td_lambda", self.td_lambda)?;
        check(self.entropy_coef >= 0.0, "mae.entropy_coef", "at least 0", self.entropy_coef)?;
        check(self.critic_hidden >= 1, "mae.critic_hidden", "at least 1", self.critic_hidden)?;
        check(
            self.target_update_interval >= 1,
            "mae.target_update_interval",
            "at least 1",
            self.target_update_interval,
        )?;
        check(self.samples >= 1, "mae.samples", "at least 1", self.samples)?;
        check(self.epochs >= 1, "mae.epochs", "at least 1", self.epochs)?;
        check(
            (1..=batch_episodes).contains(&self.minibatches),
            "mae.minibatches",
            "between 1 and batch_episodes",
            self.minibatches,
        )
    }
}
