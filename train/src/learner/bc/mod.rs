//! Behaviour cloning (BC): the shared actor learns to give the dataset's
//! actions the highest probability, by cross-entropy masked by
//! availability. It reads nothing but observations and actions, so it
//! reproduces the dataset's behaviour, good or bad: the floor every offline
//! learner must clear (docs/algorithms.md, "Offline learners").

mod config;

pub use config::BcConfig;

use tch::{nn, Kind};

use crate::actor::{entropy_of_log_probs, masked_log_probs, Actor};
use crate::buffer::EpisodeBatch;
use crate::learner::offline::unroll_episodes;
use crate::learner::{masked_mean, scalar, Learner, UpdateStats};
use crate::optim::{descend, Optimizer, Rule};
use crate::state::TrainingState;
use crate::Result;

/// Behaviour cloning of the shared actor.
pub struct Bc {
    cfg: BcConfig,
    actor_opt: Optimizer,
}

impl Bc {
    /// BC optimising the actor whose parameters live in `actor_vs`.
    pub fn new(cfg: &BcConfig, actor_vs: &nn::VarStore) -> Result<Self> {
        Ok(Self { cfg: cfg.clone(), actor_opt: Optimizer::new(actor_vs, Rule::adam(cfg.adam_eps), cfg.lr)? })
    }
}

impl Learner for Bc {
    fn name(&self) -> &'static str {
        "bc"
    }

    fn update(&mut self, actor: &Actor, batch: &EpisodeBatch, _env_steps: u64) -> Result<UpdateStats> {
        let t = batch.max_len();
        let size = batch.actions.size();
        let (b, n) = (size[1], size[2]);
        let log_p = masked_log_probs(&unroll_episodes(actor, batch).narrow(0, 0, t), &batch.avail.narrow(0, 0, t));
        let actions = batch.actions.narrow(0, 0, t);
        let taken = log_p.gather(-1, &actions.unsqueeze(-1), false).squeeze_dim(-1); // [T, B, n]
        let mask = batch.mask.narrow(0, 0, t).unsqueeze(-1).expand([t, b, n], true);
        let loss = -masked_mean(&taken, &mask);
        descend(&mut self.actor_opt, &loss, self.cfg.grad_clip)?;
        let (entropy, accuracy) = tch::no_grad(|| {
            let agree = log_p.argmax(-1, false).eq_tensor(&actions).to_kind(Kind::Float);
            (masked_mean(&entropy_of_log_probs(&log_p), &mask), masked_mean(&agree, &mask))
        });
        Ok(vec![("bc_loss", scalar(&loss)), ("entropy", scalar(&entropy)), ("action_accuracy", scalar(&accuracy))])
    }

    fn var_stores(&self) -> Vec<(&'static str, &nn::VarStore)> {
        Vec::new()
    }

    fn var_stores_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        Vec::new()
    }

    fn optimizers_mut(&mut self) -> Vec<&mut Optimizer> {
        vec![&mut self.actor_opt]
    }

    fn save_state(&self, state: &mut TrainingState) {
        self.actor_opt.save_state("actor_optimizer", state);
    }

    fn load_state(&mut self, state: &TrainingState) -> Result<()> {
        self.actor_opt.load_state("actor_optimizer", state)
    }
}
