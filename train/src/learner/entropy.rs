//! The entropy term of an actor loss (docs/algorithms.md section 0).

use serde::{Deserialize, Serialize};
use tch::Tensor;

/// How the entropy bonus enters an actor loss (docs/algorithms.md section 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntropyMode {
    /// `-(xi / stop_gradient(H)) H`: the gradient is `xi grad(H) / H`,
    /// stronger as the policy turns deterministic (LICA, SeCA).
    Adaptive,
    /// `-beta H` (the ablation).
    Vanilla,
}

/// The term to add to an actor loss for mean policy entropy `h` (a scalar
/// tensor with gradient): `-(coef / stop_gradient(h)) h` (adaptive: the
/// gradient is `coef grad(h) / h`) or `-coef h` (vanilla).
pub(crate) fn entropy_term(h: &Tensor, mode: EntropyMode, coef: f64) -> Tensor {
    match mode {
        EntropyMode::Adaptive => -(h / h.detach().clamp_min(1e-8)) * coef,
        EntropyMode::Vanilla => -(h * coef),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::entropy;
    use tch::{Kind, Tensor};

    /// The adaptive term's gradient equals xi grad(H) / H, against autograd
    /// of H itself on a fixed batch of logits.
    #[test]
    fn adaptive_gradient_is_xi_grad_h_over_h() {
        tch::manual_seed(11);
        let logits = Tensor::randn([8, 3, 5], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
        let h = || entropy(&logits.softmax(-1, Kind::Float)).mean(Kind::Float);
        let xi = 0.06;
        let term = entropy_term(&h(), EntropyMode::Adaptive, xi);
        let got = Tensor::run_backward(&[term], &[&logits], false, false).remove(0);
        let h_value = h();
        let grad_h = Tensor::run_backward(&[&h_value], &[&logits], false, false).remove(0);
        let want = grad_h * (-xi / h_value.double_value(&[]));
        let err = (got - &want).abs().max().double_value(&[]);
        assert!(err < 1e-7, "max error {err}");
        assert!(want.abs().max().double_value(&[]) > 1e-4, "a vanishing gradient proves nothing");
        // Vanilla: -beta grad(H).
        let got = Tensor::run_backward(&[entropy_term(&h(), EntropyMode::Vanilla, xi)], &[&logits], false, false);
        let want = Tensor::run_backward(&[h()], &[&logits], false, false).remove(0) * -xi;
        assert!((&got[0] - want).abs().max().double_value(&[]) < 1e-8);
    }
}
