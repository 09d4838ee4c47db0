//! Spread (N = 3) environment steps per second on one thread, for a batch
//! of 1 and of 64 environments, observations, states and masks included.
//!
//! `cargo bench --bench spread_env` (see docs/benchmarks.md).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use murmur::train::env::{Spread, SpreadConfig, VecEnv};

fn spread_steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("spread_n3_env_steps");
    for batch in [1usize, 64] {
        let mut envs = VecEnv::new(vec![Spread::new(SpreadConfig::default()); batch]).unwrap();
        // A fixed, varied action pattern (no RNG in the timed loop).
        let actions: Vec<Vec<usize>> = (0..25).map(|t| (0..batch * 3).map(|k| (t * 7 + k * 3) % 5).collect()).collect();
        let mut seed = 0;
        envs.reset(|i| i as u64);
        let mut t = 0;
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, _| {
            b.iter(|| {
                if envs.all_done() {
                    seed += batch as u64;
                    envs.reset(|i| seed + i as u64);
                    t = 0;
                }
                envs.step(&actions[t]);
                t += 1;
            })
        });
    }
    group.finish();
}

criterion_group!(benches, spread_steps);
criterion_main!(benches);
