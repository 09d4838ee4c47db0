//! Independent CQL's configuration table `[cql]` (docs/algorithms.md,
//! "Offline learners").

use serde::{Deserialize, Serialize};

use super::Cql;
use crate::config::{check, positive, target_update, unit};
use crate::learner::registry::{ActorOutputs, BatchSource, BuildContext, LearnerConfig};
use crate::learner::Learner;
use crate::Result;

/// Independent discrete CQL hyperparameters (OG-MARL's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CqlConfig {
    /// Adam learning rate.
    pub lr: f64,
    /// Adam epsilon.
    pub adam_eps: f64,
    /// Discount factor.
    pub gamma: f64,
    /// Weight of the conservative term `logsumexp Q - Q(taken)`.
    pub alpha: f64,
    /// Bootstrap with the online network's best next action valued by the
    /// target network (double Q), instead of the target's own maximum.
    pub double_q: bool,
    /// How the target network follows (EPyMARL's convention): above 1, a
    /// copy every that many updates; at most 1, that fraction after every
    /// update.
    pub target_update: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
}

impl Default for CqlConfig {
    fn default() -> Self {
        Self {
            lr: 3e-4,
            adam_eps: 1e-5,
            gamma: 0.99,
            alpha: 2.0,
            double_q: true,
            target_update: 0.005,
            grad_clip: 10.0,
        }
    }
}

impl LearnerConfig for CqlConfig {
    const NAME: &'static str = "cql";
    const SUMMARY: &'static str =
        "Independent conservative Q-learning on a recurrent Q-network (offline; Kumar et al., NeurIPS 2020)";
    const SOURCE: BatchSource = BatchSource::Dataset;
    const OUTPUTS: ActorOutputs = ActorOutputs::QValues;

    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>> {
        Ok(Box::new(Cql::new(self, &ctx)?))
    }

    fn validate(&self, _batch_episodes: usize) -> Result<()> {
        positive("cql.lr", self.lr)?;
        positive("cql.adam_eps", self.adam_eps)?;
        positive("cql.grad_clip", self.grad_clip)?;
        unit("cql.gamma", self.gamma)?;
        check(self.alpha >= 0.0, "cql.alpha", "at least 0", self.alpha)?;
        target_update("cql.target_update", self.target_update)
    }
}
