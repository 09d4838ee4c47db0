//! Behaviour cloning's configuration table `[bc]` (docs/algorithms.md,
//! "Offline learners").

use serde::{Deserialize, Serialize};

use super::Bc;
use crate::config::{check, positive};
use crate::learner::registry::{BatchSource, BuildContext, LearnerConfig};
use crate::learner::Learner;
use crate::Result;

/// Behaviour-cloning hyperparameters (OG-MARL's and OffPyMARL's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BcConfig {
    /// Adam learning rate.
    pub lr: f64,
    /// Adam epsilon.
    pub adam_eps: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
}

impl Default for BcConfig {
    fn default() -> Self {
        Self { lr: 3e-4, adam_eps: 1e-5, grad_clip: 10.0 }
    }
}

impl LearnerConfig for BcConfig {
    const NAME: &'static str = "bc";
    const SUMMARY: &'static str = "Behaviour cloning of a dataset's actions (offline; the baseline of OG-MARL)";
    const SOURCE: BatchSource = BatchSource::Dataset;

    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>> {
        Ok(Box::new(Bc::new(self, ctx.actor_vs)?))
    }

    fn validate(&self, _batch_episodes: usize) -> Result<()> {
        positive("bc.lr", self.lr)?;
        positive("bc.adam_eps", self.adam_eps)?;
        check(self.grad_clip > 0.0, "bc.grad_clip", "positive", self.grad_clip)
    }
}
