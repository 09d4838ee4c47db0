//! murmur-train: cooperative multi-agent reinforcement learning with
//! centralised training and decentralised execution, on libtorch.
//!
//! - [`env`]: the [`env::Environment`] trait and built-in simulators;
//! - [`actor`]: the parameter-shared GRU actor that robots run;
//! - [`rollout`] and [`buffer`]: batched episode collection into tensors;
//! - [`dataset`]: recorded episodes (the format, its reader, batches from it);
//! - [`critic`] and [`learner`]: centralised critics and the learners;
//! - [`cmaes`]: the evolution strategy MACA tunes its baseline weights with;
//! - [`optim`] and [`state`]: optimisers and the state a resumed run continues with;
//! - [`trainer`]: the loop the CLI drives, usable from your own program.
#![warn(missing_docs)]

pub mod actor;
pub mod buffer;
pub mod checkpoint;
pub mod cmaes;
pub mod config;
pub mod critic;
pub mod dataset;
pub mod denormals;
pub mod device;
pub mod env;
mod error;
pub mod eval;
pub mod fsio;
pub mod learner;
pub mod macca;
pub mod metrics;
pub mod optim;
pub mod rollout;
pub mod state;
pub mod trainer;

pub use error::{CheckpointProblem, EnvProblem, Error, Result, RunDirProblem};
