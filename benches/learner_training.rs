//! One training update of each online learner's spread preset (N = 3):
//! environment steps per wall-clock second, rollout and learning included,
//! on the CPU (or the device `MURMUR_BENCH_DEVICE` names: cpu, cuda,
//! auto). The critics differ most: LICA's and SeCA's mixing critics take
//! one optimiser step per time step of the batch on a hypernetwork of
//! about a million weights, MACA's transformer attends over the team.
//!
//! `cargo bench --bench learner_training` (MAPPO's two settings are in
//! `mappo_training`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use murmur::train::config::Config;
use murmur::train::trainer::Trainer;

fn trainer(learner: &str) -> Trainer {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("configs/{learner}_spread.toml"));
    let device = std::env::var("MURMUR_BENCH_DEVICE").unwrap_or_else(|_| "cpu".into());
    let overrides = [format!("device=\"{device}\""), "eval_interval=0".into(), "t_max=100_000_000".into()];
    Trainer::new(Config::load(&path, &overrides).expect("preset loads")).expect("trainer builds")
}

fn learner_training(c: &mut Criterion) {
    let mut group = c.benchmark_group("spread_training_update");
    group.sample_size(10);
    for learner in ["coma", "lica", "seca", "maca", "mae"] {
        let mut t = trainer(learner);
        t.step().expect("warm-up update");
        group.throughput(Throughput::Elements(t.progress().env_steps));
        group.bench_function(learner, |b| {
            b.iter(|| {
                t.step().expect("update");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, learner_training);
criterion_main!(benches);
