//! What MAPPO's and MACA's critics regress on and see: value targets scaled
//! by a running [`ValueNorm`] (when configured) and read back in reward
//! units, and the time step appended to the critic's input (when
//! configured; see [`with_time`]).

use tch::{nn, Tensor};

use super::ppo::with_time;
use super::ValueNorm;

/// Value-target scaling and the critic's time feature of a PPO learner.
#[derive(Debug)]
pub(crate) struct ValueTargets {
    norm: ValueNorm,
    normalise: bool,
    /// The episode limit the time step is divided by, when the critic sees it.
    time_limit: Option<usize>,
}

impl ValueTargets {
    /// Registers the normaliser's statistics under `root / "value_norm"`
    /// (always, so checkpoints have the same variables either way);
    /// `normalise` switches it on, `time_feature` appends `t / episode_limit`.
    pub fn new(root: &nn::Path, normalise: bool, time_feature: bool, episode_limit: usize) -> Self {
        Self {
            norm: ValueNorm::new(&(root / "value_norm")),
            normalise,
            time_limit: time_feature.then_some(episode_limit),
        }
    }

    /// The critic's input from `x` `[T+1, B, .., F]` (row 0 being episode
    /// step `first_step`): with the time step as feature `F` when configured.
    pub fn input(&self, x: &Tensor, first_step: i64) -> Tensor {
        match self.time_limit {
            Some(limit) => with_time(x, limit, first_step),
            None => x.shallow_clone(),
        }
    }

    /// Critic outputs `v` in reward units.
    pub fn denormalize(&self, v: &Tensor) -> Tensor {
        if self.normalise {
            self.norm.denormalize(v)
        } else {
            v.shallow_clone()
        }
    }

    /// Folds `returns` (reward units, valid where `mask` is 1) into the
    /// normaliser and gives what the critic regresses on.
    pub fn fit(&mut self, returns: &Tensor, mask: &Tensor) -> Tensor {
        if !self.normalise {
            return returns.shallow_clone();
        }
        self.norm.update(returns, mask);
        self.norm.normalize(returns)
    }
}
