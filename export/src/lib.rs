//! murmur-export: turns a trained actor checkpoint into an ONNX file any
//! runtime can run (and a "nano" blob for microcontrollers), then proves the
//! file computes what the trained network computes.
//!
//! Built in the export milestone; the crate exists now so the workspace's
//! dependency direction (`export -> train, runtime`) is fixed from the start.
#![warn(missing_docs)]

pub use murmur_runtime::ActorSpec;
pub use murmur_train::checkpoint::CheckpointMeta;
