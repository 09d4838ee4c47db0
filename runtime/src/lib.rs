//! murmur-runtime: what runs on a robot.
//!
//! For now it holds the actor contract ([`ActorSpec`]) that the trainer,
//! the exporter and the robot agree on. Policies (ONNX, no_std "nano"), the
//! wire messages and the Zenoh agent loop join it in later milestones. This
//! crate never depends on libtorch: `cargo tree -p murmur-runtime` stays free
//! of tch and torch-sys.
#![warn(missing_docs)]

pub mod spec;

pub use spec::{ActorSpec, SpecError};
