//! MAPPO training throughput on spread (N = 3): environment steps per
//! wall-clock second, rollouts and learning included, on the CPU (or the
//! device `MURMUR_BENCH_DEVICE` names: cpu, cuda, auto).
//!
//! Two settings: EPyMARL's MAPPO defaults (10 parallel episodes, 4 epochs
//! of one minibatch, hidden 128, an actor without the head layer and a
//! 64-unit critic), to compare with its published speed, and murmur's
//! preset (configs/mappo_spread.toml: JaxMARL's recipe, 82 episodes, 4 x 4
//! minibatches). `cargo bench --bench mappo_training`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use murmur::train::config::Config;
use murmur::train::trainer::Trainer;

fn trainer(overrides: &[&str]) -> Trainer {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/mappo_spread.toml");
    let device = std::env::var("MURMUR_BENCH_DEVICE").unwrap_or_else(|_| "cpu".into());
    let mut o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    o.extend([format!("device=\"{device}\""), "eval_interval=0".into(), "t_max=100_000_000".into()]);
    Trainer::new(Config::load(&path, &o).expect("preset loads")).expect("trainer builds")
}

fn mappo_training(c: &mut Criterion) {
    let mut group = c.benchmark_group("mappo_spread_training");
    group.sample_size(10);
    let settings: [(&str, &[&str]); 2] = [
        (
            "epymarl_defaults_10eps_4epochs_h128",
            &[
                "batch_episodes=10",
                "mappo.epochs=4",
                "mappo.minibatches=1",
                "mappo.shuffle_minibatches=false",
                "mappo.agent_rewards=false",
                "mappo.critic_hidden=64",
                "actor.hidden=128",
                "actor.head_layer=false",
                "actor.observation_only=false",
            ],
        ),
        ("murmur_preset", &[]),
    ];
    for (name, overrides) in settings {
        let mut t = trainer(overrides);
        t.step().expect("warm-up update");
        let steps_per_update = t.progress().env_steps;
        group.throughput(Throughput::Elements(steps_per_update));
        group.bench_function(name, |b| {
            b.iter(|| {
                t.step().expect("update");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, mappo_training);
criterion_main!(benches);
