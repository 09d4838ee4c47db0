//! ROS 2 over rmw_zenoh, spoken directly: murmur's agents publish velocity
//! commands to ROS 2 robots, and the coordinator reads their poses, with
//! no ROS installation on either side.
//!
//! - [`types`]: the message types as data (fields), from which
//!   [`type_hash`] derives RIHS01 hashes and `ros2msg` definitions;
//! - [`messages`]: the messages as Rust values, CDR-encoded;
//! - [`graph`]: topic keys and liveliness tokens; [`attachment`]: the
//!   per-sample attachment; [`node`]: publishers and subscriptions;
//! - [`action_map`] and [`actuator`]: actions to Twist commands.

pub mod action_map;
pub mod actuator;
pub mod attachment;
pub mod graph;
pub mod messages;
pub mod node;
pub mod type_hash;
pub mod types;

use std::path::PathBuf;

pub use action_map::ActionMap;
pub use actuator::Ros2Actuator;
pub use graph::Distro;

/// What can go wrong speaking ROS 2.
#[derive(Debug, thiserror::Error)]
pub enum Ros2Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The action table is malformed or does not fit the model.
    #[error("ROS 2 action table {}: {why}", path.display())]
    ActionMap {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        why: String,
    },
    /// A payload is not a well-formed CDR message of the expected type.
    #[error("malformed {type_name} payload: {why}")]
    Cdr {
        /// The expected type.
        type_name: &'static str,
        /// Why it was refused.
        why: String,
    },
    /// A sample's attachment is missing or malformed.
    #[error("malformed rmw_zenoh attachment: {0}")]
    Attachment(String),
    /// Zenoh refused an operation.
    #[error("zenoh: {0}")]
    Zenoh(String),
}
