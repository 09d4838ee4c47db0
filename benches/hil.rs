//! Hardware-in-the-loop throughput and latency, with real `murmur agent`
//! processes over Zenoh on loopback (not criterion: each figure is one run
//! of many steps; docs/benchmarks.md has the numbers).
//!
//! ```sh
//! cargo bench --bench hil                       # lockstep 3/16/64 robots + realtime 50 Hz x 16
//! MURMUR_BENCH_BACKEND=nano cargo bench --bench hil   # nano agents (obs up to 256: 3 and 16 robots)
//! cargo bench --bench hil -- flood              # only the flood
//! ```
//!
//! Lockstep: steps per second and per-step latency (observations out to the
//! last answer) p50/p99. Realtime: 2,000 steps at 50 Hz with 16 robots,
//! deadline misses (target 0).
//!
//! Flood: 3 robots at 50 Hz while a peer floods every robot's observation
//! key and the coordinator's answer keys with junk for 10 s, on an open
//! swarm and on a private one (where the flooding stranger has no
//! certificate): deadline misses before, during and after the flood, and
//! how long after its end the last miss came.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use murmur::export::{export, ModelFormat, VerifySettings};
use murmur::hw::coordinator::{HilOptions, Pacing};
use murmur::hw::session::{run_hil, HilRun, SpawnAgents};
use murmur::runtime::swarm::{zenoh_config, PrivateSwarm, ZenohOptions};
use murmur::runtime::ActorSpec;
use murmur::train::actor::{Actor, ActorOptions};
use murmur::train::checkpoint::{self, CheckpointMeta};
use murmur::train::config::EnvConfig;
use murmur::train::env::batch::Dims;
use zenoh::Wait;

/// An untrained spread actor for `n` robots, exported for `backend`
/// (`None` when the backend cannot hold it: nano blobs take at most 256
/// inputs).
fn model(dir: &Path, env: &EnvConfig, backend: &str) -> Option<PathBuf> {
    let d = Dims::of(&env.build());
    let spec = ActorSpec { obs_dim: d.obs_dim, n_actions: d.n_actions, n_agents: d.n_agents, hidden: 64 };
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let options =
        ActorOptions { input_layer_norm: true, orthogonal_init: true, head_layer: false, observation_only: false };
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
    let flood_only = std::env::args().any(|a| a == "flood");
    let cases: Vec<(usize, Pacing, usize)> = if flood_only {
        vec![]
    } else if full {
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
            spawn: Some(spawned_agents(model, &backend)),
            zenoh: ZenohOptions::default(),
            ros2_world: None,
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
    // Before, during and after the flood, seconds.
    let phases = if full { [10.0, 10.0, 10.0] } else { [1.0, 1.0, 1.0] };
    for private in [false, true] {
        flood(dir.path(), &backend, private, phases);
    }
}

/// One `murmur agent` process per robot, running `model` on `backend`.
fn spawned_agents(model: PathBuf, backend: &str) -> SpawnAgents {
    SpawnAgents {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_murmur")),
        model,
        format: if backend == "nano" { ModelFormat::Nano } else { ModelFormat::Onnx },
        stale_after_ms: 5000,
        trusted_model_keys: vec![],
    }
}

/// Runs 3 spawned robots at 50 Hz and floods the swarm with junk from a
/// stranger's Zenoh session (no certificate) for `phases[1]` seconds after
/// `phases[0]` seconds of episodes, then runs `phases[2]` more seconds.
fn flood(dir: &Path, backend: &str, private: bool, phases: [f64; 3]) {
    let env = EnvConfig::parse("spread", &[]).expect("spread");
    let Some(model) = model(dir, &env, backend) else { return };
    let n = 3;
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let swarm = format!("flood-{}-{private}", std::process::id());
    let keys = dir.join(format!("keys-{private}"));
    if private {
        murmur::pki::init(&keys, &swarm).expect("authority");
        for member in ["coordinator", "robot-0", "robot-1", "robot-2"] {
            murmur::pki::issue(&keys, member).expect("certificate");
        }
    }
    // 25-step episodes at 50 Hz: half a second each.
    let episodes = (phases.iter().sum::<f64>() / 0.5).ceil() as usize + 1;
    let hil = HilRun {
        env,
        swarm: swarm.clone(),
        options: HilOptions {
            episodes,
            pacing: Pacing::Realtime { hz: 50.0 },
            join_timeout: Duration::from_secs(120),
            ..Default::default()
        },
        record: None,
        critic: None,
        spawn: Some(spawned_agents(model, backend)),
        zenoh: ZenohOptions {
            listen: vec![endpoint.clone()],
            private: private.then(|| PrivateSwarm::new(keys.clone(), "coordinator".into())),
            ..Default::default()
        },
        ros2_world: None,
    };
    // Each episode's end, its robot-steps and its deadline misses.
    let ends = Mutex::new(Vec::<(Instant, u64, u64)>::new());
    let done = AtomicBool::new(false);
    // The stranger reports how many payloads it put, and when it flooded.
    let ((sent, window), refused) = std::thread::scope(|s| {
        let stranger = s.spawn(|| {
            let options = ZenohOptions { connect: vec![endpoint.clone()], ..Default::default() };
            let session = zenoh::open(zenoh_config(&options).expect("config")).wait().expect("session");
            let keys: Vec<String> = (0..n)
                .flat_map(|id| {
                    [murmur::runtime::keys::observation(&swarm, id), murmur::runtime::keys::action(&swarm, id)]
                })
                .collect();
            let publishers: Vec<_> =
                keys.iter().map(|k| session.declare_publisher(k.clone()).wait().expect("publisher")).collect();
            let junk: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
            // Wait for the first episode, let the swarm run, then flood.
            while ends.lock().unwrap().is_empty() && !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_secs_f64(phases[0]));
            let start = Instant::now();
            let mut k = 0u64;
            while start.elapsed().as_secs_f64() < phases[1] && !done.load(Ordering::Relaxed) {
                let _ = publishers[k as usize % publishers.len()].put(junk.clone()).wait();
                k += 1;
            }
            let window = (k > 0).then(|| (start, Instant::now()));
            let _ = session.close().wait();
            (k, window)
        });
        let summary = run_hil(&hil, &AtomicBool::new(false), |e| {
            let robot_steps = (e.steps * e.deadline_misses.len()) as u64;
            ends.lock().unwrap().push((Instant::now(), robot_steps, e.deadline_misses.iter().sum()));
        });
        done.store(true, Ordering::Relaxed);
        (stranger.join().expect("stranger"), summary.expect("hil run").rejected.malformed)
    });
    let Some((start, end)) = window else {
        println!("flood, {}: the run ended before the flood began", if private { "private" } else { "open" });
        return;
    };
    // An episode is "during" if any of its half second overlaps the flood.
    let episode = Duration::from_millis(500);
    let (mut before, mut during, mut after) = ([0u64; 2], [0u64; 2], [0u64; 2]);
    let mut last_miss_after = Duration::ZERO;
    for &(t, robot_steps, misses) in ends.lock().unwrap().iter() {
        let phase = if t < start {
            &mut before
        } else if t < end + episode {
            &mut during
        } else {
            &mut after
        };
        phase[0] += robot_steps;
        phase[1] += misses;
        if misses > 0 && t > end {
            last_miss_after = last_miss_after.max(t - end);
        }
    }
    let rate = |p: [u64; 2]| format!("{}/{} ({:.1}%)", p[1], p[0], 100.0 * p[1] as f64 / p[0].max(1) as f64);
    println!(
        "flood, {} swarm, {backend} agents: {} junk payloads in {:.1} s ({:.0}/s), {refused} of them reached the coordinator; deadline misses before {}, during {}, after {}; last miss {:.1} s after the flood",
        if private { "private" } else { "open" },
        sent,
        (end - start).as_secs_f64(),
        sent as f64 / (end - start).as_secs_f64(),
        rate(before),
        rate(during),
        rate(after),
        last_miss_after.as_secs_f64()
    );
}
