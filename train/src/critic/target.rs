//! Target networks: a frozen copy of a critic that bootstrap values come
//! from, following the critic by hard copies or soft (Polyak) steps. Every
//! learner with a target keeps it here and checkpoints it under one name,
//! [`TARGET_CHECKPOINT`].

use std::collections::HashMap;

use tch::{nn, Tensor};

use crate::state::TrainingState;
use crate::Result;

/// The checkpoint file stem of every target network.
pub const TARGET_CHECKPOINT: &str = "target_critic";

/// Older checkpoint stems of target networks, read when
/// [`TARGET_CHECKPOINT`] is absent (MAPPO's n-step target once wrote
/// `critic_target`).
pub const LEGACY_TARGET_CHECKPOINTS: &[&str] = &["critic_target"];

/// How a target network follows its source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetUpdate {
    /// Copied whole after every `every`-th call of [`TargetNetwork::follow`].
    Hard {
        /// Calls between copies (at least 1).
        every: u64,
    },
    /// Moved `tau` of the way to the source at every call:
    /// `target <- (1 - tau) target + tau source`.
    Soft {
        /// Step fraction in (0, 1].
        tau: f64,
    },
}

impl TargetUpdate {
    /// EPyMARL's `target_update_interval_or_tau`: above 1, hard copies
    /// every that many calls; at most 1, soft steps of that fraction.
    pub fn interval_or_tau(x: f64) -> Self {
        if x > 1.0 {
            Self::Hard { every: x as u64 }
        } else {
            Self::Soft { tau: x }
        }
    }
}

/// A network `N` on its own frozen var store that follows a source store.
#[derive(Debug)]
pub struct TargetNetwork<N> {
    /// The target network (read it; never train it).
    pub net: N,
    vs: nn::VarStore,
    update: TargetUpdate,
    /// Calls of [`follow`](Self::follow) so far (the hard-copy schedule;
    /// part of a learner's resumable state).
    pub follows: u64,
}

impl<N> TargetNetwork<N> {
    /// Builds the network with `build` on a new store and copies `source`
    /// into it.
    pub fn new(source: &nn::VarStore, build: impl FnOnce(&nn::Path) -> N, update: TargetUpdate) -> Result<Self> {
        let mut vs = nn::VarStore::new(source.device());
        let net = build(&vs.root());
        vs.copy(source)?;
        vs.freeze();
        Ok(Self { net, vs, update, follows: 0 })
    }

    /// Moves the target towards `source` after one update of the source.
    pub fn follow(&mut self, source: &nn::VarStore) -> Result<()> {
        self.follow_variables(&source.variables())
    }

    /// [`follow`](Self::follow) for a source given by its variables (shallow
    /// copies of a store's tensors, which a learner that does not own the
    /// store keeps: they read the store's current values).
    pub fn follow_variables(&mut self, source: &HashMap<String, Tensor>) -> Result<()> {
        self.follows += 1;
        let tau = match self.update {
            TargetUpdate::Hard { every } if self.follows.is_multiple_of(every.max(1)) => 1.0,
            TargetUpdate::Hard { .. } => return Ok(()),
            TargetUpdate::Soft { tau } => tau,
        };
        tch::no_grad(|| {
            for (name, mut var) in self.vs.variables() {
                if let Some(src) = source.get(&name) {
                    if tau == 1.0 {
                        var.copy_(src);
                    } else {
                        var.copy_(&(&var * (1.0 - tau) + src * tau));
                    }
                }
            }
        });
        Ok(())
    }

    /// The target's parameters (for checkpoints).
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// The target's parameters, mutably (for loading a checkpoint).
    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    /// Saves the update schedule's counter as `prefix/follows` (the
    /// parameters go into the checkpoint's var stores).
    pub fn save_state(&self, prefix: &str, state: &mut TrainingState) {
        state.put_u64s(&format!("{prefix}/follows"), &[self.follows]);
    }

    /// Restores what [`save_state`](Self::save_state) saved.
    pub fn load_state(&mut self, prefix: &str, state: &TrainingState) -> Result<()> {
        self.follows = state.get_u64s(&format!("{prefix}/follows"), Some(1))?[0];
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(value: f64) -> nn::VarStore {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let w = vs.root().zeros("w", &[2]);
        tch::no_grad(|| {
            let _ = w.shallow_clone().fill_(value);
        });
        vs
    }

    fn first(vs: &nn::VarStore) -> f64 {
        vs.variables()["w"].double_value(&[0])
    }

    #[test]
    fn hard_targets_copy_every_interval_and_soft_ones_move_a_fraction() {
        let source = store(1.0);
        let mut hard = TargetNetwork::new(&source, |p| p.zeros("w", &[2]), TargetUpdate::Hard { every: 3 }).unwrap();
        assert_eq!(first(hard.var_store()), 1.0, "starts as a copy");
        let source = store(4.0);
        for _ in 0..2 {
            hard.follow(&source).unwrap();
            assert_eq!(first(hard.var_store()), 1.0, "no copy before the third call");
        }
        hard.follow(&source).unwrap();
        assert_eq!((first(hard.var_store()), hard.follows), (4.0, 3));

        let mut soft =
            TargetNetwork::new(&store(0.0), |p| p.zeros("w", &[2]), TargetUpdate::interval_or_tau(0.25)).unwrap();
        soft.follow(&store(1.0)).unwrap();
        assert!((first(soft.var_store()) - 0.25).abs() < 1e-7);
        assert_eq!(TargetUpdate::interval_or_tau(200.0), TargetUpdate::Hard { every: 200 });
    }
}
