//! murmur-train: cooperative multi-agent reinforcement learning with
//! centralised training and decentralised execution, on libtorch.
//!
//! - [`env`]: the [`env::Environment`] trait and built-in simulators;
//! - [`actor`]: the parameter-shared GRU actor that robots run;
//! - [`rollout`] and [`buffer`]: batched episode collection into tensors;
//! - [`critic`] and [`learner`]: centralised critics and the learners;
//! - [`trainer`]: the loop the CLI drives, usable from your own program.
#![warn(missing_docs)]

pub mod actor;
pub mod config;
pub mod device;
pub mod env;
mod error;

pub use error::{Error, Result};
