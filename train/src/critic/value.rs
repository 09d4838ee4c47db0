//! MAPPO's centralised state-value function V(s) (algorithms.md section 2):
//! `LayerNorm(s) -> Linear(h) -> ReLU -> Linear(h) -> ReLU -> Linear(1)`,
//! orthogonal initialisation. A feed-forward critic on the global state; the
//! actor is the recurrent part.

use tch::nn::{self, Module};
use tch::Tensor;

/// The state-value network.
#[derive(Debug)]
pub struct StateValue {
    norm: nn::LayerNorm,
    fc1: nn::Linear,
    fc2: nn::Linear,
    out: nn::Linear,
}

impl StateValue {
    /// A value network for states of length `state_dim`.
    pub fn new(vs: &nn::Path, state_dim: usize, hidden: usize) -> Self {
        let (s, h) = (state_dim as i64, hidden as i64);
        let gain = Some(2f64.sqrt());
        Self {
            norm: nn::layer_norm(vs / "input_norm", vec![s], Default::default()),
            fc1: super::linear(vs / "fc1", s, h, gain),
            fc2: super::linear(vs / "fc2", h, h, gain),
            out: super::linear(vs / "out", h, 1, Some(1.0)),
        }
    }

    /// Values `[.., state_dim]` -> `[..]` (in normalised units when the
    /// learner normalises values).
    pub fn forward(&self, state: &Tensor) -> Tensor {
        let x = self.fc1.forward(&self.norm.forward(state)).relu();
        self.out.forward(&self.fc2.forward(&x).relu()).squeeze_dim(-1)
    }
}
