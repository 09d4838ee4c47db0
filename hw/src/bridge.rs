//! The coordinator's view of the world: a [`RobotBridge`] gives it the state
//! and each robot's observation, and applies the team's actions.
//!
//! [`SimulatedBridge`] runs one of murmur-train's simulators (or any
//! [`Environment`]). A bridge for real robots implements the same trait:
//!
//! - `reset` brings the robots to their start poses (or waits for an
//!   operator) and returns when the episode may start;
//! - `observe` and `state` come from the state estimate (motion capture,
//!   odometry, a localisation filter), expressed exactly as the simulator
//!   the actor was trained on lays them out;
//! - `apply` receives the action each robot executes: robots that actuate
//!   their own motors (their agent's `Actuator`) need nothing sent, so the
//!   bridge waits out the control period and refreshes its estimate;
//!   robots driven from the server get their commands forwarded here;
//! - the reward is the task's, computed from the estimate.
//!
//! Errors from a real bridge (a lost tracker, an emergency stop) end the
//! run with [`BridgeError`]; the episodes recorded so far stay on disk.

use murmur_train::env::batch::Dims;
use murmur_train::env::{Environment, StepOutcome};

/// Why a bridge cannot go on.
#[derive(Debug, thiserror::Error)]
#[error("robot bridge `{bridge}`: {msg}")]
pub struct BridgeError {
    /// The bridge's name.
    pub bridge: String,
    /// What went wrong.
    pub msg: String,
}

/// The world the coordinator runs episodes in.
pub trait RobotBridge {
    /// A short name for logs and dataset metadata (`spread`, `lab-mocap`).
    fn name(&self) -> &str;
    /// The team's dimensions.
    fn dims(&self) -> Dims;
    /// Starts an episode; a simulator draws its start from `seed`.
    fn reset(&mut self, seed: u64) -> Result<(), BridgeError>;
    /// Writes robot `agent`'s observation (`obs_dim` values) and its
    /// availability mask (`n_actions` values, 1.0 = allowed).
    fn observe(&mut self, agent: usize, obs: &mut [f32], avail: &mut [f32]) -> Result<(), BridgeError>;
    /// Writes the global state (`state_dim` values) the critic sees.
    fn state(&mut self, out: &mut [f32]) -> Result<(), BridgeError>;
    /// Applies one action per robot and advances one step.
    fn apply(&mut self, actions: &[usize]) -> Result<StepOutcome, BridgeError>;
    /// Each robot's own reward for the last step, when the task has one.
    fn agent_rewards(&self) -> Option<&[f64]> {
        None
    }
    /// Whether the episode that just ended was won, for tasks with a win
    /// condition (battles).
    fn won(&self) -> Option<bool> {
        None
    }
    /// Robots the bridge has lost track of right now (e.g. a pose older
    /// than its limit): they get no observation this step and count as
    /// missing it, as a late answer does.
    fn untracked(&self) -> Vec<usize> {
        Vec::new()
    }
    /// Each robot's tracked position (x, y, metres), for the recording,
    /// where the bridge tracks real robots; `None` for simulators.
    fn poses(&self) -> Option<Vec<[f64; 2]>> {
        None
    }
    /// Inputs from the robots' side the bridge refused so far (malformed
    /// or impossible messages), for the run's summary.
    fn refused_inputs(&self) -> u64 {
        0
    }
}

/// A bridge to a simulator: the robots' world is murmur-train's physics.
pub struct SimulatedBridge {
    name: String,
    env: Box<dyn Environment>,
}

impl SimulatedBridge {
    /// Runs `env`, named `name` in logs and recordings.
    pub fn new(name: impl Into<String>, env: Box<dyn Environment>) -> Self {
        Self { name: name.into(), env }
    }
}

impl RobotBridge for SimulatedBridge {
    fn name(&self) -> &str {
        &self.name
    }
    fn dims(&self) -> Dims {
        Dims::of(&self.env)
    }
    fn reset(&mut self, seed: u64) -> Result<(), BridgeError> {
        self.env.reset(seed);
        Ok(())
    }
    fn observe(&mut self, agent: usize, obs: &mut [f32], avail: &mut [f32]) -> Result<(), BridgeError> {
        self.env.write_obs(agent, obs);
        self.env.write_avail_actions(agent, avail);
        Ok(())
    }
    fn state(&mut self, out: &mut [f32]) -> Result<(), BridgeError> {
        self.env.write_state(out);
        Ok(())
    }
    fn apply(&mut self, actions: &[usize]) -> Result<StepOutcome, BridgeError> {
        Ok(self.env.step(actions))
    }
    fn agent_rewards(&self) -> Option<&[f64]> {
        self.env.agent_rewards()
    }
    fn won(&self) -> Option<bool> {
        self.env.won()
    }
}
