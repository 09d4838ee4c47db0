//! MAPPO learns spread (N = 3): after 100k environment steps its greedy team
//! beats uniform-random agents by a wide margin.
//!
//! Measured here (seed 1, 500 greedy episodes vs 1,000 random ones): greedy
//! MAPPO -64.2, random -80.0 (a gap of 15.9; the preset's GAE lambda 0.6
//! starts slower and ends higher, docs/results.md); the assertion asks for
//! 8, well under that, so a real regression fails it and evaluation noise
//! (95% interval about ±1.4 here) does not. About 30 s on 2 idle cores.

mod common;

#[test]
fn mappo_beats_uniform_random_on_spread() {
    let (learned, random) = common::train_and_compare("mappo_spread.toml", 100_000, 1);
    let margin = learned.mean - random.mean;
    assert!(
        margin > 8.0,
        "MAPPO's greedy return {:.2} beats random {:.2} by only {margin:.2}",
        learned.mean,
        random.mean
    );
}
