//! MACCA's settings, `[offline.macca]` (docs/algorithms.md section 7.4).

use serde::{Deserialize, Serialize};

use crate::config::{check, positive};
use crate::Result;

/// The form of the causal masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskForm {
    /// One learnable vector per agent (the authors' code).
    #[default]
    Static,
    /// Predicted from each input by a network with sigmoid outputs (the
    /// paper).
    Dynamic,
}

/// MACCA's reward model and its training schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaccaConfig {
    /// Static vectors or a dynamic predictor.
    pub masks: MaskForm,
    /// A dimension is causal when its mask exceeds this; unset, 0.1 for
    /// static masks and 0.5 for dynamic ones (the paper's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Weight of the masks' L1 penalty.
    pub lambda1: f64,
    /// Adam learning rate. At 1e-3 the unused dimensions' static masks had
    /// only fallen to 0.3-0.5 after 3000 steps on the synthetic task of
    /// the tests (above the 0.1 threshold); at 1e-2 they reach 0 while the
    /// causal ones stay near 1.
    pub lr: f64,
    /// Give the reward predictor each agent's id (the paper): agents may
    /// earn by different rules. Off, one rule reads every agent's own
    /// inputs, so agents that are alike are credited alike.
    pub agent_id: bool,
    /// Width of the reward predictor's hidden layers.
    pub hidden: usize,
    /// Hidden layers of the reward predictor (the authors' code: 4 x 64).
    pub layers: usize,
    /// Width of the dynamic mask networks' two hidden layers.
    pub mask_hidden: usize,
    /// Reward-model updates on the dataset before the policy's first
    /// update; afterwards it takes one step per policy update.
    pub pretrain_updates: usize,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
}

impl Default for MaccaConfig {
    fn default() -> Self {
        Self {
            masks: MaskForm::Static,
            threshold: None,
            lambda1: 0.007,
            agent_id: true,
            lr: 1e-2,
            hidden: 64,
            layers: 4,
            mask_hidden: 256,
            pretrain_updates: 2000,
            grad_clip: 10.0,
        }
    }
}

impl MaccaConfig {
    /// The threshold in force.
    pub fn threshold(&self) -> f64 {
        self.threshold.unwrap_or(match self.masks {
            MaskForm::Static => 0.1,
            MaskForm::Dynamic => 0.5,
        })
    }

    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        positive("offline.macca.lr", self.lr)?;
        positive("offline.macca.grad_clip", self.grad_clip)?;
        check(self.lambda1 >= 0.0, "offline.macca.lambda1", "at least 0", self.lambda1)?;
        check(self.hidden >= 1, "offline.macca.hidden", "at least 1", self.hidden)?;
        check(self.layers >= 1, "offline.macca.layers", "at least 1", self.layers)?;
        check(self.mask_hidden >= 1, "offline.macca.mask_hidden", "at least 1", self.mask_hidden)?;
        if let Some(h) = self.threshold {
            check(h > 0.0 && h.is_finite(), "offline.macca.threshold", "a positive number", h)?;
        }
        Ok(())
    }
}
