//! Return estimators over padded, time-major episode batches.
//!
//! Conventions (see [`crate::buffer::EpisodeBatch`]): `reward` and
//! `terminated` are `[T, B]`; `mask` is `[T+1, B]` (1 = step executed, row T
//! always 0); values are `[T+1, B, ...]` where the slot after an episode's
//! last step holds the value of the state it ended in. A step is an
//! episode's last when `mask[t] = 1` and `mask[t+1] = 0`; there a truncated
//! episode bootstraps from the value in slot `t+1` and a terminated one
//! does not.

use tch::Tensor;

/// Broadcasts a `[B]` row against values with extra trailing dims.
fn like(row: &Tensor, v: &Tensor) -> Tensor {
    let mut shape = row.size();
    shape.extend(std::iter::repeat_n(1, v.dim() - 1 - row.dim()));
    row.view(shape.as_slice())
}

/// TD(lambda) targets (docs/algorithms.md section 0), computed backwards:
/// `y_t = r_t + gamma (1 - d_t) ((1 - lambda) G_{t+1} + lambda y'_{t+1})`
/// where `y'_{t+1} = G_{t+1}` at an episode's last step, else `y_{t+1}`;
/// padding gets 0. `g` `[T+1, B, ...]` -> `[T, B, ...]`.
pub fn td_lambda_targets(
    reward: &Tensor,
    terminated: &Tensor,
    mask: &Tensor,
    g: &Tensor,
    gamma: f64,
    lambda: f64,
) -> Tensor {
    let t_len = reward.size()[0];
    let mut next_y = g.get(t_len); // only used where the episode ends
    let mut ys = Vec::with_capacity(t_len as usize);
    for t in (0..t_len).rev() {
        let (m, m_next) = (like(&mask.get(t), g), like(&mask.get(t + 1), g));
        let cont = 1.0 - like(&terminated.get(t), g);
        let g_next = g.get(t + 1);
        let last = &m * (1.0 - &m_next);
        let follow = &last * &g_next + (1.0 - &last) * &next_y;
        let bootstrap: Tensor = &g_next * (1.0 - lambda) + follow * lambda;
        let y: Tensor = &m * (like(&reward.get(t), g) + cont * gamma * bootstrap);
        ys.push(y.shallow_clone());
        next_y = y;
    }
    ys.reverse();
    Tensor::stack(&ys, 0)
}

/// Generalised advantage estimation: `delta_t = r_t + gamma (1 - d_t)
/// V_{t+1} - V_t`, `A_t = delta_t + gamma lambda (1 - d_t) A_{t+1}` within an
/// episode; padding gets 0. `values` `[T+1, B, ...]` -> advantages `[T, B, ...]`.
pub fn gae(reward: &Tensor, terminated: &Tensor, mask: &Tensor, values: &Tensor, gamma: f64, lambda: f64) -> Tensor {
    let t_len = reward.size()[0];
    let mut next_adv = values.get(0).zeros_like();
    let mut out = Vec::with_capacity(t_len as usize);
    for t in (0..t_len).rev() {
        let (m, m_next) = (like(&mask.get(t), values), like(&mask.get(t + 1), values));
        let cont = 1.0 - like(&terminated.get(t), values);
        let delta = like(&reward.get(t), values) + &cont * gamma * values.get(t + 1) - values.get(t);
        let adv: Tensor = &m * (delta + cont * m_next * (gamma * lambda) * &next_adv);
        out.push(adv.shallow_clone());
        next_adv = adv;
    }
    out.reverse();
    Tensor::stack(&out, 0)
}

/// `x` `[T+1, B, ...]` from row `k` on, padded with zeros to `rows` rows.
fn shifted(x: &Tensor, k: i64, rows: i64) -> Tensor {
    let start = k.min(x.size()[0]);
    let available = (x.size()[0] - start).min(rows);
    let mut pad = x.size();
    pad[0] = rows - available;
    Tensor::cat(&[x.narrow(0, start, available), Tensor::zeros(pad.as_slice(), (x.kind(), x.device()))], 0)
}

/// n-step returns (EPyMARL's MAPPO critic targets): `y_t = sum_{k<m} gamma^k
/// r_{t+k} + gamma^m (1 - d) V_{t+m}` where `m = n`, or fewer when the
/// episode's last step comes first; there the value of the state it ended
/// in (slot `t+m`) is bootstrapped unless `stops` marks that step; padding
/// gets 0. `reward`, `stops` `[T, B]`, `mask`, `values` `[T+1, B]` -> `[T, B]`.
pub fn nstep_returns(reward: &Tensor, stops: &Tensor, mask: &Tensor, values: &Tensor, gamma: f64, n: usize) -> Tensor {
    let (t_len, n) = (reward.size()[0], n as i64);
    let executed = mask.narrow(0, 0, t_len);
    let reward = reward * &executed;
    let mut y = reward.copy(); // accumulated in place: not a view of `reward`
    let mut running = executed.shallow_clone(); // the episode still runs at t+k-1
    for k in 1..=n {
        let discount = gamma.powi(k as i32);
        let (running_next, value) = (shifted(mask, k, t_len), shifted(values, k, t_len));
        // The episode's last step is t+k-1: bootstrap from slot t+k.
        let last = &running * (1.0 - &running_next) * (1.0 - shifted(stops, k - 1, t_len));
        y += last * &value * discount;
        if k < n {
            y += shifted(&reward, k, t_len) * discount;
        } else {
            // Still running at t+n: bootstrap from V_{t+n}.
            y += &running_next * value * discount;
        }
        running = running_next;
    }
    y * executed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(v).view(shape)
    }
    fn close(a: &Tensor, b: &[f32]) {
        let a = Vec::<f32>::try_from(a.contiguous().view([-1])).unwrap();
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    /// Two episodes, T = 3: episode 0 runs 3 steps and is truncated;
    /// episode 1 terminates after 2 steps (row 2 is padding).
    fn batch() -> (Tensor, Tensor, Tensor) {
        let reward = t(&[1.0, 2.0, 0.0, 4.0, 1.0, 0.0], &[3, 2]);
        let terminated = t(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0], &[3, 2]);
        let mask = t(&[1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0], &[4, 2]);
        (reward, terminated, mask)
    }

    #[test]
    fn td_lambda_matches_hand_computation() {
        let (r, d, m) = batch();
        // G rows t = 0..3 for episodes (0, 1); episode 1's slot 2 is the
        // (ignored) terminal state, slot 3 padding.
        let g = t(&[10.0, 20.0, 11.0, 21.0, 12.0, 22.0, 13.0, 23.0], &[4, 2]);
        let (gamma, lambda) = (0.9f32, 0.5f32);
        // Episode 0 (rewards 1, 0, 1): y2 = 1 + .9*13 = 12.7 (truncated:
        // bootstrap from G3); y1 = 0 + .9*(.5*12 + .5*12.7).
        let y2 = 1.0 + gamma * 13.0;
        let y1 = 0.0 + gamma * ((1.0 - lambda) * 12.0 + lambda * y2);
        let y0 = 1.0 + gamma * ((1.0 - lambda) * 11.0 + lambda * y1);
        // Episode 1: terminal at t = 1: y1 = 4; y0 = 2 + .9*(.5*21 + .5*4).
        let z1 = 4.0;
        let z0 = 2.0 + gamma * ((1.0 - lambda) * 21.0 + lambda * z1);
        let y = td_lambda_targets(&r, &d, &m, &g, 0.9, 0.5);
        close(&y, &[y0, z0, y1, z1, y2, 0.0]);
        // lambda = 0 is one-step TD; lambda = 1 the bootstrapped MC return.
        close(
            &td_lambda_targets(&r, &d, &m, &g, 0.9, 0.0),
            &[1.0 + 0.9 * 11.0, 2.0 + 0.9 * 21.0, 0.9 * 12.0, 4.0, y2, 0.0],
        );
        let mc0 = 1.0 + 0.9 * (0.9 * y2);
        close(&td_lambda_targets(&r, &d, &m, &g, 0.9, 1.0), &[mc0, 2.0 + 0.9 * 4.0, 0.9 * y2, 4.0, y2, 0.0]);
    }

    #[test]
    fn td_lambda_broadcasts_over_agents() {
        let (r, d, m) = batch();
        let g1 = t(&[10.0, 20.0, 11.0, 21.0, 12.0, 22.0, 13.0, 23.0], &[4, 2]);
        let g = Tensor::stack(&[&g1, &(&g1 * 2.0)], 2);
        let y = td_lambda_targets(&r, &d, &m, &g, 0.9, 0.5);
        let y_a = td_lambda_targets(&r, &d, &m, &g1, 0.9, 0.5);
        let y_b = td_lambda_targets(&r, &d, &m, &(&g1 * 2.0), 0.9, 0.5);
        assert!(y.select(2, 0).allclose(&y_a, 1e-6, 1e-6, false));
        assert!(y.select(2, 1).allclose(&y_b, 1e-6, 1e-6, false));
    }

    #[test]
    fn gae_matches_hand_computation() {
        let (r, d, m) = batch();
        let v = t(&[1.0, 2.0, 1.5, 3.0, 2.0, 9.0, 0.5, 9.0], &[4, 2]);
        let (g, l) = (0.9f32, 0.8f32);
        // Episode 0 (rewards 1, 0, 1; truncated after t = 2, bootstraps V3 = 0.5).
        let d2 = 1.0 + g * 0.5 - 2.0;
        let d1 = 0.0 + g * 2.0 - 1.5;
        let d0 = 1.0 + g * 1.5 - 1.0;
        let a2 = d2;
        let a1 = d1 + g * l * a2;
        let a0 = d0 + g * l * a1;
        // Episode 1 (terminal at t = 1: no bootstrap from V2 = 9).
        let e1 = 4.0 - 3.0;
        let e0 = 2.0 + g * 3.0 - 2.0 + g * l * e1;
        close(&gae(&r, &d, &m, &v, 0.9, 0.8), &[a0, e0, a1, e1, a2, 0.0]);
    }

    #[test]
    fn nstep_returns_match_hand_computation() {
        let (r, d, m) = batch();
        let v = t(&[1.0, 2.0, 1.5, 3.0, 2.0, 9.0, 0.5, 9.0], &[4, 2]);
        let g = 0.9f32;
        // Episode 0 (rewards 1, 0, 1; truncated after t = 2, bootstraps V3 = 0.5);
        // episode 1 (rewards 2, 4; terminal at t = 1).
        let two = nstep_returns(&r, &d, &m, &v, 0.9, 2);
        let y0 = 1.0 + g * 0.0 + g * g * 2.0; // still running at t = 2
        let y1 = 0.0 + g * 1.0 + g * g * 0.5; // ends at t = 2, bootstraps V3
        let y2 = 1.0 + g * 0.5;
        let z0 = 2.0 + g * 4.0; // terminal: no bootstrap
        close(&two, &[y0, z0, y1, 4.0, y2, 0.0]);
        // n = 1 is one-step TD; a long n is the bootstrapped Monte Carlo return.
        let one = nstep_returns(&r, &d, &m, &v, 0.9, 1);
        close(&one, &[1.0 + g * 1.5, 2.0 + g * 3.0, g * 2.0, 4.0, y2, 0.0]);
        let mc = nstep_returns(&r, &d, &m, &v, 0.9, 10);
        close(&mc, &[1.0 + g * y1, z0, y1, 4.0, y2, 0.0]);
        // A truncation that counts as a stop does not bootstrap.
        let stops = t(&[0.0, 0.0, 0.0, 1.0, 1.0, 0.0], &[3, 2]);
        close(&nstep_returns(&r, &stops, &m, &v, 0.9, 2), &[y0, z0, g * 1.0, 4.0, 1.0, 0.0]);
    }
}
