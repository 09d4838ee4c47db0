//! murmur: cooperative multi-robot reinforcement learning with centralised
//! training and decentralised execution.
//!
//! This umbrella crate re-exports the member crates and holds what only the
//! `murmur` command needs beyond them (learning-curve plots, result tables,
//! animated episodes):
//! - [`runtime`] (`murmur-runtime`): what runs on a robot; never links libtorch;
//! - [`train`] (`murmur-train`): simulators, actors, critics, learners, trainer;
//! - [`export`] (`murmur-export`): trained actor to ONNX;
//! - [`hw`] (`murmur-hw`): hardware-in-the-loop episodes.
#![warn(missing_docs)]

pub mod pki;
pub mod plot;
pub mod render;
pub mod summary;

pub use murmur_export as export;
pub use murmur_hw as hw;
pub use murmur_runtime as runtime;
pub use murmur_train as train;
