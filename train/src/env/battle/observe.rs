//! What the allies see (SMAX's "unit list" observation), the world state
//! the critics see, and the action masks.

use super::fused::{norm, FusedMulAdd};
use super::units::N_UNIT_TYPES;
use super::world::{World, MAP_SIZE, N_MOVE_ACTIONS};

/// Features per observed unit: health fraction, relative x and y over the
/// observer's sight, last move x and y, last attack (normalised), cooldown
/// fraction, type one-hot.
pub const UNIT_FEATURES: usize = 7 + N_UNIT_TYPES;
/// Features of the observer itself: health fraction, x and y over the map
/// size, cooldown fraction, type one-hot.
pub const OWN_FEATURES: usize = 4 + N_UNIT_TYPES;
/// State features per unit: health fraction, x, y, cooldown (seconds),
/// type one-hot, then (in two trailing blocks) team and type index.
pub const STATE_FEATURES: usize = OWN_FEATURES + 2;

/// Observation length for `n_allies` against `n_enemies`.
pub fn obs_dim(n_allies: usize, n_enemies: usize) -> usize {
    UNIT_FEATURES * (n_allies - 1) + UNIT_FEATURES * n_enemies + OWN_FEATURES
}

/// Writes what ally `i` observes: each other ally in order, then each
/// enemy, then itself; zeros for units it cannot see or for all of it when
/// dead. `out.len() == obs_dim`. `F` computes the distances' fused
/// multiply-adds.
#[inline(always)]
pub fn write_ally_obs<F: FusedMulAdd>(world: &World, i: usize, out: &mut [f32]) {
    out.fill(0.0);
    if !world.alive[i] {
        return;
    }
    let n = world.len();
    let me = world.types[i].stats();
    let at = world.pos[i];
    // The last action over the largest action index of the unit's side.
    let max_action = |j: usize| {
        let targets = if j < world.n_allies { world.n_enemies() } else { world.n_allies };
        (targets + N_MOVE_ACTIONS - 1) as f32
    };
    let (units, own) = out.split_at_mut((n - 1) * UNIT_FEATURES);
    let others = (0..n).filter(|&j| j != i);
    for (f, j) in units.chunks_exact_mut(UNIT_FEATURES).zip(others) {
        let d = [world.pos[j][0] - at[0], world.pos[j][1] - at[1]];
        if !(world.alive[j] && norm::<F>(d) < me.sight_range) {
            continue;
        }
        let them = world.types[j].stats();
        f[0] = world.health[j] / them.health;
        f[1] = d[0] / me.sight_range;
        f[2] = d[1] / me.sight_range;
        f[3] = world.prev_move[j][0];
        f[4] = world.prev_move[j][1];
        f[5] = world.prev_attack[j] as f32 / max_action(j);
        f[6] = (world.cooldown[j] / them.cooldown).clamp(0.0, 1.0);
        f[7 + world.types[j].index()] = 1.0;
    }
    own[0] = world.health[i] / me.health;
    own[1] = at[0] / MAP_SIZE;
    own[2] = at[1] / MAP_SIZE;
    own[3] = (world.cooldown[i] / me.cooldown).clamp(0.0, 1.0);
    own[4 + world.types[i].index()] = 1.0;
}

/// Writes the world state: per unit (allies then enemies) health fraction,
/// x, y, cooldown in seconds and type one-hot (zeros when dead), then every
/// unit's team (0 ally, 1 enemy), then every unit's type index.
/// `out.len() == STATE_FEATURES * units`.
pub fn write_state(world: &World, out: &mut [f32]) {
    out.fill(0.0);
    let n = world.len();
    for i in (0..n).filter(|&i| world.alive[i]) {
        let f = &mut out[i * OWN_FEATURES..(i + 1) * OWN_FEATURES];
        let stats = world.types[i].stats();
        f[0] = world.health[i] / stats.health;
        f[1] = world.pos[i][0];
        f[2] = world.pos[i][1];
        f[3] = world.cooldown[i];
        f[4 + world.types[i].index()] = 1.0;
    }
    let (teams, types) = out[n * OWN_FEATURES..].split_at_mut(n);
    for i in 0..n {
        teams[i] = if i < world.n_allies { 0.0 } else { 1.0 };
        types[i] = world.types[i].index() as f32;
    }
}

/// Writes ally `i`'s action mask: moves while alive, stop always, attack
/// enemy `k` while both live and `k` is within attack range. `F` computes
/// the distances' fused multiply-adds.
#[inline(always)]
pub fn write_ally_avail<F: FusedMulAdd>(world: &World, i: usize, out: &mut [f32]) {
    out.fill(0.0);
    let alive = world.alive[i];
    let range = world.types[i].stats().attack_range;
    for a in out.iter_mut().take(N_MOVE_ACTIONS - 1) {
        *a = if alive { 1.0 } else { 0.0 };
    }
    out[N_MOVE_ACTIONS - 1] = 1.0;
    for k in 0..world.n_enemies() {
        let j = world.n_allies + k;
        let d = [world.pos[j][0] - world.pos[i][0], world.pos[j][1] - world.pos[i][1]];
        if alive && world.alive[j] && norm::<F>(d) < range {
            out[N_MOVE_ACTIONS + k] = 1.0;
        }
    }
}
