//! Cooperative multi-agent environments (Dec-POMDPs with discrete actions).
//!
//! [`Environment`] is the one interface every simulator implements: the
//! built-in ones below, and a user's own (see `examples/custom_env.rs`).
//! Observations, states and masks are written into caller-owned slices so a
//! batch ([`VecEnv`]) steps with no per-step heap allocation.

pub mod batch;
pub mod battle;
mod junction;
pub mod particle;
mod predator_prey;
pub mod scene;
mod spread;
pub mod spread_behaviour;

pub use batch::VecEnv;
pub use battle::{Battle, BattleConfig};
pub use junction::Junction;
pub use predator_prey::{PredatorPrey, PredatorPreyConfig};
pub use scene::Scene;
pub use spread::{Spread, SpreadConfig};
pub use spread_behaviour::SpreadBehaviour;

use serde::{Deserialize, Serialize};

/// What one call to [`Environment::step`] reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// The shared team reward for this step.
    pub reward: f64,
    /// The episode ended by reaching a terminal state (no bootstrapping).
    pub terminated: bool,
    /// The episode was cut off by its time limit (bootstrapping is valid).
    pub truncated: bool,
}

impl StepOutcome {
    /// Whether the episode is over, for either reason.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// A cooperative multi-agent environment with one team reward per step.
///
/// Implementations must be deterministic for a seed, and must not allocate
/// in [`step`](Self::step) or the `write_*` methods.
pub trait Environment: Send {
    /// Number of learning agents.
    fn n_agents(&self) -> usize;
    /// Length of one agent's observation.
    fn obs_dim(&self) -> usize;
    /// Length of the global state the centralised critics see.
    fn state_dim(&self) -> usize;
    /// Number of discrete actions per agent.
    fn n_actions(&self) -> usize;
    /// Maximum number of steps in an episode.
    fn episode_limit(&self) -> usize;
    /// Starts a new episode, drawing everything random from `seed`.
    fn reset(&mut self, seed: u64);
    /// Applies one action per agent (`actions.len() == n_agents`).
    fn step(&mut self, actions: &[usize]) -> StepOutcome;
    /// Writes agent `agent`'s observation (`out.len() == obs_dim`).
    fn write_obs(&self, agent: usize, out: &mut [f32]);
    /// Writes the global state (`out.len() == state_dim`).
    fn write_state(&self, out: &mut [f32]);
    /// Writes agent `agent`'s action mask, 1.0 = allowed (`out.len() == n_actions`).
    fn write_avail_actions(&self, _agent: usize, out: &mut [f32]) {
        out.fill(1.0);
    }
    /// Each agent's own reward for the last step, when the task defines one
    /// (ground truth for offline credit-assignment studies).
    fn agent_rewards(&self) -> Option<&[f64]> {
        None
    }
    /// Whether the episode that just ended was won, for tasks with a win
    /// condition (battles); `None` for the others.
    fn won(&self) -> Option<bool> {
        None
    }
    /// A picture of the current state for `murmur render`; `None` for tasks
    /// with nothing to draw.
    fn scene(&self) -> Option<Scene> {
        None
    }
}

impl<E: Environment + ?Sized> Environment for Box<E> {
    fn n_agents(&self) -> usize {
        (**self).n_agents()
    }
    fn obs_dim(&self) -> usize {
        (**self).obs_dim()
    }
    fn state_dim(&self) -> usize {
        (**self).state_dim()
    }
    fn n_actions(&self) -> usize {
        (**self).n_actions()
    }
    fn episode_limit(&self) -> usize {
        (**self).episode_limit()
    }
    fn reset(&mut self, seed: u64) {
        (**self).reset(seed)
    }
    fn step(&mut self, actions: &[usize]) -> StepOutcome {
        (**self).step(actions)
    }
    fn write_obs(&self, agent: usize, out: &mut [f32]) {
        (**self).write_obs(agent, out)
    }
    fn write_state(&self, out: &mut [f32]) {
        (**self).write_state(out)
    }
    fn write_avail_actions(&self, agent: usize, out: &mut [f32]) {
        (**self).write_avail_actions(agent, out)
    }
    fn agent_rewards(&self) -> Option<&[f64]> {
        (**self).agent_rewards()
    }
    fn won(&self) -> Option<bool> {
        (**self).won()
    }
    fn scene(&self) -> Option<Scene> {
        (**self).scene()
    }
}

/// What the centralised critics see as the global state of a particle world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    /// The concatenation of all agents' observations (EPyMARL's default).
    #[default]
    ObsConcat,
    /// The true world state: position and velocity of every entity.
    World,
}

/// How per-agent rewards become the one team reward the learners see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamReward {
    /// Sum over agents (EPyMARL's default, so returns compare).
    #[default]
    Sum,
    /// Mean over agents.
    Mean,
}
