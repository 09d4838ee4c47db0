//! murmur-hw: the server side of hardware-in-the-loop episodes.
//!
//! - [`bridge`]: the [`RobotBridge`] between the coordinator and the world
//!   (a simulator, or real robots' state estimates);
//! - [`link`]: the coordinator's Zenoh keys; [`collector`]: one step's
//!   answers and what was refused;
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

use std::path::Path;
use std::time::Duration;

pub use bridge::{BridgeError, RobotBridge, SimulatedBridge};
pub use coordinator::{Coordinator, HilOptions, Pacing};

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
    #[error("zenoh: {0}")]
    Zenoh(String),
    /// The dataset cannot be written or read.
    #[error("dataset: {0}")]
    Record(String),
    /// The server-side critic cannot be loaded or run.
    #[error("critic: {0}")]
    Critic(String),
    /// Settings that do not fit the task.
    #[error("{0}")]
    Options(String),
    /// Agent processes cannot be started.
    #[error("launcher: {0}")]
    Launch(String),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl HwError {
    /// Wraps an I/O error on `path`.
    pub fn io(path: &Path) -> impl Fn(std::io::Error) -> HwError + '_ {
        move |source| HwError::Io { path: path.display().to_string(), source }
    }
}
