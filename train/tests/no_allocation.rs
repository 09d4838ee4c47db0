//! Batches of environments step without touching the heap: a counting
//! global allocator sees zero allocations across thousands of batched steps
//! and resets of every built-in simulator (battles on four maps among them).

use murmur_alloc_probe::{allocations_in, CountingAllocator};
use murmur_train::env::battle::Scenario;
use murmur_train::env::{
    Battle, Environment, Junction, PredatorPrey, PredatorPreyConfig, Spread, SpreadConfig, VecEnv,
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made while stepping `envs` through `episodes` episodes.
fn allocations_while_stepping<E: Environment>(mut envs: VecEnv<E>, episodes: u64) -> usize {
    let n = envs.len() * envs.dims().n_agents;
    let actions: Vec<Vec<usize>> = (0..5).map(|k| (0..n).map(|i| (i + k) % envs.dims().n_actions).collect()).collect();
    allocations_in(|| {
        for e in 0..episodes {
            envs.reset(|i| e * 1000 + i as u64);
            let mut t = 0;
            while !envs.all_done() {
                envs.step(&actions[t % 5]);
                t += 1;
            }
        }
    })
}

#[test]
fn stepping_batches_never_allocates() {
    let spread = VecEnv::new(vec![Spread::new(SpreadConfig { n_agents: 5, ..Default::default() }); 16]).unwrap();
    let prey = VecEnv::new(vec![PredatorPrey::new(PredatorPreyConfig { episode_limit: 50, ..Default::default() }); 8])
        .unwrap();
    let junction = VecEnv::new(vec![Junction::new(); 4]).unwrap();
    assert_eq!(allocations_while_stepping(spread, 20), 0, "spread");
    assert_eq!(allocations_while_stepping(prey, 20), 0, "predator-prey");
    assert_eq!(allocations_while_stepping(junction, 20), 0, "junction");
    for map in ["3m", "2s3z", "27m_vs_30m", "smacv2_10_units"] {
        let battles = (0..8).map(|_| Battle::new(Scenario::named(map).unwrap(), 100)).collect();
        assert_eq!(allocations_while_stepping(VecEnv::new(battles).unwrap(), 10), 0, "battle {map}");
    }
}
