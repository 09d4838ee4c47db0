//! Pieces shared by the PPO-style learners (MAPPO, MACA, MAE): the clipped
//! surrogate, minibatch splits, the Huber value loss, advantage
//! normalisation, and the time-aware value targets of MAPPO's authors.

use tch::{nn, Kind, Tensor};

use super::{descend, masked_mean, scalar, taken};
use crate::actor::{entropy, masked_probs, Actor};
use crate::buffer::EpisodeBatch;

/// Diagnostics of one actor step: policy loss, entropy, clip fraction and
/// mean ratio over valid entries.
pub(crate) type ActorStepStats = [f64; 4];

/// One clipped-surrogate step of the actor: `probs` `[T, b, n, A]` the
/// current policy (with gradients), `actions` `[T, b, n]`, `old_log_p`,
/// `advantage` and `mask` `[T, b, n]`; the loss also subtracts
/// `entropy_coef` times the mean entropy.
#[allow(clippy::too_many_arguments)]
pub(crate) fn actor_step(
    opt: &mut nn::Optimizer,
    probs: &Tensor,
    actions: &Tensor,
    old_log_p: &Tensor,
    advantage: &Tensor,
    mask: &Tensor,
    clip: f64,
    entropy_coef: f64,
    grad_clip: f64,
) -> ActorStepStats {
    let ratio = (taken(probs, actions).clamp_min(1e-10).log() - old_log_p).exp();
    let policy_loss = -masked_mean(&clipped_surrogate(&ratio, advantage, clip), mask);
    let ent = masked_mean(&entropy(probs), mask);
    descend(opt, &(&policy_loss - entropy_coef * &ent), grad_clip);
    [scalar(&policy_loss), scalar(&ent), scalar(&clip_fraction(&ratio, mask, clip)), scalar(&masked_mean(&ratio, mask))]
}

/// The current policy `[T, len, n, A]` on episodes `start..start + len` of
/// `batch`, re-running the recurrent actor in truncated chunks of
/// `chunk_len` steps, each restarting from the hidden state the rollout
/// recorded.
pub(crate) fn chunked_policy(actor: &Actor, batch: &EpisodeBatch, start: i64, len: i64, chunk_len: usize) -> Tensor {
    let t = batch.max_len();
    let n = batch.actions.size()[2];
    let rows = len * n;
    let mb = |x: &Tensor| x.narrow(0, 0, t).narrow(1, start, len);
    let x = mb(&batch.inputs).contiguous().view([t, rows, -1]);
    let h_rec = mb(&batch.hidden).contiguous().view([t, rows, -1]);
    let logits = actor.unroll(&x, &actor.initial_hidden(rows, x.device()), Some((&h_rec, chunk_len)));
    masked_probs(&logits.view([t, len, n, -1]), &mb(&batch.avail))
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
/// feature `F` (episodes start at row 0).
pub(crate) fn with_time(x: &Tensor, episode_limit: usize) -> Tensor {
    let size = x.size();
    let mut shape = vec![1i64; size.len()];
    shape[0] = size[0];
    let time = (Tensor::arange(size[0], (Kind::Float, x.device())) / episode_limit as f64).view(shape.as_slice());
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

    #[test]
    fn surrogate_clips_only_in_the_direction_of_the_advantage() {
        let ratio = Tensor::from_slice(&[1.5f32, 1.5, 0.5, 0.5]);
        let adv = Tensor::from_slice(&[1.0f32, -1.0, 1.0, -1.0]);
        let s = Vec::<f32>::try_from(clipped_surrogate(&ratio, &adv, 0.2)).unwrap();
        assert_eq!(s, vec![1.2, -1.5, 0.5, -0.8]);
    }
}
