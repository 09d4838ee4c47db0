//! Policies: the trained actor running on a robot, one agent each.
//!
//! A [`Policy`] keeps the GRU hidden state and the previous action between
//! steps, so the robot's program only hands it what it senses now and what
//! it may do now. Implementations: [`OnnxPolicy`] (ONNX Runtime, behind the
//! default `onnx` feature) and [`NanoPolicy`] (pure Rust, `no_std`).

pub mod kernels;
pub mod nano;
#[cfg(feature = "onnx")]
mod onnx;

pub use nano::{BlobError, NanoBlob, NanoPolicy};

#[cfg(feature = "onnx")]
pub use onnx::{onnx_runtime, OnnxPolicy};

use crate::spec::{ActorSpec, SpecError};

/// What a policy decided at one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision<'a> {
    /// The action taken: the most probable available one.
    pub action: usize,
    /// Probabilities over all `n_actions` actions (exactly 0 on unavailable
    /// ones).
    pub probs: &'a [f32],
}

/// Why a policy could not load or step.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// An input broke the actor contract (wrong length, out-of-range id).
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// An observation value is NaN or infinite.
    #[error("observation[{index}] is {value}, expected a finite number")]
    NonFinite {
        /// Position in the observation.
        index: usize,
        /// The value received.
        value: f32,
    },
    /// The availability mask allows no action.
    #[error("availability mask allows no action (expected at least one 1.0 among {n_actions})")]
    NoActionAvailable {
        /// Actions in the mask.
        n_actions: usize,
    },
    /// The nano blob cannot be used.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The model file cannot be used.
    #[cfg(feature = "std")]
    #[error("model {path}: {msg}")]
    Model {
        /// The model file.
        path: std::string::String,
        /// What is wrong.
        msg: std::string::String,
    },
    /// The ONNX Runtime library could not be loaded or failed at run time.
    #[cfg(feature = "std")]
    #[error("ONNX Runtime: {0}")]
    Runtime(std::string::String),
}

/// A trained actor for one agent, with its recurrent state inside.
pub trait Policy {
    /// The actor's dimensions.
    fn spec(&self) -> ActorSpec;

    /// Starts a new episode: zero hidden state, no previous action.
    fn reset(&mut self);

    /// One decision from `obs` (`obs_dim` values) and `avail` (`n_actions`
    /// values, 1.0 = allowed). On an error the recurrent state is untouched.
    fn step(&mut self, obs: &[f32], avail: &[f32]) -> Result<Decision<'_>, PolicyError>;

    /// The GRU hidden state after the last step (`hidden` values).
    fn hidden(&self) -> &[f32];
}

/// Checks one step's inputs against `spec`: lengths, finite observations,
/// at least one available action.
pub fn check_inputs(spec: &ActorSpec, obs: &[f32], avail: &[f32]) -> Result<(), PolicyError> {
    if obs.len() != spec.obs_dim {
        return Err(SpecError::Length { what: "obs", got: obs.len(), expected: spec.obs_dim }.into());
    }
    if avail.len() != spec.n_actions {
        return Err(SpecError::Length { what: "avail", got: avail.len(), expected: spec.n_actions }.into());
    }
    if let Some((index, &value)) = obs.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(PolicyError::NonFinite { index, value });
    }
    if !avail.iter().any(|&a| a > 0.0) {
        return Err(PolicyError::NoActionAvailable { n_actions: spec.n_actions });
    }
    Ok(())
}

/// The most probable action (the first on ties).
pub fn greedy(probs: &[f32]) -> usize {
    let mut best = 0;
    for (i, &p) in probs.iter().enumerate() {
        if p > probs[best] {
            best = i;
        }
    }
    best
}
