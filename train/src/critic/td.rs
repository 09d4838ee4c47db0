//! A critic with a hard-copied target network, trained on TD(lambda)
//! targets (docs/algorithms.md section 0) as the COMA, LICA and SeCA reference
//! codes train theirs: one gradient step per time step, from an episode
//! batch's last step backwards. COMA, LICA, SeCA and MAE share it.

use tch::nn;
use tch::{Kind, Tensor};

use super::target::{TargetNetwork, TargetUpdate, TARGET_CHECKPOINT};
use crate::buffer::EpisodeBatch;
use crate::learner::returns::td_lambda_targets;
use crate::learner::{masked_mean, scalar};
use crate::optim::{descend, Optimizer, Rule};
use crate::state::TrainingState;
use crate::Result;

/// How a [`TdCritic`] learns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TdSettings {
    /// Discount factor.
    pub gamma: f64,
    /// TD(lambda) trace parameter.
    pub lambda: f64,
    /// Hard copy to the target every this many critic steps.
    pub target_update_interval: usize,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
}

/// A critic network `C`, its frozen target copy and their optimiser.
pub(crate) struct TdCritic<C> {
    /// The critic being trained.
    pub net: C,
    /// The target copy that supplies bootstrap values.
    pub target: TargetNetwork<C>,
    vs: nn::VarStore,
    opt: Optimizer,
    settings: TdSettings,
}

impl<C> TdCritic<C> {
    /// Builds the critic and its target with `build` (each on its own var
    /// store, the target a copy), optimised by `opt` at learning rate `lr`.
    pub fn new(
        device: tch::Device,
        build: impl Fn(&nn::Path) -> C,
        rule: Rule,
        lr: f64,
        settings: TdSettings,
    ) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let net = build(&vs.root());
        let every = settings.target_update_interval as u64;
        let target = TargetNetwork::new(&vs, &build, TargetUpdate::Hard { every })?;
        let opt = Optimizer::new(&vs, rule, lr)?;
        Ok(Self { net, target, vs, opt, settings })
    }

    /// TD(lambda) targets `[T, B, ..]` from the target network's values at
    /// the taken actions `g` `[T+1, B, ..]`.
    pub fn targets(&self, batch: &EpisodeBatch, g: &Tensor) -> Tensor {
        let s = self.settings;
        td_lambda_targets(&batch.reward, &batch.terminated, &batch.mask, g, s.gamma, s.lambda)
    }

    /// One squared-error step per time step, last step first. `q_at(net, t)`
    /// gives the critic's value of the taken actions at step `t`, shaped
    /// like `targets.get(t)` (`[B, ..]`). Returns the mean loss.
    pub fn train_backwards(
        &mut self,
        batch: &EpisodeBatch,
        targets: &Tensor,
        q_at: impl Fn(&C, i64) -> Tensor,
    ) -> Result<f64> {
        let mut losses = vec![];
        for t in (0..batch.max_len()).rev() {
            let m = batch.mask.get(t);
            if scalar(&m.sum(Kind::Float)) == 0.0 {
                continue;
            }
            let y = targets.get(t);
            let shape: Vec<i64> = std::iter::once(-1).chain(std::iter::repeat_n(1, y.dim() - 1)).collect();
            let m = m.view(shape.as_slice()); // [B, 1, ..] against y [B, ..]
            let loss = masked_mean(&(q_at(&self.net, t) - y).square(), &m);
            descend(&mut self.opt, &loss, self.settings.grad_clip)?;
            losses.push(scalar(&loss));
            self.target.follow(&self.vs)?;
        }
        Ok(crate::buffer::mean(&losses))
    }

    /// The critic's and the target's var stores, for checkpoints.
    pub fn var_stores(&self) -> Vec<(&'static str, &nn::VarStore)> {
        vec![("critic", &self.vs), (TARGET_CHECKPOINT, self.target.var_store())]
    }

    /// Mutable access to the same stores.
    pub fn var_stores_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        vec![("critic", &mut self.vs), (TARGET_CHECKPOINT, self.target.var_store_mut())]
    }

    /// The critic's optimiser (for the run's learning-rate schedule).
    pub fn optimizer_mut(&mut self) -> &mut Optimizer {
        &mut self.opt
    }

    /// Saves the optimiser's moments and the target's schedule.
    pub fn save_state(&self, state: &mut TrainingState) {
        self.opt.save_state("critic_optimizer", state);
        self.target.save_state(TARGET_CHECKPOINT, state);
    }

    /// Restores what [`save_state`](Self::save_state) saved.
    pub fn load_state(&mut self, state: &TrainingState) -> Result<()> {
        self.opt.load_state("critic_optimizer", state)?;
        self.target.load_state(TARGET_CHECKPOINT, state)
    }
}
