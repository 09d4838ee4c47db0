//! Hardware-in-the-loop throughput and latency, with real `murmur agent`
//! processes over Zenoh on loopback (not criterion: each figure is one run
//! of many steps; docs/benchmarks.md has the numbers).
//!
//! ```sh
//! cargo bench --bench hil                       # lockstep 3/16/64 robots + realtime 50 Hz x 16
//! MURMUR_BENCH_BACKEND=nano cargo bench --bench hil   # nano agents (obs up to 256: 3 and 16 robots)
//! ```
//!
//! Lockstep: steps per second and per-step latency (observations out to the
//! last answer) p50/p99. Realtime: 2,000 steps at 50 Hz with 16 robots,
//! deadline misses (target 0).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use murmur::export::{export, ModelFormat, VerifySettings};
use murmur::hw::coordinator::{HilOptions, Pacing};
use murmur::hw::session::{run_hil, HilRun, SpawnAgents};
use murmur::runtime::swarm::ZenohOptions;
use murmur::runtime::ActorSpec;
use murmur::train::actor::{Actor, ActorOptions};
use murmur::train::checkpoint::{self, CheckpointMeta};
use murmur::train::config::EnvConfig;
use murmur::train::env::batch::Dims;

/// An untrained spread actor for `n` robots, exported for `backend`
/// (`None` when the backend cannot hold it: nano blobs take at most 256
/// inputs).
fn model(dir: &Path, env: &EnvConfig, backend: &str) -> Option<PathBuf> {
    let d = Dims::of(&env.build());
    let spec = ActorSpec { obs_dim: d.obs_dim, n_actions: d.n_actions, n_agents: d.n_agents, hidden: 64 };
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let options = ActorOptions { input_layer_norm: true, orthogonal_init: true };
    let _actor = Actor::new(&vs.root(), spec, options);
    let ckpt = checkpoint::save(
        &dir.join(format!("ckpt{}", d.n_agents)),
        &vs,
        &[],
        CheckpointMeta::untrained(spec, options, "spread"),
    )
    .expect("checkpoint");
    let (format, file) =
        if backend == "nano" { (ModelFormat::Nano, "actor.nano") } else { (ModelFormat::Onnx, "actor.onnx") };
    let out = dir.join(format!("{}-{file}", d.n_agents));
    match export(&ckpt, &out, format, VerifySettings { sequences: 4, ..Default::default() }) {
        Ok(_) => Some(out),
        Err(e) => {
            println!("{:>3} robots: skipped ({e})", d.n_agents);
            None
        }
    }
}

fn main() {
    let backend = std::env::var("MURMUR_BENCH_BACKEND").unwrap_or_else(|_| "onnx".into());
    let dir = tempfile::tempdir().expect("temp dir");
    // `cargo test --all-targets` runs benches without `--bench`: a smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let cases: Vec<(usize, Pacing, usize)> = if full {
        vec![
            (3, Pacing::Lockstep, 40),
            (16, Pacing::Lockstep, 40),
            (64, Pacing::Lockstep, 20),
            (16, Pacing::Realtime { hz: 50.0 }, 80),
        ]
    } else {
        vec![(3, Pacing::Lockstep, 2)]
    };
    println!("hil benchmark: {backend} agents, one process per robot, Zenoh on loopback");
    for (n, pacing, episodes) in cases {
        let env = EnvConfig::parse("spread", &[format!("n_agents={n}")]).expect("spread");
        let Some(model) = model(dir.path(), &env, &backend) else { continue };
        let hil = HilRun {
            env,
            swarm: format!("bench-{}-{n}", std::process::id()),
            options: HilOptions {
                episodes,
                pacing,
                step_timeout: Duration::from_secs(1),
                join_timeout: Duration::from_secs(120),
                ..Default::default()
            },
            record: None,
            critic: None,
            spawn: Some(SpawnAgents {
                exe: PathBuf::from(env!("CARGO_BIN_EXE_murmur")),
                model,
                format: if backend == "nano" { ModelFormat::Nano } else { ModelFormat::Onnx },
                stale_after_ms: 5000,
            }),
            zenoh: ZenohOptions::default(),
        };
        let s = run_hil(&hil, &AtomicBool::new(false), |_| {}).expect("hil run");
        let misses: u64 = s.deadline_misses().iter().sum();
        println!(
            "{n:>3} robots, {pacing:?}: {} steps, {:.0} steps/s, step latency p50 {:.0} us, p99 {:.0} us, deadline misses {misses}, overruns {}",
            s.steps(),
            s.steps() as f64 / s.wall.as_secs_f64(),
            s.step_latency_us(0.5),
            s.step_latency_us(0.99),
            s.overruns
        );
    }
}
