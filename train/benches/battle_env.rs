//! Battle (SMAX) environment steps per second on one thread, per map, for a
//! batch of 1 and of 1024 battles: each ally picks a uniformly random
//! available action, the heuristic enemy acts, every observation, state
//! and action mask is written, and a battle that ends starts again at once
//! (as JaxMARL's auto-reset does, so every counted step is a real one).
//!
//! `cargo bench -p murmur-train --bench battle_env` (see docs/benchmarks.md, where
//! JaxMARL's figures on the same machine stand beside these).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use murmur_train::env::battle::{Battle, Scenario};
use murmur_train::env::Environment;

/// A random available action per agent, from a xorshift generator (no
/// allocation, negligible next to a step).
fn random_available(avail: &[f32], n_actions: usize, state: &mut u64, out: &mut [usize]) {
    for (agent, slot) in out.iter_mut().enumerate() {
        let mask = &avail[agent * n_actions..(agent + 1) * n_actions];
        let count = mask.iter().filter(|&&m| m > 0.0).count().max(1);
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let mut pick = (*state % count as u64) as usize;
        *slot = mask
            .iter()
            .position(|&m| {
                let hit = m > 0.0 && pick == 0;
                if m > 0.0 {
                    pick = pick.wrapping_sub(1);
                }
                hit
            })
            .unwrap_or(4);
    }
}

/// Steps every battle once with random available actions, resetting those
/// that end; writes observations, state and masks into the buffers.
struct Batch {
    battles: Vec<Battle>,
    obs: Vec<f32>,
    state: Vec<f32>,
    avail: Vec<f32>,
    actions: Vec<usize>,
    rng: u64,
    episodes: u64,
}

impl Batch {
    fn new(map: &str, size: usize) -> Self {
        let scenario = Scenario::named(map).expect("a known map");
        let mut battles: Vec<Battle> = (0..size).map(|_| Battle::new(scenario.clone(), 100)).collect();
        for (i, b) in battles.iter_mut().enumerate() {
            b.reset(i as u64);
        }
        let one = &battles[0];
        let (n, o, s, a) = (one.n_agents(), one.obs_dim(), one.state_dim(), one.n_actions());
        let mut batch = Self {
            obs: vec![0.0; n * o],
            state: vec![0.0; s],
            avail: vec![0.0; size * n * a],
            actions: vec![0; n],
            rng: 0x2545_f491_4f6c_dd1d,
            episodes: size as u64,
            battles,
        };
        for i in 0..size {
            batch.observe(i);
        }
        batch
    }

    fn observe(&mut self, i: usize) {
        let b = &self.battles[i];
        let (n, o, a) = (b.n_agents(), b.obs_dim(), b.n_actions());
        for agent in 0..n {
            b.write_obs(agent, &mut self.obs[agent * o..(agent + 1) * o]);
            let at = (i * n + agent) * a;
            b.write_avail_actions(agent, &mut self.avail[at..at + a]);
        }
        b.write_state(&mut self.state);
    }

    fn step(&mut self) {
        for i in 0..self.battles.len() {
            let (n, a) = (self.battles[i].n_agents(), self.battles[i].n_actions());
            random_available(&self.avail[i * n * a..(i + 1) * n * a], a, &mut self.rng, &mut self.actions);
            if self.battles[i].step(&self.actions).done() {
                self.battles[i].reset(self.episodes);
                self.episodes += 1;
            }
            self.observe(i);
        }
    }
}

fn battle_steps(c: &mut Criterion) {
    for map in ["3m", "2s3z", "5m_vs_6m", "27m_vs_30m"] {
        let mut group = c.benchmark_group(format!("battle_{map}_env_steps"));
        group.sample_size(10);
        for size in [1usize, 1024] {
            let mut batch = Batch::new(map, size);
            group.throughput(Throughput::Elements(size as u64));
            group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| b.iter(|| batch.step()));
        }
        group.finish();
    }
}

criterion_group!(benches, battle_steps);
criterion_main!(benches);
