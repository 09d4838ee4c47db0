//! Shared by the learning tests: train a preset briefly and compare its
//! greedy return with uniform-random agents on the same task.

use murmur::train::config::Config;
use murmur::train::eval::{uniform_random_returns, ReturnStats};
use murmur::train::trainer::Trainer;

/// Greedy evaluation of a preset trained for `t_max` steps, and the
/// uniform-random baseline on the same environment.
pub fn train_and_compare(preset: &str, t_max: u64, seed: u64) -> (ReturnStats, ReturnStats) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs").join(preset);
    let overrides =
        [format!("t_max={t_max}"), format!("seed={seed}"), "eval_interval=0".into(), "device=\"cpu\"".into()];
    let cfg = Config::load(&path, &overrides).expect("preset loads");
    let mut trainer = Trainer::new(cfg.clone()).expect("trainer builds");
    trainer.train(|_| {}).expect("training runs");
    let learned = trainer.evaluate(500, true).expect("evaluation runs");
    let random = ReturnStats::of(&uniform_random_returns(cfg.env.build().as_mut(), 1000, 99));
    eprintln!("{preset}: {t_max} steps, seed {seed}\n  learned (greedy): {learned}\n  uniform random:   {random}");
    (learned, random)
}
