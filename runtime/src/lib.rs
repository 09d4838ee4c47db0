//! murmur-runtime: what runs on a robot.
//!
//! It holds the actor contract ([`ActorSpec`]) that the trainer, the
//! exporter and the robot agree on, and the [`Policy`] that runs an exported
//! actor: [`policy::OnnxPolicy`] (ONNX Runtime, feature `onnx`) and
//! [`policy::NanoPolicy`] (pure Rust, `no_std`, no heap, weights read from a
//! byte slice). Without the default `std` feature the crate is `no_std`.
//! [`wire`] holds the swarm's messages (postcard, no heap); [`agent`] the
//! robot's loop with its failsafes, and `swarm` (feature `zenoh`) runs it
//! over Zenoh. This crate never depends on libtorch: `cargo tree -p murmur-runtime` stays free
//! of tch and torch-sys.
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

#[cfg(feature = "zenoh")]
pub mod access_control;
#[cfg(feature = "std")]
pub mod agent;
#[cfg(feature = "std")]
pub mod keys;
#[cfg(feature = "models")]
pub mod model_signing;
#[cfg(feature = "models")]
pub mod model_update;
pub mod policy;
#[cfg(feature = "ros2")]
pub mod ros2;
pub mod spec;
#[cfg(feature = "zenoh")]
pub mod swarm;
pub mod wire;

pub use policy::{Decision, Policy, PolicyError};
pub use spec::{ActorSpec, HasWireDims, SpecError, WireDims};
pub use wire::ModelFormat;
