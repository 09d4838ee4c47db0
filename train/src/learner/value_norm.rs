//! MAPPO's running value normaliser: debiased exponential moving averages of
//! the mean and mean square of value targets (beta = 0.99999), so the critic
//! regresses on targets of roughly unit scale. The statistics live in a
//! non-trainable tensor of the learner's var store, so checkpoints keep them.

use tch::{nn, Kind, Tensor};

const BETA: f64 = 0.99999;
const EPS: f64 = 1e-5;
const MIN_VAR: f64 = 1e-2;

/// Running mean and variance of value targets.
#[derive(Debug)]
pub struct ValueNorm {
    /// `[running_mean, running_mean_sq, debiasing_term]`.
    stats: Tensor,
}

impl ValueNorm {
    /// Registers the statistics under `vs` (`stats`, length 3, zeros).
    pub fn new(vs: &nn::Path) -> Self {
        Self { stats: vs.zeros_no_train("stats", &[3]) }
    }

    fn read(&self) -> [f64; 3] {
        let v = Vec::<f64>::try_from(self.stats.to_kind(Kind::Double).to_device(tch::Device::Cpu))
            .expect("the statistics are a 1-D tensor this struct created");
        [v[0], v[1], v[2]]
    }

    /// Debiased mean and standard deviation.
    pub fn mean_std(&self) -> (f64, f64) {
        let [m, sq, debias] = self.read();
        let d = debias.max(EPS);
        let (mean, mean_sq) = (m / d, sq / d);
        (mean, (mean_sq - mean * mean).max(MIN_VAR).sqrt())
    }

    /// Folds in the entries of `x` where `mask` is 1.
    pub fn update(&mut self, x: &Tensor, mask: &Tensor) {
        let m = mask.expand_as(x).to_kind(Kind::Float);
        let count = m.sum(Kind::Double).double_value(&[]).max(1.0);
        let batch_mean = (x * &m).sum(Kind::Double).double_value(&[]) / count;
        let batch_sq = (x.square() * &m).sum(Kind::Double).double_value(&[]) / count;
        let [rm, rsq, debias] = self.read();
        let new =
            [rm * BETA + batch_mean * (1.0 - BETA), rsq * BETA + batch_sq * (1.0 - BETA), debias * BETA + (1.0 - BETA)];
        let new = Tensor::from_slice(&new).to_kind(self.stats.kind()).to_device(self.stats.device());
        tch::no_grad(|| self.stats.copy_(&new));
    }

    /// `(x - mean) / std`.
    pub fn normalize(&self, x: &Tensor) -> Tensor {
        let (mean, std) = self.mean_std();
        (x - mean) / std
    }

    /// `x * std + mean`.
    pub fn denormalize(&self, x: &Tensor) -> Tensor {
        let (mean, std) = self.mean_std();
        x * std + mean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_mean_and_std_and_inverts() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let mut norm = ValueNorm::new(&vs.root());
        let x = Tensor::from_slice(&[1.0f32, 3.0, 5.0, 100.0]);
        let mask = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 0.0]);
        norm.update(&x, &mask);
        // One update is fully debiased: mean 3, var = (1 + 9 + 25)/3 - 9.
        let (m, s) = norm.mean_std();
        assert!((m - 3.0).abs() < 1e-6 && (s - (35.0f64 / 3.0 - 9.0).sqrt()).abs() < 1e-6);
        let round = norm.denormalize(&norm.normalize(&x));
        assert!(round.allclose(&x, 1e-5, 1e-4, false));
        // A second, different batch moves the mean toward it.
        norm.update(&Tensor::from_slice(&[7.0f32]), &Tensor::from_slice(&[1.0f32]));
        assert!((norm.mean_std().0 - 5.0).abs() < 1e-3);
    }
}
