//! LICA's configuration table `[lica]` (docs/algorithms.md section 3).

use serde::{Deserialize, Serialize};

use super::Lica;
use crate::config::{check, positive};
use crate::critic::MixingCriticConfig;
use crate::learner::registry::{BuildContext, LearnerConfig};
use crate::learner::EntropyMode;
use crate::learner::Learner;
use crate::Result;

/// LICA hyperparameters (docs/algorithms.md section 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LicaConfig {
    /// Actor learning rate (Adam).
    pub lr_actor: f64,
    /// How the entropy bonus enters the actor loss.
    pub entropy: EntropyMode,
    /// xi of the adaptive bonus (beta when `entropy = "vanilla"`).
    pub entropy_coef: f64,
    /// Feed the critic Gumbel-softmax samples instead of the probability
    /// vectors (the paper's ablation; it found probability vectors better).
    pub gumbel_softmax: bool,
    /// Temperature of the Gumbel-softmax samples.
    pub gumbel_tau: f64,
    /// Global gradient-norm clip of the actor.
    pub grad_clip: f64,
    /// The mixing critic.
    pub critic: MixingCriticConfig,
}

impl Default for LicaConfig {
    fn default() -> Self {
        Self {
            lr_actor: 2.5e-3,
            entropy: EntropyMode::Adaptive,
            entropy_coef: 0.06,
            gumbel_softmax: false,
            gumbel_tau: 1.0,
            grad_clip: 10.0,
            critic: MixingCriticConfig::default(),
        }
    }
}

impl LearnerConfig for LicaConfig {
    const NAME: &'static str = "lica";
    const SUMMARY: &'static str =
        "Learning implicit credit assignment through a mixing critic (Zhou, Liu et al., NeurIPS 2020)";

    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>> {
        Ok(Box::new(Lica::new(self, ctx.actor_vs, ctx.dims, ctx.device)?))
    }

    fn validate(&self, _batch_episodes: usize) -> Result<()> {
        positive("lica.lr_actor", self.lr_actor)?;
        positive("lica.gumbel_tau", self.gumbel_tau)?;
        positive("lica.grad_clip", self.grad_clip)?;
        check(self.entropy_coef >= 0.0, "lica.entropy_coef", "at least 0", self.entropy_coef)?;
        self.critic.validate("lica")
    }
}
