//! ICQ's configuration table `[icq]` (docs/algorithms.md, "Offline
//! learners").

use serde::{Deserialize, Serialize};

use super::Icq;
use crate::config::{positive, target_update, unit};
use crate::learner::registry::{BatchSource, BuildContext, LearnerConfig};
use crate::learner::Learner;
use crate::Result;

/// Implicit constraint Q-learning hyperparameters (Yang et al. 2021).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IcqConfig {
    /// Adam learning rate of the actor.
    pub lr_actor: f64,
    /// Adam learning rate of the critic.
    pub lr_critic: f64,
    /// Adam epsilon.
    pub adam_eps: f64,
    /// Discount factor.
    pub gamma: f64,
    /// Temperature of the actor's advantage weights `softmax(A / beta)`.
    pub beta: f64,
    /// Temperature of the critic's importance weights `softmax(Q / alpha)`.
    pub alpha: f64,
    /// How the target critic follows (above 1: a copy every that many
    /// updates; at most 1: that fraction after every update).
    pub target_update: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
}

impl Default for IcqConfig {
    fn default() -> Self {
        Self {
            lr_actor: 5e-4,
            lr_critic: 1e-4,
            adam_eps: 1e-5,
            gamma: 0.99,
            beta: 0.1,
            alpha: 1000.0,
            target_update: 0.005,
            grad_clip: 10.0,
        }
    }
}

impl LearnerConfig for IcqConfig {
    const NAME: &'static str = "icq";
    const SUMMARY: &'static str =
        "Implicit constraint Q-learning, in-dataset actions only (offline; Yang et al., NeurIPS 2021)";
    const SOURCE: BatchSource = BatchSource::Dataset;

    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>> {
        Ok(Box::new(Icq::new(self, &ctx)?))
    }

    fn validate(&self, _batch_episodes: usize) -> Result<()> {
        positive("icq.lr_actor", self.lr_actor)?;
        positive("icq.lr_critic", self.lr_critic)?;
        positive("icq.adam_eps", self.adam_eps)?;
        positive("icq.beta", self.beta)?;
        positive("icq.alpha", self.alpha)?;
        positive("icq.grad_clip", self.grad_clip)?;
        unit("icq.gamma", self.gamma)?;
        target_update("icq.target_update", self.target_update)
    }
}
