//! Optimisers whose state a checkpoint keeps: Adam and RMSprop with the
//! update equations of libtorch's C++ optimisers, their moments held here so
//! that a resumed run continues with them (tch's optimisers hide their
//! state, so a resume used to restart Adam's moments from zero).
//!
//! Gradients are cleared through libtorch (PyTorch's `set_to_none`), and a
//! parameter without a gradient is skipped by a step, moments and step count
//! included, as torch's optimisers do. The arithmetic differs from libtorch's
//! in the last bit (its fused `add(x, alpha)` has no tch binding), so runs
//! are not bit-identical to ones made with `tch::nn::Optimizer`.

use std::sync::{Arc, Mutex};

use tch::nn::{self, Variables};
use tch::{COptimizer, Tensor};

use crate::state::TrainingState;
use crate::Result;

/// Which update rule an [`Optimizer`] applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Adam (Kingma and Ba 2015) with bias correction, no weight decay.
    Adam {
        /// Decay of the first moment.
        beta1: f64,
        /// Decay of the second moment.
        beta2: f64,
        /// Added to the root of the second moment.
        eps: f64,
    },
    /// RMSprop without momentum or centring, as PyTorch defines it.
    RmsProp {
        /// Decay of the mean square.
        alpha: f64,
        /// Added to the root of the mean square.
        eps: f64,
    },
}

impl Rule {
    /// Adam with PyTorch's betas (0.9, 0.999) and epsilon `eps`.
    pub fn adam(eps: f64) -> Self {
        Self::Adam { beta1: 0.9, beta2: 0.999, eps }
    }
}

/// How a learning rate moves over a run: a learner sets its optimisers'
/// rate to `lr * factor` before each update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// The configured rate throughout.
    #[default]
    Constant,
    /// From the configured rate at the first update linearly down to 0 at
    /// the run's budget (JaxMARL's and CleanRL's `anneal_lr`).
    Linear,
}

impl LrSchedule {
    /// The factor on the configured rate for an update that starts after
    /// `env_steps` of a `t_max`-step run (0 at or past the budget).
    pub fn factor(self, env_steps: u64, t_max: u64) -> f64 {
        match self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Linear if t_max == 0 => 1.0,
            LrSchedule::Linear => (1.0 - env_steps as f64 / t_max as f64).max(0.0),
        }
    }
}

/// One parameter's state: its step count and moments (Adam: first and
/// second; RMSprop: the mean square only), and a buffer of the parameter's
/// shape that a step works in. The buffer is why a step allocates
/// nothing: with a temporary per operation, a mixing critic's million-weight
/// hypernetwork spent more time in page faults than in arithmetic.
struct ParamState {
    steps: u64,
    first: Tensor,
    second: Tensor,
    scratch: Tensor,
}

/// A gradient-descent optimiser over the trainable variables of a var
/// store (including ones added to the store later).
pub struct Optimizer {
    rule: Rule,
    /// The configured rate; [`Optimizer::schedule`] scales from it.
    base_lr: f64,
    lr: f64,
    variables: Arc<Mutex<Variables>>,
    params: Vec<Tensor>,
    state: Vec<ParamState>,
    /// Clears gradients the way libtorch does (to undefined); never steps.
    clearer: COptimizer,
}

impl std::fmt::Debug for Optimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Optimizer")
            .field("rule", &self.rule)
            .field("lr", &self.lr)
            .field("params", &self.params.len())
            .finish()
    }
}

impl Optimizer {
    /// An optimiser of `vs`'s trainable variables at learning rate `lr`.
    pub fn new(vs: &nn::VarStore, rule: Rule, lr: f64) -> Result<Self> {
        let mut opt = Self {
            rule,
            base_lr: lr,
            lr,
            variables: vs.variables_.clone(),
            params: Vec::new(),
            state: Vec::new(),
            clearer: COptimizer::sgd(0.0, 0.0, 0.0, 0.0, false)?,
        };
        opt.add_missing()?;
        Ok(opt)
    }

    /// Takes in variables created in the store since the last call.
    fn add_missing(&mut self) -> Result<()> {
        let vars = self.variables.lock().expect("a var store's lock is never poisoned by this crate");
        for var in &vars.trainable_variables[self.params.len()..] {
            self.clearer.add_parameters(&var.tensor, 0)?;
            let zeros = || tch::no_grad(|| var.tensor.zeros_like());
            let second = zeros();
            let first = if matches!(self.rule, Rule::Adam { .. }) { zeros() } else { Tensor::new() };
            self.state.push(ParamState { steps: 0, first, second, scratch: zeros() });
            self.params.push(var.tensor.shallow_clone());
        }
        Ok(())
    }

    /// Sets the learning rate to `factor` times the one it was built with
    /// (a run's [`LrSchedule`] at this point of the budget).
    pub fn schedule(&mut self, factor: f64) {
        self.lr = self.base_lr * factor;
    }

    /// Clears every parameter's gradient (to undefined).
    pub fn zero_grad(&mut self) -> Result<()> {
        self.add_missing()?;
        self.clearer.zero_grad()?;
        Ok(())
    }

    /// Scales the gradients down so that their global L2 norm is at most
    /// `max` (PyTorch's `clip_grad_norm_`, epsilon 1e-6).
    pub fn clip_grad_norm(&self, max: f64) {
        tch::no_grad(|| {
            let grads: Vec<Tensor> = self.params.iter().map(Tensor::grad).filter(Tensor::defined).collect();
            if grads.is_empty() {
                return;
            }
            let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
            let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
            let coef = max / (total + 1e-6);
            if coef < 1.0 {
                for mut g in grads {
                    let _ = g.g_mul_scalar_(coef);
                }
            }
        });
    }

    /// One update of every parameter that has a gradient, in place: no
    /// tensor is allocated.
    pub fn step(&mut self) -> Result<()> {
        self.add_missing()?;
        let lr = self.lr;
        tch::no_grad(|| {
            for (p, s) in self.params.iter().zip(self.state.iter_mut()) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                s.steps += 1;
                let mut p = p.shallow_clone();
                // Both rules move the square of the gradient into a running
                // mean: `second += (1 - decay) (g^2 - second)`.
                let (decay, eps) = match self.rule {
                    Rule::Adam { beta2, eps, .. } => (beta2, eps),
                    Rule::RmsProp { alpha, eps } => (alpha, eps),
                };
                let _ = g.mul_out(&s.scratch, &g);
                let _ = s.second.lerp_(&s.scratch, 1.0 - decay);
                let _ = s.second.sqrt_out(&s.scratch);
                // The step is `numerator / (scratch * divisor)`; with a rate
                // of 0 (a linear schedule's end) the parameter stays put.
                let (numerator, divisor) = match self.rule {
                    Rule::Adam { beta1, beta2, .. } => {
                        let bias1 = 1.0 - beta1.powf(s.steps as f64);
                        let bias2 = 1.0 - beta2.powf(s.steps as f64);
                        let _ = s.first.lerp_(&g, 1.0 - beta1);
                        let _ = s.scratch.g_div_scalar_(bias2.sqrt());
                        (&s.first, -bias1 / lr)
                    }
                    Rule::RmsProp { .. } => (&g, -1.0 / lr),
                };
                if lr == 0.0 {
                    continue;
                }
                let _ = s.scratch.g_add_scalar_(eps).g_mul_scalar_(divisor);
                let _ = p.addcdiv_(numerator, &s.scratch);
            }
        });
        Ok(())
    }

    /// Saves the moments and step counts under `prefix/`.
    pub fn save_state(&self, prefix: &str, state: &mut TrainingState) {
        let steps: Vec<u64> = self.state.iter().map(|s| s.steps).collect();
        state.put_u64s(&format!("{prefix}/steps"), &steps);
        for (i, s) in self.state.iter().enumerate() {
            if s.first.defined() {
                state.put(&format!("{prefix}/first/{i}"), &s.first);
            }
            state.put(&format!("{prefix}/second/{i}"), &s.second);
        }
    }

    /// Restores what [`save_state`](Self::save_state) saved under `prefix/`,
    /// refusing a state of other parameters (count or shapes).
    pub fn load_state(&mut self, prefix: &str, state: &TrainingState) -> Result<()> {
        self.add_missing()?;
        let steps = state.get_u64s(&format!("{prefix}/steps"), Some(self.state.len()))?;
        tch::no_grad(|| -> Result<()> {
            for (i, (s, steps)) in self.state.iter_mut().zip(steps).enumerate() {
                s.steps = steps;
                if s.first.defined() {
                    s.first.copy_(&state.get_like(&format!("{prefix}/first/{i}"), &s.first)?);
                }
                s.second.copy_(&state.get_like(&format!("{prefix}/second/{i}"), &s.second)?);
            }
            Ok(())
        })
    }
}

/// One optimiser step on `loss` with its gradient norm clipped to `grad_clip`.
pub(crate) fn descend(opt: &mut Optimizer, loss: &Tensor, grad_clip: f64) -> Result<()> {
    opt.zero_grad()?;
    loss.backward();
    opt.clip_grad_norm(grad_clip);
    opt.step()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linear_schedule_falls_from_the_rate_to_zero_at_the_budget() {
        let f = |steps| LrSchedule::Linear.factor(steps, 1000);
        assert_eq!((f(0), f(250), f(1000), f(1200)), (1.0, 0.75, 0.0, 0.0));
        assert_eq!(LrSchedule::Constant.factor(900, 1000), 1.0);
    }
    use tch::nn::OptimizerConfig;
    use tch::Kind;

    /// Fixed pseudo-random numbers `[rows, cols]` (not libtorch's generator,
    /// which tests running in parallel share).
    fn fixed(rows: i64, cols: i64, phase: f64) -> Tensor {
        (Tensor::arange(rows * cols, (Kind::Float, tch::Device::Cpu)) * 0.737 + phase).sin().view([rows, cols])
    }

    /// A small regression problem: weights `w` `[4, 3]`, loss `|x w - y|^2`.
    fn problem() -> (nn::VarStore, Tensor, Tensor) {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let w = vs.root().zeros("w", &[4, 3]);
        tch::no_grad(|| w.shallow_clone().copy_(&fixed(4, 3, 0.3)));
        let _ = vs.root().zeros("unused", &[2]);
        (vs, fixed(16, 4, 1.1), fixed(16, 3, 2.9) * 2.0)
    }

    fn loss(vs: &nn::VarStore, x: &Tensor, y: &Tensor) -> Tensor {
        (x.matmul(&vs.variables()["w"]) - y).square().mean(Kind::Float)
    }

    /// The largest difference between the weights after 50 clipped steps
    /// with ours and with libtorch's optimiser for `rule`.
    fn gap_to_libtorch(rule: Rule, theirs: impl OptimizerConfig) -> f64 {
        let (ours_vs, x, y) = problem();
        let (theirs_vs, _, _) = problem();
        let mut ours = Optimizer::new(&ours_vs, rule, 0.01).unwrap();
        let mut theirs = theirs.build(&theirs_vs, 0.01).unwrap();
        for _ in 0..50 {
            descend(&mut ours, &loss(&ours_vs, &x, &y), 0.5).unwrap();
            theirs.zero_grad();
            loss(&theirs_vs, &x, &y).backward();
            theirs.clip_grad_norm(0.5);
            theirs.step();
        }
        let w = |vs: &nn::VarStore| vs.variables()["w"].copy();
        assert!((w(&ours_vs) - w(&problem().0)).abs().max().double_value(&[]) > 0.1, "the weights moved");
        assert_eq!(ours_vs.variables()["unused"].abs().sum(Kind::Float).double_value(&[]), 0.0);
        (w(&ours_vs) - w(&theirs_vs)).abs().max().double_value(&[])
    }

    #[test]
    fn adam_and_rmsprop_follow_libtorch_to_float_rounding() {
        let adam = gap_to_libtorch(Rule::adam(1e-8), nn::Adam::default());
        assert!(adam < 1e-5, "Adam drifted {adam} from libtorch's");
        let rms =
            gap_to_libtorch(Rule::RmsProp { alpha: 0.99, eps: 1e-5 }, nn::RmsProp { eps: 1e-5, ..Default::default() });
        assert!(rms < 1e-5, "RMSprop drifted {rms} from libtorch's");
        println!("after 50 steps, largest weight difference to libtorch: Adam {adam:e}, RMSprop {rms:e}");
    }

    #[test]
    fn restored_state_continues_exactly() {
        let run = |stop_at: Option<usize>| {
            let (vs, x, y) = problem();
            let mut opt = Optimizer::new(&vs, Rule::adam(1e-8), 0.01).unwrap();
            for i in 0..20 {
                if Some(i) == stop_at {
                    let mut state = TrainingState::default();
                    opt.save_state("opt", &mut state);
                    opt = Optimizer::new(&vs, Rule::adam(1e-8), 0.01).unwrap();
                    opt.load_state("opt", &state).unwrap();
                }
                descend(&mut opt, &loss(&vs, &x, &y), 1.0).unwrap();
            }
            vs.variables()["w"].copy()
        };
        let straight = run(None);
        assert!(run(Some(7)).equal(&straight), "a restored optimiser continues bit for bit");
        // Without its moments, the same optimiser lands elsewhere.
        let (vs, x, y) = problem();
        let mut opt = Optimizer::new(&vs, Rule::adam(1e-8), 0.01).unwrap();
        for i in 0..20 {
            if i == 7 {
                opt = Optimizer::new(&vs, Rule::adam(1e-8), 0.01).unwrap();
            }
            descend(&mut opt, &loss(&vs, &x, &y), 1.0).unwrap();
        }
        assert!(!vs.variables()["w"].equal(&straight));
    }
}
