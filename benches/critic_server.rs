//! The server-side critic's cost per step of a hardware-in-the-loop
//! episode: reading a whole spread episode of 25 and of 100 steps, step by
//! step, as the coordinator does (criterion's throughput is steps per
//! second; one step's time is its inverse). Untrained critics: the cost
//! does not depend on the weights. `cargo bench --bench critic_server`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use murmur::hw::critic_server::ServerCritic;
use murmur::train::config::Config;
use murmur::train::trainer::Trainer;

/// A run directory of `learner` on spread with episodes of `steps` steps,
/// holding an untrained checkpoint.
fn run_dir(root: &std::path::Path, learner: &str, steps: usize) -> std::path::PathBuf {
    let preset = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("configs/{learner}_spread.toml"));
    let overrides = [format!("env.max_cycles={steps}"), "device=\"cpu\"".into(), "batch_episodes=4".into()];
    let mut trainer = Trainer::new(Config::load(&preset, &overrides).expect("preset loads")).expect("trainer");
    let dir = root.join(format!("{learner}-{steps}"));
    trainer.attach_run_dir(&dir, false).expect("run dir");
    trainer.save_checkpoint().expect("checkpoint");
    dir
}

fn critic_server(c: &mut Criterion) {
    tch::set_num_threads(1);
    let root = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("critic_server_step");
    group.sample_size(10);
    for learner in ["mappo", "coma", "maca"] {
        for steps in [25usize, 100] {
            let mut critic = ServerCritic::load(&run_dir(root.path(), learner, steps)).expect("critic loads");
            let d = critic.dims();
            let state = vec![0.1f32; d.state_dim];
            let obs = vec![0.2f32; d.n_agents * d.obs_dim];
            let avail = vec![1.0f32; d.n_agents * d.n_actions];
            let actions = vec![1usize; d.n_agents];
            let probs = vec![vec![1.0 / d.n_actions as f32; d.n_actions]; d.n_agents];
            group.throughput(Throughput::Elements(steps as u64));
            group.bench_function(BenchmarkId::new(learner, format!("{steps}_steps")), |b| {
                b.iter(|| {
                    critic.begin_episode();
                    for _ in 0..steps {
                        critic.read_step(&state, &obs, &avail, &actions, &probs).expect("step reads");
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, critic_server);
criterion_main!(benches);
