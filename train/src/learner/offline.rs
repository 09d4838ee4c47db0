//! What every offline learner shares: which reward each agent learns from
//! (`[offline] reward`, MACCA's learned rewards among them), and the actor
//! run over whole recorded episodes.

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::actor::Actor;
use crate::buffer::EpisodeBatch;
use crate::config::OfflineConfig;
use crate::dataset::DatasetBatches;
use crate::env::batch::Dims;
use crate::learner::UpdateStats;
use crate::macca::{agreement, CausalDims, RewardModel, MACCA_CHECKPOINT};
use crate::state::TrainingState;
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
    /// Each agent's reward as MACCA's reward model predicts it from the
    /// team reward (`[offline.macca]`).
    Macca,
}

impl RewardSource {
    /// Each agent's reward of every step of `batch` `[T, B, n]` (0 on
    /// padding).
    /// (`Macca` reads the reward model's predictions instead.)
    fn recorded(self, batch: &EpisodeBatch) -> Result<Tensor> {
        let n = batch.actions.size()[2];
        match self {
            Self::Team | Self::Macca => Ok(batch.reward.unsqueeze(-1).expand([-1, -1, n], true)),
            Self::Individual => batch.agent_reward.as_ref().map(Tensor::shallow_clone).ok_or(Error::NoAgentRewards),
        }
    }
}

/// The per-agent rewards an offline learner reads: the configured source,
/// with MACCA's reward model when it is MACCA's, trained on the dataset
/// before the policy's first update and then one step per update.
pub struct OfflineRewards {
    source: RewardSource,
    model: Option<RewardModel>,
    pretrain_updates: usize,
}

impl OfflineRewards {
    /// The rewards `offline` configures for a team of `dims` (the team
    /// reward when `offline` is absent).
    pub fn new(offline: Option<&OfflineConfig>, dims: Dims, device: tch::Device) -> Result<Self> {
        let source = offline.map(|o| o.reward).unwrap_or_default();
        let macca = offline.map(|o| o.macca.clone()).unwrap_or_default();
        let model = match source {
            RewardSource::Macca => Some(RewardModel::new(&macca, dims.n_agents, dims.obs_dim, dims.n_actions, device)?),
            _ => None,
        };
        Ok(Self { source, model, pretrain_updates: macca.pretrain_updates })
    }

    /// Trains MACCA's reward model on `data` before the policy learns
    /// (`batch_episodes` episodes per step, drawn from `seed`'s stream);
    /// nothing for the other sources. Returns the last step's figures.
    pub fn prepare(&mut self, data: &DatasetBatches, batch_episodes: usize, seed: u64) -> Result<UpdateStats> {
        let Some(model) = &mut self.model else { return Ok(Vec::new()) };
        let mut last = Vec::new();
        for k in 0..self.pretrain_updates {
            last = model.step(&data.sample(batch_episodes, seed ^ (k as u64).wrapping_mul(0xA24B_AED4_963E_E407)))?;
            if (k + 1) % 500 == 0 {
                log::info!("MACCA reward model, step {}: {last:?}", k + 1);
            }
        }
        Ok(last)
    }

    /// Each agent's reward at every step of `batch` `[T, B, n]`, and the
    /// figures of the reward model's step on it (MACCA trains alongside
    /// the policy) or, where the batch holds the true per-agent rewards,
    /// how the rewards used follow them.
    pub fn per_agent(&mut self, batch: &EpisodeBatch) -> Result<(Tensor, UpdateStats)> {
        match &mut self.model {
            Some(model) => {
                let stats = model.step(batch)?;
                Ok((model.rewards(batch), stats))
            }
            None => {
                let rewards = self.source.recorded(batch)?;
                let mut stats = Vec::new();
                if let Some(truth) = &batch.agent_reward {
                    let mask = batch.mask.narrow(0, 0, batch.max_len());
                    let (_, credit) = tch::no_grad(|| agreement(&rewards, truth, &mask));
                    stats.push(("credit_corr", credit));
                }
                Ok((rewards, stats))
            }
        }
    }

    /// What MACCA's masks let through (dynamic masks are averaged over
    /// `batch`); `None` for the other sources.
    pub fn causal_dims(&self, batch: Option<&EpisodeBatch>) -> Option<CausalDims> {
        self.model.as_ref().map(|m| m.causal_dims(batch))
    }

    /// The reward model's parameters, for checkpoints.
    pub fn var_stores(&self) -> Vec<(&'static str, &nn::VarStore)> {
        self.model.iter().map(|m| (MACCA_CHECKPOINT, m.var_store())).collect()
    }

    /// The same, mutably.
    pub fn var_stores_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        self.model.iter_mut().map(|m| (MACCA_CHECKPOINT, m.var_store_mut())).collect()
    }

    /// Saves the reward model's optimiser state.
    pub fn save_state(&self, state: &mut TrainingState) {
        if let Some(m) = &self.model {
            m.save_state("macca_optimizer", state);
        }
    }

    /// Restores what [`save_state`](Self::save_state) saved.
    pub fn load_state(&mut self, state: &TrainingState) -> Result<()> {
        match &mut self.model {
            Some(m) => m.load_state("macca_optimizer", state),
            None => Ok(()),
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
