//! SeCA's configuration table `[seca]` (docs/algorithms.md section 4).

use serde::{Deserialize, Serialize};

use super::Seca;
use crate::config::{check, positive};
use crate::critic::MixingCriticConfig;
use crate::learner::registry::{BuildContext, LearnerConfig};
use crate::learner::EntropyMode;
use crate::learner::Learner;
use crate::Result;

/// How SeCA orders the agents of an episode (docs/algorithms.md section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecaOrdering {
    /// By integrated gradients of the critic along the episode's policy
    /// path, largest contribution first (the method).
    IntegratedGradients,
    /// Agent 0, 1, .., n-1 (ablation).
    Fixed,
    /// Highest mean probability of the taken action first (ablation).
    MostConfident,
    /// Lowest mean policy entropy first (ablation).
    LowestEntropy,
}

/// Which way SeCA's integrated-gradients path steps between consecutive
/// policy vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathDirection {
    /// `pi_(j+1) - pi_j`, as the paper writes it (the default).
    Paper,
    /// `pi_j - pi_(j+1)`, as the authors' code computes it (reverses the
    /// order).
    Code,
}

/// SeCA hyperparameters (docs/algorithms.md section 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecaConfig {
    /// Actor learning rate (Adam).
    pub lr_actor: f64,
    /// How the entropy bonus enters the actor loss.
    pub entropy: EntropyMode,
    /// xi of the adaptive bonus (beta when `entropy = "vanilla"`).
    pub entropy_coef: f64,
    /// How agents are ordered for the sequential advantage.
    pub ordering: SecaOrdering,
    /// Interpolation points between consecutive steps of the
    /// integrated-gradients path.
    pub ig_points: usize,
    /// Step direction of the integrated-gradients path.
    pub ig_direction: PathDirection,
    /// Global gradient-norm clip of the actor.
    pub grad_clip: f64,
    /// The mixing critic f_phi.
    pub critic: MixingCriticConfig,
}

impl Default for SecaConfig {
    fn default() -> Self {
        Self {
            lr_actor: 2.5e-3,
            entropy: EntropyMode::Adaptive,
            entropy_coef: 0.005,
            ordering: SecaOrdering::IntegratedGradients,
            ig_points: 5,
            ig_direction: PathDirection::Paper,
            grad_clip: 10.0,
            critic: MixingCriticConfig::default(),
        }
    }
}

impl LearnerConfig for SecaConfig {
    const NAME: &'static str = "seca";
    const SUMMARY: &'static str = "Sequential credit assignment ordered by integrated gradients";

    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>> {
        Ok(Box::new(Seca::new(self, ctx.actor_vs, ctx.dims, ctx.device)?))
    }

    fn validate(&self, _batch_episodes: usize) -> Result<()> {
        positive("seca.lr_actor", self.lr_actor)?;
        positive("seca.grad_clip", self.grad_clip)?;
        check(self.entropy_coef >= 0.0, "seca.entropy_coef", "at least 0", self.entropy_coef)?;
        check(self.ig_points >= 1, "seca.ig_points", "at least 1", self.ig_points)?;
        self.critic.validate("seca")
    }
}
