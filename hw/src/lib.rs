//! murmur-hw: the server side of hardware-in-the-loop episodes: the episode
//! coordinator, robot bridges (simulated or real), the recorder and the
//! server-side critic.
//!
//! Built in the hardware-in-the-loop milestone; the crate exists now so the
//! workspace's dependency direction (`hw -> train, runtime`) is fixed.
#![warn(missing_docs)]

pub use murmur_runtime::ActorSpec;
pub use murmur_train::env::Environment;
