//! MAPPO's centralised state-value function V(s) (docs/algorithms.md section 2):
//! `[LayerNorm(s)] -> Linear(h) -> ReLU -> Linear(h) -> ReLU -> Linear(1)`,
//! orthogonal or PyTorch's default initialisation. A feed-forward critic on
//! the global state; the actor is the recurrent part.

use tch::nn::{self, Module};
use tch::Tensor;

/// The state-value network.
#[derive(Debug)]
pub struct StateValue {
    norm: Option<nn::LayerNorm>,
    fc1: nn::Linear,
    fc2: nn::Linear,
    out: nn::Linear,
}

impl StateValue {
    /// A value network for states of length `state_dim`, with or without
    /// the LayerNorm on its input and the orthogonal initialisation (the
    /// MAPPO paper has both).
    pub fn new(vs: &nn::Path, state_dim: usize, hidden: usize, input_layer_norm: bool, orthogonal_init: bool) -> Self {
        let (s, h) = (state_dim as i64, hidden as i64);
        let gain = |g: f64| orthogonal_init.then_some(g);
        Self {
            norm: input_layer_norm.then(|| nn::layer_norm(vs / "input_norm", vec![s], Default::default())),
            fc1: super::linear(vs / "fc1", s, h, gain(2f64.sqrt())),
            fc2: super::linear(vs / "fc2", h, h, gain(2f64.sqrt())),
            out: super::linear(vs / "out", h, 1, gain(1.0)),
        }
    }

    /// Values `[.., state_dim]` -> `[..]` (in normalised units when the
    /// learner normalises values).
    pub fn forward(&self, state: &Tensor) -> Tensor {
        let x = match &self.norm {
            Some(norm) => self.fc1.forward(&norm.forward(state)).relu(),
            None => self.fc1.forward(state).relu(),
        };
        self.out.forward(&self.fc2.forward(&x).relu()).squeeze_dim(-1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn input_layer_norm_makes_the_value_blind_to_the_state_scale() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let normed = StateValue::new(&(vs.root() / "normed"), 6, 16, true, true);
        let plain = StateValue::new(&(vs.root() / "plain"), 6, 16, false, false);
        // States from a fixed formula, spread enough (row variances well
        // above LayerNorm's epsilon of 1e-5) that only the scale differs:
        // the other tests of this binary draw from libtorch's generator at
        // the same time, so random states here would vary from run to run.
        let s = (Tensor::arange(32 * 6, (Kind::Float, Device::Cpu)) * 0.7).sin().view([32, 6]) * 5.0;
        let change = |v: &StateValue| (v.forward(&s) - v.forward(&(&s * 2.0))).abs().max().double_value(&[]);
        // A team twice as far apart looks the same through the LayerNorm.
        assert!(change(&normed) < 1e-4, "{}", change(&normed));
        assert!(change(&plain) > 1e-2, "{}", change(&plain));
        let names = vs.variables();
        assert!(names.contains_key("normed.input_norm.weight") && !names.contains_key("plain.input_norm.weight"));
    }
}
