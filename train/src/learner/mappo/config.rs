//! MAPPO's configuration table `[mappo]` (docs/algorithms.md section 2).

use serde::{Deserialize, Serialize};

use super::Mappo;
use crate::config::{check, positive, target_update, unit};
use crate::learner::registry::{ActorDefaults, BuildContext, LearnerConfig};
use crate::learner::Learner;
use crate::Result;

/// MAPPO hyperparameters (docs/algorithms.md section 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappoConfig {
    /// Adam learning rate of the actor, and of the critic unless
    /// `critic_lr` is set.
    pub lr: f64,
    /// Adam learning rate of the critic; unset, `lr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critic_lr: Option<f64>,
    /// Adam epsilon.
    pub adam_eps: f64,
    /// Discount factor.
    pub gamma: f64,
    /// GAE lambda.
    pub gae_lambda: f64,
    /// PPO ratio clip (also the value clip).
    pub clip: f64,
    /// Passes over each batch.
    pub epochs: usize,
    /// Minibatches per pass (episodes are split between them).
    pub minibatches: usize,
    /// Draw each pass's minibatches from a fresh permutation of the
    /// episodes (JaxMARL's MAPPO); off, the same contiguous splits.
    pub shuffle_minibatches: bool,
    /// Entropy bonus coefficient.
    pub entropy_coef: f64,
    /// Huber loss threshold of the value loss.
    pub huber_delta: f64,
    /// Clip the value update around the old value.
    pub value_clip: bool,
    /// Normalise value targets with a running normaliser.
    pub value_norm: bool,
    /// Normalise advantages over valid entries.
    pub advantage_norm: bool,
    /// Normalise them again over each minibatch before its step, as
    /// JaxMARL's MAPPO does.
    pub minibatch_advantage_norm: bool,
    /// Truncated BPTT chunk length for the recurrent actor.
    pub chunk_len: usize,
    /// Hidden width of the critic.
    pub critic_hidden: usize,
    /// LayerNorm on the critic's input (the MAPPO paper).
    pub critic_layer_norm: bool,
    /// Orthogonal initialisation of the critic's weights (the MAPPO paper);
    /// off, PyTorch's default.
    pub critic_orthogonal_init: bool,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Append the episode's time step (t / episode_limit) to the critic's
    /// input: the critic lives on the server, so the actor is unaffected.
    pub critic_time_feature: bool,
    /// Bootstrap the value where an episode is cut by its time limit
    /// (EPyMARL), instead of treating the cut as terminal (the MAPPO
    /// authors' code). Bootstrapping without the time feature asks the
    /// critic for infinite-horizon values it cannot pin down.
    pub bootstrap_truncation: bool,
    /// How advantages are estimated: `gae` (the MAPPO paper), or `nstep`
    /// (EPyMARL's MAPPO: n-step returns bootstrapped from a target copy of
    /// the critic, the advantage `y - V(s)` re-read from the critic at every
    /// epoch).
    pub advantage: AdvantageEstimator,
    /// n of the n-step returns (`advantage = "nstep"`).
    pub nstep: usize,
    /// How the target critic of `advantage = "nstep"` follows the critic
    /// (EPyMARL's `target_update_interval_or_tau`): above 1, copied every
    /// that many updates; at most 1, moved that fraction of the way after
    /// every update.
    pub target_update: f64,
    /// Standardise rewards by their running mean and standard deviation
    /// before any return is computed (EPyMARL's `standardise_rewards`; the
    /// statistics are [`crate::learner::ValueNorm`]'s debiased moving
    /// averages, not EPyMARL's exact running count).
    pub reward_norm: bool,
    /// Each agent learns from its own reward with its own value (JaxMARL's
    /// MAPPO): the critic also reads the agent's one-hot id and values
    /// that agent's return, and each agent's advantage comes from its own
    /// reward. Off: one team value and one advantage shared by the agents.
    /// Needs a task with per-agent rewards (spread).
    pub agent_rewards: bool,
}

/// MAPPO's advantage estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdvantageEstimator {
    /// Generalised advantage estimation on the critic's values.
    Gae,
    /// n-step returns on a target critic, minus the critic's value.
    Nstep,
}

impl Default for MappoConfig {
    fn default() -> Self {
        Self {
            lr: 7e-4,
            critic_lr: None,
            adam_eps: 1e-5,
            gamma: 0.99,
            gae_lambda: 0.95,
            clip: 0.2,
            epochs: 10,
            minibatches: 1,
            shuffle_minibatches: false,
            entropy_coef: 0.01,
            huber_delta: 10.0,
            value_clip: true,
            value_norm: true,
            advantage_norm: true,
            minibatch_advantage_norm: false,
            chunk_len: 10,
            critic_hidden: 64,
            critic_layer_norm: true,
            critic_orthogonal_init: true,
            grad_clip: 10.0,
            critic_time_feature: true,
            bootstrap_truncation: false,
            advantage: AdvantageEstimator::Gae,
            nstep: 5,
            target_update: 200.0,
            reward_norm: false,
            agent_rewards: false,
        }
    }
}

impl LearnerConfig for MappoConfig {
    const NAME: &'static str = "mappo";
    const SUMMARY: &'static str = "Multi-agent PPO with a centralised state value (Yu et al., NeurIPS 2022)";

    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>> {
        Ok(Box::new(Mappo::new(self, ctx.actor_vs, ctx.dims, ctx.device)?))
    }

    /// The MAPPO paper's actor: LayerNorm on its input, orthogonal weights.
    fn actor_defaults(&self) -> ActorDefaults {
        ActorDefaults { input_layer_norm: true, orthogonal_init: true }
    }

    fn validate(&self, batch_episodes: usize) -> Result<()> {
        let m = self;
        positive("mappo.lr", m.lr)?;
        if let Some(lr) = m.critic_lr {
            positive("mappo.critic_lr", lr)?;
        }
        positive("mappo.adam_eps", m.adam_eps)?;
        positive("mappo.clip", m.clip)?;
        positive("mappo.huber_delta", m.huber_delta)?;
        positive("mappo.grad_clip", m.grad_clip)?;
        unit("mappo.gamma", m.gamma)?;
        unit("mappo.gae_lambda", m.gae_lambda)?;
        check(m.entropy_coef >= 0.0, "mappo.entropy_coef", "at least 0", m.entropy_coef)?;
        check(m.epochs >= 1, "mappo.epochs", "at least 1", m.epochs)?;
        check(m.chunk_len >= 1, "mappo.chunk_len", "at least 1", m.chunk_len)?;
        check(m.critic_hidden >= 1, "mappo.critic_hidden", "at least 1", m.critic_hidden)?;
        check(m.nstep >= 1, "mappo.nstep", "at least 1", m.nstep)?;
        target_update("mappo.target_update", m.target_update)?;
        check(
            !(m.agent_rewards && m.advantage == AdvantageEstimator::Nstep),
            "mappo.agent_rewards",
            "false with advantage = \"nstep\" (per-agent values run with GAE)",
            m.agent_rewards,
        )?;
        check(
            (1..=batch_episodes).contains(&m.minibatches),
            "mappo.minibatches",
            "between 1 and batch_episodes",
            m.minibatches,
        )
    }
}
