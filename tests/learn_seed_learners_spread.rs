//! LICA, SeCA, MACA and MAE learn spread (N = 3): after 100k environment steps
//! each greedy team beats uniform-random agents.
//!
//! Measured here (seed 1, 500 greedy episodes against 1,000 random ones,
//! random -80.0): the figures are in each test's doc. The three together
//! took 76 s in a release build and 49 s in `make test` on 2 cores. The
//! assertions ask for a margin of 5, under every measured one, so a learner
//! that stops learning fails and evaluation noise (a standard error near
//! 0.7) does not.

mod common;

fn assert_margin(preset: &str, at_least: f64) {
    let (learned, random) = common::train_and_compare(preset, 100_000, 1);
    let margin = learned.mean - random.mean;
    assert!(
        margin > at_least,
        "{preset}: greedy return {:.2} beats random {:.2} by only {margin:.2} (at least {at_least} expected)",
        learned.mean,
        random.mean
    );
}

/// Measured: LICA -61.9, margin 18.1.
#[test]
fn lica_beats_uniform_random_on_spread() {
    assert_margin("lica_spread.toml", 5.0);
}

/// Measured: SeCA -68.2, margin 11.8.
#[test]
fn seca_beats_uniform_random_on_spread() {
    assert_margin("seca_spread.toml", 5.0);
}

/// Measured: MAE -66.5, margin 13.5.
#[test]
fn mae_beats_uniform_random_on_spread() {
    assert_margin("mae_spread.toml", 5.0);
}

/// Measured: MACA (attention coefficients) -60.5, margin 19.5.
#[test]
fn maca_beats_uniform_random_on_spread() {
    assert_margin("maca_spread.toml", 5.0);
}
