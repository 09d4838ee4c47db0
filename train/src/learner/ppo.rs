//! Pieces shared by the PPO-style learners (MAPPO, MACA, MAE): the PPO-clip
//! update loop ([`PpoClip`]), the clipped surrogate, minibatch splits, the
//! Huber value loss, advantage normalisation, and the time-aware value
//! targets of MAPPO's authors.

use tch::{Kind, Tensor};

use super::{masked_mean, scalar, taken};
use crate::actor::{entropy_of_log_probs, masked_log_probs, Actor};
use crate::buffer::EpisodeBatch;
use crate::optim::{descend, Optimizer};
use crate::Result;

/// Diagnostics of one actor step: policy loss, entropy, clip fraction and
/// mean ratio over valid entries.
pub(crate) type ActorStepStats = [f64; 4];

/// The settings of a PPO-clip actor update: `epochs` passes over a batch,
/// each split into `minibatches` runs of whole episodes, one clipped step
/// (ratio clip `clip`, entropy bonus `entropy_coef`, gradient-norm clip
/// `grad_clip`) per minibatch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PpoClip {
    pub epochs: usize,
    pub minibatches: usize,
    pub clip: f64,
    pub entropy_coef: f64,
    pub grad_clip: f64,
    /// Draw each epoch's minibatches from a fresh permutation of the
    /// episodes (JaxMARL's MAPPO) instead of the same contiguous splits.
    pub shuffle: bool,
    /// Standardise each minibatch's advantages before its step (JaxMARL's
    /// MAPPO), on top of whatever the learner did to the batch's.
    pub minibatch_advantage_norm: bool,
}

/// The episodes of one minibatch: a contiguous range of the batch, or the
/// indices of a shuffled draw.
#[derive(Debug)]
pub(crate) enum Minibatch {
    /// Episodes `start..start + len`.
    Range(i64, i64),
    /// These episodes `[len]` (int64).
    Indices(Tensor),
}

impl Minibatch {
    /// The minibatch's episodes of `x` `[T, B, ..]` -> `[T, len, ..]`.
    pub fn take(&self, x: &Tensor) -> Tensor {
        match self {
            Minibatch::Range(start, len) => x.narrow(1, *start, *len),
            Minibatch::Indices(idx) => x.index_select(1, idx),
        }
    }
}

/// What a PPO update reads of a batch, each `[T, B, n]`: the taken actions
/// (i64), the agents' advantages and the mask of valid entries.
pub(crate) struct PpoSamples {
    pub actions: Tensor,
    pub advantage: Tensor,
    pub mask: Tensor,
}

/// Mean diagnostics of a PPO update: the actor's ([`ActorStepStats`]) and
/// the `K` of the learner's own step after each actor step.
pub(crate) struct PpoStats<const K: usize> {
    pub actor: ActorStepStats,
    pub learner: [f64; K],
}

impl PpoClip {
    /// The settings of a learner's configuration table.
    pub fn new(epochs: usize, minibatches: usize, clip: f64, entropy_coef: f64, grad_clip: f64) -> Self {
        Self { epochs, minibatches, clip, entropy_coef, grad_clip, shuffle: false, minibatch_advantage_norm: false }
    }

    /// The same with shuffled minibatches (see [`Self::shuffle`]).
    pub fn shuffled(self, shuffle: bool) -> Self {
        Self { shuffle, ..self }
    }

    /// The same with advantages standardised per minibatch (see
    /// [`Self::minibatch_advantage_norm`]).
    pub fn minibatch_advantage_norm(self, on: bool) -> Self {
        Self { minibatch_advantage_norm: on, ..self }
    }

    /// Runs the update over `samples` of `episodes` episodes.
    /// `policy(start, len)` is the current policy's log-probabilities
    /// `[T, len, n, A]` on episodes `start..start + len` (with gradients);
    /// the ratio's denominator is the same policy before the first step.
    /// Each epoch first asks `refresh(epoch, &mut samples.advantage)` (a
    /// learner whose advantage depends on its critic recomputes it there);
    /// each minibatch then takes one actor step with `opt` and one step of
    /// the learner's own, `after(start, len)` (its critic), whose `K`
    /// diagnostics are averaged alongside.
    pub fn run<const K: usize>(
        &self,
        opt: &mut Optimizer,
        episodes: i64,
        samples: &mut PpoSamples,
        mut refresh: impl FnMut(usize, &mut Tensor),
        policy: impl Fn(&Minibatch) -> Tensor,
        mut after: impl FnMut(&Minibatch) -> Result<[f64; K]>,
    ) -> Result<PpoStats<K>> {
        let old_log_p = tch::no_grad(|| taken(&policy(&Minibatch::Range(0, episodes)), &samples.actions));
        let mut actor = [0.0f64; 4];
        let mut learner = [0.0f64; K];
        let mut count = 0.0;
        for epoch in 0..self.epochs {
            refresh(epoch, &mut samples.advantage);
            let order = self.shuffle.then(|| Tensor::randperm(episodes, (Kind::Int64, samples.actions.device())));
            for (start, len) in minibatches(episodes, self.minibatches) {
                let minibatch = match &order {
                    Some(order) => Minibatch::Indices(order.narrow(0, start, len)),
                    None => Minibatch::Range(start, len),
                };
                let mb = |x: &Tensor| minibatch.take(x);
                let mask = mb(&samples.mask);
                let advantage = mb(&samples.advantage);
                let advantage = if self.minibatch_advantage_norm { normalise(&advantage, &mask) } else { advantage };
                let step = actor_step(
                    opt,
                    &policy(&minibatch),
                    &mb(&samples.actions),
                    &mb(&old_log_p),
                    &advantage,
                    &mask,
                    self.clip,
                    self.entropy_coef,
                    self.grad_clip,
                )?;
                for (sum, v) in actor.iter_mut().zip(step) {
                    *sum += v;
                }
                for (sum, v) in learner.iter_mut().zip(after(&minibatch)?) {
                    *sum += v;
                }
                count += 1.0;
            }
        }
        Ok(PpoStats { actor: actor.map(|s| s / count), learner: learner.map(|s| s / count) })
    }
}

/// One clipped-surrogate step of the actor: `log_p` `[T, b, n, A]` the
/// current policy's log-probabilities (with gradients), `actions` `[T, b, n]`, `old_log_p`,
/// `advantage` and `mask` `[T, b, n]`; the loss also subtracts
/// `entropy_coef` times the mean entropy.
#[allow(clippy::too_many_arguments)]
fn actor_step(
    opt: &mut Optimizer,
    log_p: &Tensor,
    actions: &Tensor,
    old_log_p: &Tensor,
    advantage: &Tensor,
    mask: &Tensor,
    clip: f64,
    entropy_coef: f64,
    grad_clip: f64,
) -> Result<ActorStepStats> {
    let ratio = (taken(log_p, actions) - old_log_p).exp();
    let policy_loss = -masked_mean(&clipped_surrogate(&ratio, advantage, clip), mask);
    let ent = masked_mean(&entropy_of_log_probs(log_p), mask);
    descend(opt, &(&policy_loss - entropy_coef * &ent), grad_clip)?;
    Ok([
        scalar(&policy_loss),
        scalar(&ent),
        scalar(&clip_fraction(&ratio, mask, clip)),
        scalar(&masked_mean(&ratio, mask)),
    ])
}

/// The current policy's log-probabilities `[T, len, n, A]` on episodes `start..start + len` of
/// `batch`, re-running the recurrent actor in truncated chunks of
/// `chunk_len` steps, each restarting from the hidden state the rollout
/// recorded.
pub(crate) fn chunked_policy(actor: &Actor, batch: &EpisodeBatch, minibatch: &Minibatch, chunk_len: usize) -> Tensor {
    let t = batch.max_len();
    let n = batch.actions.size()[2];
    let mb = |x: &Tensor| minibatch.take(&x.narrow(0, 0, t));
    let len = mb(&batch.actions).size()[1];
    let rows = len * n;
    let x = mb(&batch.inputs).contiguous().view([t, rows, -1]);
    let h_rec = mb(&batch.hidden).contiguous().view([t, rows, -1]);
    let logits = actor.unroll(&x, &actor.initial_hidden(rows, x.device()), Some((&h_rec, chunk_len)));
    masked_log_probs(&logits.view([t, len, n, -1]), &mb(&batch.avail))
}

/// PPO's clipped surrogate `min(r A, clip(r, 1 - c, 1 + c) A)`, elementwise.
pub(crate) fn clipped_surrogate(ratio: &Tensor, advantage: &Tensor, clip: f64) -> Tensor {
    (ratio * advantage).min_other(&(ratio.clamp(1.0 - clip, 1.0 + clip) * advantage))
}

/// Fraction of valid entries whose ratio left the clip range.
pub(crate) fn clip_fraction(ratio: &Tensor, mask: &Tensor, clip: f64) -> Tensor {
    masked_mean(&(ratio - 1.0).abs().gt(clip).to_kind(Kind::Float), mask)
}

/// `(start, len)` of `k` contiguous minibatches of `b` episodes (the last
/// takes the remainder).
pub(crate) fn minibatches(b: i64, k: usize) -> impl Iterator<Item = (i64, i64)> {
    let k = k.max(1) as i64;
    let per = (b / k).max(1);
    (0..k).map(move |i| (i * per, if i + 1 == k { b - i * per } else { per }))
}

/// Huber loss of `e`, elementwise, with threshold `delta`.
pub(crate) fn huber(e: &Tensor, delta: f64) -> Tensor {
    let a = e.abs();
    let quadratic = a.clamp_max(delta);
    &quadratic * &quadratic * 0.5 + (a - &quadratic) * delta
}

/// The advantages a PPO update sees: `x` standardised over the entries
/// where `mask` is 1 when `on` (a learner's `advantage_norm`), else `x`.
pub(crate) fn normalise_if(on: bool, x: &Tensor, mask: &Tensor) -> Tensor {
    if on {
        normalise(x, mask)
    } else {
        x.shallow_clone()
    }
}

/// `x` standardised over the entries where `mask` is 1.
pub(crate) fn normalise(x: &Tensor, mask: &Tensor) -> Tensor {
    let mean = masked_mean(x, mask);
    let var = masked_mean(&(x - &mean).square(), mask);
    (x - mean) / (var.sqrt() + 1e-5)
}

/// Where values stop bootstrapping `[T, B]`: terminal states, and the
/// time-limit cut too unless `bootstrap_truncation`.
pub(crate) fn value_stops(batch: &EpisodeBatch, bootstrap_truncation: bool) -> Tensor {
    if bootstrap_truncation {
        return batch.terminated.shallow_clone();
    }
    let t = batch.max_len();
    let ended = batch.mask.narrow(0, 0, t) * (1.0 - batch.mask.narrow(0, 1, t));
    batch.terminated.maximum(&ended)
}

/// `x` `[T+1, B, .., F]` with the time step `t / episode_limit` appended as
/// feature `F`, row 0 being step `first_step`.
pub(crate) fn with_time(x: &Tensor, episode_limit: usize, first_step: i64) -> Tensor {
    let size = x.size();
    let mut shape = vec![1i64; size.len()];
    shape[0] = size[0];
    let steps = Tensor::arange_start(first_step, first_step + size[0], (Kind::Float, x.device()));
    let time = (steps / episode_limit as f64).view(shape.as_slice());
    let mut full = size.clone();
    *full.last_mut().expect("time is appended to tensors with a feature dimension") = 1;
    Tensor::cat(&[x.shallow_clone(), time.to_kind(x.kind()).expand(full.as_slice(), false)], -1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huber_is_quadratic_then_linear() {
        let e = Tensor::from_slice(&[0.5f32, -2.0, 30.0]);
        let v = Vec::<f32>::try_from(huber(&e, 10.0)).unwrap();
        assert_eq!(v, vec![0.125, 2.0, 50.0 + 200.0]);
    }

    #[test]
    fn minibatches_cover_every_episode_once() {
        assert_eq!(minibatches(10, 3).collect::<Vec<_>>(), vec![(0, 3), (3, 3), (6, 4)]);
        assert_eq!(minibatches(4, 1).collect::<Vec<_>>(), vec![(0, 4)]);
    }

    /// One epoch of two minibatches on a policy of free logits `[1, 4, 1, 2]`
    /// (4 episodes of one step, one agent, two actions, action 0 taken):
    /// the logits after the update.
    fn logits_after_update(advantage: &[f32], minibatch_norm: bool) -> Vec<f32> {
        tch::manual_seed(0);
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let logits = vs.root().zeros("logits", &[1, 4, 1, 2]);
        let mut opt = Optimizer::new(&vs, crate::optim::Rule::adam(1e-8), 0.1).unwrap();
        let mut samples = PpoSamples {
            actions: Tensor::zeros([1, 4, 1], (Kind::Int64, tch::Device::Cpu)),
            advantage: Tensor::from_slice(advantage).view([1, 4, 1]),
            mask: Tensor::ones([1, 4, 1], (Kind::Float, tch::Device::Cpu)),
        };
        let ppo = PpoClip::new(1, 2, 0.2, 0.0, 100.0).minibatch_advantage_norm(minibatch_norm);
        ppo.run(&mut opt, 4, &mut samples, |_, _| {}, |m| m.take(&logits).log_softmax(-1, Kind::Float), |_| Ok([]))
            .unwrap();
        Vec::<f32>::try_from(logits.detach().view([-1])).unwrap()
    }

    #[test]
    fn minibatch_normalisation_makes_each_step_blind_to_a_shift_of_its_advantages() {
        let advantage = [1.0f32, -1.0, 2.0, -2.0];
        let shifted = advantage.map(|a| a + 5.0);
        assert_eq!(logits_after_update(&advantage, true), logits_after_update(&shifted, true));
        // Without it, every shifted advantage is positive: action 0 rises
        // in all four episodes, where it fell in two before.
        let plain = logits_after_update(&shifted, false);
        assert!(plain.chunks(2).all(|l| l[0] > l[1]), "{plain:?}");
        let normalised = logits_after_update(&shifted, true);
        assert_eq!(normalised.chunks(2).filter(|l| l[0] > l[1]).count(), 2, "{normalised:?}");
    }

    #[test]
    fn surrogate_clips_only_in_the_direction_of_the_advantage() {
        let ratio = Tensor::from_slice(&[1.5f32, 1.5, 0.5, 0.5]);
        let adv = Tensor::from_slice(&[1.0f32, -1.0, 1.0, -1.0]);
        let s = Vec::<f32>::try_from(clipped_surrogate(&ratio, &adv, 0.2)).unwrap();
        assert_eq!(s, vec![1.2, -1.5, 0.5, -0.8]);
    }

    /// Advantages of a small scale (0.01) reach the update at unit scale
    /// when on (a learner's `advantage_norm`), measured over the valid entries only, and
    /// untouched without it. (Far smaller ones stop short of 1: the
    /// divisor is the standard deviation plus 1e-5.)
    #[test]
    fn advantage_norm_standardises_over_the_valid_entries() {
        tch::manual_seed(5);
        let f = (Kind::Double, tch::Device::Cpu);
        let advantage = Tensor::randn([6, 4, 3], f) * 1e-2 + 3e-2;
        // The last two steps of every episode are padding, with large values.
        let mask = Tensor::cat(&[Tensor::ones([4, 4, 3], f), Tensor::zeros([2, 4, 3], f)], 0);
        let advantage = &advantage + (1.0 - &mask) * 50.0;
        let normed = normalise_if(true, &advantage, &mask);
        let mean = masked_mean(&normed, &mask).double_value(&[]);
        let var = masked_mean(&(&normed - mean).square(), &mask).double_value(&[]);
        assert!(mean.abs() < 1e-6, "mean {mean}");
        assert!((var.sqrt() - 1.0).abs() < 0.01, "standard deviation {}", var.sqrt());
        let same = normalise_if(false, &advantage, &mask);
        assert!(same.equal(&advantage));
    }
}
