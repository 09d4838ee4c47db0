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
pub mod recorder;
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
    /// A dataset holds something other than what its manifest promises.
    #[error("dataset: {0}")]
    Record(String),
    /// A dataset file cannot be written.
    #[error("dataset: {source}")]
    RecordWrite {
        /// The training crate's error, which names the file.
        source: murmur_train::Error,
    },
    /// A dataset cannot be read or is not what its manifest promises.
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
    #[error("{0}")]
    Options(String),
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

impl HwError {
    /// Wraps an I/O error on `path`.
    pub fn io(path: &Path) -> impl Fn(std::io::Error) -> HwError + '_ {
        move |source| HwError::Io { path: path.to_path_buf(), source }
    }
}
