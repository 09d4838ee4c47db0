//! What every offline learner shares: which reward each agent learns from
//! (`[offline] reward`), and the actor run over whole recorded episodes.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::actor::Actor;
use crate::buffer::EpisodeBatch;
use crate::{Error, Result};

/// The reward each agent of an offline learner learns from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardSource {
    /// The team reward, the same for every agent (what a dataset of a real
    /// team holds).
    #[default]
    Team,
    /// Each agent's own reward as the simulator recorded it: ground truth,
    /// the upper reference credit assignment is measured against.
    Individual,
}

impl RewardSource {
    /// Each agent's reward of every step of `batch` `[T, B, n]` (0 on
    /// padding).
    pub fn per_agent(self, batch: &EpisodeBatch) -> Result<Tensor> {
        let n = batch.actions.size()[2];
        match self {
            Self::Team => Ok(batch.reward.unsqueeze(-1).expand([-1, -1, n], true)),
            Self::Individual => batch.agent_reward.as_ref().map(Tensor::shallow_clone).ok_or(Error::NoAgentRewards),
        }
    }
}

/// The actor's outputs (logits, or Q-values for a Q-learner) over whole
/// episodes, run from each episode's start with a zero hidden state as the
/// robots run it: every slot of the batch, `[T+1, B, n, A]`.
pub(crate) fn unroll_episodes(actor: &Actor, batch: &EpisodeBatch) -> Tensor {
    let size = batch.inputs.size();
    let (t1, b, n) = (size[0], size[1], size[2]);
    let x = batch.inputs.view([t1, b * n, -1]);
    actor.unroll(&x, &actor.initial_hidden(b * n, x.device()), None).view([t1, b, n, -1])
}
