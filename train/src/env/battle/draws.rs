//! Where a battle's random numbers come from during an episode.
//!
//! Stepping draws two things: the jitter added to a unit's cooldown after
//! each shot, and the visible ally a heuristic enemy walks towards. They
//! sit behind [`BattleDraws`] so that a replay can feed the numbers another
//! implementation drew (train/tests/replay/smax_battle.rs replays JaxMARL's).

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// A source of the random numbers a battle step needs.
pub trait BattleDraws: Send {
    /// Starts an episode from `seed`.
    fn reset(&mut self, seed: u64);
    /// The jitter, in seconds within `[-tick, 2 tick)`, added to the base
    /// cooldown of `unit` after it shoots in tick `tick_index` (0..8) of
    /// the coming step; `tick` is the tick's length in seconds.
    fn cooldown_jitter(&mut self, tick_index: usize, unit: usize, tick: f32) -> f32;
    /// Which ally heuristic enemy `enemy` (0-based among enemies) walks
    /// towards: an index `k` with `visible[k]`, where `visible` lists the
    /// allies in the order the enemy observes them. At least one is visible.
    fn target_choice(&mut self, enemy: usize, visible: &[bool]) -> usize;
}

/// murmur's own draws: uniform jitter and a uniform choice among the
/// visible allies, from a PCG generator seeded per episode.
#[derive(Debug, Clone)]
pub struct RandomDraws {
    rng: Pcg64,
}

impl Default for RandomDraws {
    fn default() -> Self {
        Self { rng: Pcg64::seed_from_u64(0) }
    }
}

impl BattleDraws for RandomDraws {
    fn reset(&mut self, seed: u64) {
        self.rng = Pcg64::seed_from_u64(seed);
    }

    fn cooldown_jitter(&mut self, _tick_index: usize, _unit: usize, tick: f32) -> f32 {
        self.rng.random_range(-tick..2.0 * tick)
    }

    fn target_choice(&mut self, _enemy: usize, visible: &[bool]) -> usize {
        let count = visible.iter().filter(|&&v| v).count();
        let pick = self.rng.random_range(0..count.max(1));
        visible.iter().enumerate().filter(|(_, &v)| v).nth(pick).map_or(0, |(k, _)| k)
    }
}
