//! One decision of an exported actor (obs 18, hidden 64, 5 actions: the
//! spread actor) through each runtime policy: criterion's estimate, then
//! per-step latency percentiles over 50,000 timed steps.
//!
//! `cargo bench --bench policy_step` (see docs/benchmarks.md).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::Criterion;
use murmur::export::{export, ModelFormat, VerifySettings};
use murmur::runtime::policy::{NanoPolicy, OnnxPolicy};
use murmur::runtime::{ActorSpec, Policy};
use murmur::train::actor::{Actor, ActorOptions};
use murmur::train::checkpoint::{self, CheckpointMeta};

const SPEC: ActorSpec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 64 };

/// Observations and masks cycled through by the timed loops.
fn inputs() -> Vec<(Vec<f32>, Vec<f32>)> {
    (0..64)
        .map(|k| {
            let obs = (0..SPEC.obs_dim).map(|i| ((k * 31 + i * 7) % 13) as f32 * 0.2 - 1.2).collect();
            let mut avail: Vec<f32> = (0..SPEC.n_actions).map(|a| f32::from(u8::from((k + a) % 4 != 0))).collect();
            avail[k % SPEC.n_actions] = 1.0;
            (obs, avail)
        })
        .collect()
}

fn exported(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    tch::manual_seed(1);
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let options =
        ActorOptions { input_layer_norm: false, orthogonal_init: false, head_layer: false, observation_only: false };
    let _actor = Actor::new(&vs.root(), SPEC, options);
    let meta = CheckpointMeta::untrained(SPEC, options, "spread");
    let ckpt = checkpoint::save(&dir.join("checkpoints"), &vs, &[], meta).expect("checkpoint");
    let (onnx, nano) = (dir.join("actor.onnx"), dir.join("actor.nano"));
    export(&ckpt, &onnx, ModelFormat::Onnx, VerifySettings::default()).expect("onnx export");
    export(&ckpt, &nano, ModelFormat::Nano, VerifySettings::default()).expect("nano export");
    (onnx, std::fs::read(nano).expect("nano blob"))
}

/// p50 and p99 of `steps` individually timed decisions, in microseconds.
/// With `evict`, the caches are refilled with other data before each step
/// (as between the steps of a robot's 20 Hz control loop, where the rest
/// of its program and the network stack run), so the step starts cold.
fn percentiles(
    policy: &mut dyn Policy,
    data: &[(Vec<f32>, Vec<f32>)],
    steps: usize,
    mut evict: Option<&mut Vec<u64>>,
) -> (f64, f64) {
    let mut times = Vec::with_capacity(steps);
    for k in 0..steps {
        if k % 25 == 0 {
            policy.reset();
        }
        if let Some(other) = evict.as_deref_mut() {
            // Touch one word per cache line of a buffer larger than L2.
            for v in other.iter_mut().step_by(8) {
                *v = v.wrapping_add(1);
            }
            black_box(&other);
        }
        let (obs, avail) = &data[k % data.len()];
        let start = Instant::now();
        black_box(policy.step(obs, avail).expect("step").action);
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    (times[steps / 2], times[steps * 99 / 100])
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (onnx, blob) = exported(dir.path());
    let data = inputs();
    let mut onnx_policy = OnnxPolicy::load(&onnx, 0).expect("onnx policy");
    let mut nano_policy = NanoPolicy::new(&blob, 0).expect("nano policy");
    assert!(nano_policy.blob().in_place(), "the blob was read into an unaligned buffer");

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("policy_step_obs18_h64_a5");
    for (name, policy) in [("nano", &mut nano_policy as &mut dyn Policy), ("onnx", &mut onnx_policy)] {
        let mut k = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                if k % 25 == 0 {
                    policy.reset();
                }
                let (obs, avail) = &data[k % data.len()];
                k += 1;
                black_box(policy.step(obs, avail).expect("step").action)
            })
        });
    }
    group.finish();
    c.final_summary();

    // `cargo test --all-targets` runs this without `--bench`: a smoke run
    // of the timed loops instead of 50,000 steps each.
    let steps = if std::env::args().any(|a| a == "--bench") { 50_000 } else { 1_000 };

    // What timing one step costs by itself (two clock reads), so the
    // percentiles below can be read net of it.
    let mut empty: Vec<f64> = (0..steps)
        .map(|_| {
            let start = Instant::now();
            black_box(());
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    empty.sort_by(f64::total_cmp);
    println!("timer alone: p50 {:.2} us, p99 {:.2} us", empty[steps / 2], empty[steps * 99 / 100]);
    println!("kernel: {:?}", nano_policy.blob().kernel());
    let mut other = vec![0u64; 8 << 20 >> 3]; // 8 MiB
    let cold_steps = steps / 10;
    for (name, policy) in [("nano", &mut nano_policy as &mut dyn Policy), ("onnx", &mut onnx_policy)] {
        percentiles(policy, &data, steps / 10, None); // warm up
        let (p50, p99) = percentiles(policy, &data, steps, None);
        println!("{name}: step latency p50 {p50:.2} us, p99 {p99:.2} us ({steps} steps, one thread)");
        let (p50, p99) = percentiles(policy, &data, cold_steps, Some(&mut other));
        println!("{name}: cold step (8 MiB of other data touched before each) p50 {p50:.2} us, p99 {p99:.2} us ({cold_steps} steps)");
    }
}
