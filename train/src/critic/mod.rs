//! Centralised critics: they see the global state and never leave the
//! training server. One file per critic family.

mod coma;
mod mixing;
pub mod target;
pub(crate) mod td;
mod transformer;
mod value;

pub(crate) use coma::{coma_critic, coma_readout, counterfactual_advantage, train_coma_critic};
pub use coma::{ComaCritic, ComaInputs};
pub use mixing::{joint_one_hot, Hyper, MixingCritic, MixingCriticConfig};
pub(crate) use mixing::{mixing_critic, mixing_readout, train_mixing_critic};
pub use transformer::{correlated_sets, Encoded, TransformerCritic, TransformerDims};
pub use value::StateValue;

use tch::nn;

/// `Linear` with orthogonal weights of `gain` and zero bias, or PyTorch's
/// default initialisation.
pub(crate) fn linear(vs: nn::Path, i: i64, o: i64, orthogonal: Option<f64>) -> nn::Linear {
    let cfg = match orthogonal {
        Some(gain) => {
            nn::LinearConfig { ws_init: nn::Init::Orthogonal { gain }, bs_init: Some(nn::Init::Const(0.0)), bias: true }
        }
        None => nn::LinearConfig::default(),
    };
    nn::linear(vs, i, o, cfg)
}
