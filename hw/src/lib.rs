//! murmur-hw: the server side of hardware-in-the-loop episodes.
//!
//! - [`bridge`]: the [`RobotBridge`] between the coordinator and the world
//!   (a simulator, or real robots' state estimates);
//! - [`transport`]: how the coordinator reaches its robots
//!   ([`transport::SwarmTransport`]); [`link`]: that over Zenoh;
//!   [`collector`]: one step's answers and what was refused;
//! - [`coordinator`]: the episode loop (lockstep or realtime, deadlines,
//!   robots that leave and rejoin);
//! - [`critic_server`]: a training run's centralised critic reading every
//!   step on the server;
//! - [`recorder`]: the dataset (one safetensors file per episode and a
//!   manifest; `docs/dataset.md`);
//! - [`launcher`]: one `murmur agent` process per robot for simulated swarms.
#![warn(missing_docs)]

pub mod bridge;
pub mod collector;
pub mod coordinator;
pub mod critic_server;
pub mod launcher;
pub mod link;
pub mod mcap_export;
pub mod recorder;
pub mod ros2_world;
pub mod session;
pub mod summary;
pub mod transport;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use bridge::{BridgeError, RobotBridge, SimulatedBridge};
pub use coordinator::{Coordinator, HilOptions, Pacing};
pub use transport::SwarmTransport;

/// Why a hardware-in-the-loop run cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum HwError {
    /// Robots of the team never showed up.
    #[error("swarm `{swarm}`: robots {missing:?} did not come up within {waited:?} (no liveliness token murmur/{swarm}/agent/<id>)")]
    AgentsMissing {
        /// The swarm.
        swarm: String,
        /// Robot ids without a token.
        missing: Vec<usize>,
        /// How long the coordinator waited.
        waited: Duration,
    },
    /// The world failed.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    /// Zenoh failed.
    #[error("zenoh: {what}: {source}")]
    Zenoh {
        /// What the coordinator was doing.
        what: String,
        /// Zenoh's error.
        source: zenoh::Error,
    },
    /// The swarm's network settings are unusable.
    #[error(transparent)]
    Swarm(#[from] murmur_runtime::swarm::SwarmError),
    /// A dataset cannot be written, or read back as its manifest promises
    /// (the training crate's error names the file).
    #[error(transparent)]
    Dataset(murmur_train::Error),
    /// A run's critic cannot be loaded.
    #[error("critic: run {}: {source}", run.display())]
    CriticLoad {
        /// The run directory.
        run: PathBuf,
        /// Why.
        source: murmur_train::Error,
    },
    /// The critic cannot read the team's steps.
    #[error("critic: {0}")]
    Critic(#[from] critic_server::CriticProblem),
    /// Settings that do not fit the task.
    #[error(transparent)]
    Options(#[from] OptionsProblem),
    /// An observation message cannot be encoded.
    #[error("observation for robot {agent}: {source}")]
    Encode {
        /// The robot.
        agent: usize,
        /// The wire's error.
        source: murmur_runtime::wire::WireError,
    },
    /// Agent processes cannot be started.
    #[error("launcher: {what}: {source}")]
    Launch {
        /// What was being started.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Settings of a hardware-in-the-loop run that do not fit its task.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsProblem {
    /// The safe action is not one of the task's actions.
    #[error("safe action {action} is not an action of `{task}` (it has {n_actions})")]
    SafeAction {
        /// The configured safe action.
        action: usize,
        /// The task.
        task: String,
        /// Its actions per robot.
        n_actions: usize,
    },
    /// A real-time rate that is not a positive number.
    #[error("--hz must be a positive rate, got {0}")]
    Rate(f64),
    /// A task dimension beyond what an observation message carries.
    #[error("the task's {field} is {got}, more than the wire carries")]
    BeyondWire {
        /// `obs_dim` or `n_actions`.
        field: &'static str,
        /// The task's value.
        got: usize,
    },
    /// A robot index outside the team.
    #[error("robot {agent} is not in a team of {team}")]
    NoSuchRobot {
        /// The index.
        agent: usize,
        /// Robots in the team.
        team: usize,
    },
}

impl HwError {
    /// Wraps an I/O error on `path`.
    pub fn io(path: &Path) -> impl Fn(std::io::Error) -> HwError + '_ {
        move |source| HwError::Io { path: path.to_path_buf(), source }
    }
}
