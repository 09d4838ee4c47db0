//! Offline learning's speeds: reading a dataset from disk (every file's
//! SHA-256 checked and its tensors parsed; transitions per second), drawing
//! a training batch from memory (transitions per second), and one update of
//! each offline learner on 32 spread episodes (updates per second: the
//! batch draw included). One libtorch thread. `cargo bench --bench offline`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use murmur::runtime::ActorSpec;
use murmur::train::config::Config;
use murmur::train::dataset::collect::{self, Behaviour};
use murmur::train::dataset::{DatasetBatches, DatasetReader, DatasetWriter};
use murmur::train::env::batch::Dims;
use murmur::train::trainer::Trainer;

const EPISODES: usize = 64;

fn offline(c: &mut Criterion) {
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let preset = |name: &str| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs").join(name);
    let cfg = Config::load(&preset("bc_spread.toml"), &[]).expect("preset loads");
    let env_cfg = cfg.env.clone();
    let make_env = move || env_cfg.build();
    let dims = Dims::of(&make_env());
    let mut writer = DatasetWriter::open(dir.path(), collect::header_for("spread", dims, 0), None).expect("dataset");
    collect::collect(&make_env, Behaviour::Random, EPISODES, 32, 1, &mut writer, |_| {}).expect("collects");
    let transitions = (EPISODES * 25) as u64;

    let mut group = c.benchmark_group("offline_dataset");
    group.sample_size(10);
    group.throughput(Throughput::Elements(transitions));
    group.bench_function("read_and_verify_from_disk", |b| {
        b.iter(|| DatasetReader::open(dir.path()).and_then(|r| r.episodes()).expect("reads"))
    });
    let spec = ActorSpec { obs_dim: dims.obs_dim, n_actions: dims.n_actions, n_agents: dims.n_agents, hidden: 64 };
    let data = DatasetBatches::load(dir.path(), spec, tch::Device::Cpu).expect("loads");
    group.throughput(Throughput::Elements(32 * 25));
    let mut seed = 0;
    group.bench_function("draw_a_batch_of_32_episodes", |b| {
        b.iter(|| {
            seed += 1;
            data.sample(32, seed)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("offline_update");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    let path = format!("data.path=\"{}\"", dir.path().display());
    for (name, reward) in [("bc", "team"), ("cql", "team"), ("icq", "team"), ("cql", "macca")] {
        let overrides = [
            path.clone(),
            format!("offline.reward=\"{reward}\""),
            "offline.macca.pretrain_updates=1".into(),
            "eval_interval=0".into(),
            "device=\"cpu\"".into(),
            "t_max=100000000".into(),
        ];
        let cfg = Config::load(&preset(&format!("{name}_spread.toml")), &overrides).expect("preset loads");
        let mut trainer = Trainer::new(cfg).expect("trainer builds");
        group.bench_function(BenchmarkId::new(name, reward), |b| b.iter(|| trainer.step().expect("updates").updates));
    }
    group.finish();
}

criterion_group!(benches, offline);
criterion_main!(benches);
