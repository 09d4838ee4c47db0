//! Train a team on your own simulator: implement `Environment`, hand a
//! factory to `Trainer::with_env`, and everything else (rollouts, learners,
//! checkpoints, evaluation) works as it does for the built-in ones.
//!
//! The task here, "rendezvous": agents on a ring of 12 cells step left, stay
//! or step right; every step the team is rewarded by minus the number of
//! distinct cells occupied, so they learn to gather.
//!
//! ```text
//! cargo run --release --example custom_env
//! ```

use murmur::train::config::Config;
use murmur::train::env::{Environment, StepOutcome};
use murmur::train::eval::uniform_random;
use murmur::train::trainer::Trainer;
use rand::{Rng, SeedableRng};

const CELLS: i64 = 12;

/// N agents on a ring; each sees its own cell and the others' offsets.
struct Rendezvous {
    positions: Vec<i64>,
    t: usize,
}

impl Rendezvous {
    fn new(n: usize) -> Self {
        Self { positions: vec![0; n], t: 0 }
    }
    fn occupied(&self) -> usize {
        let mut cells = self.positions.clone();
        cells.sort_unstable();
        cells.dedup();
        cells.len()
    }
}

impl Environment for Rendezvous {
    fn n_agents(&self) -> usize {
        self.positions.len()
    }
    fn obs_dim(&self) -> usize {
        self.positions.len() // own cell / CELLS, then each other agent's signed offset
    }
    fn state_dim(&self) -> usize {
        self.positions.len()
    }
    fn n_actions(&self) -> usize {
        3 // left, stay, right
    }
    fn episode_limit(&self) -> usize {
        20
    }
    fn reset(&mut self, seed: u64) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for p in &mut self.positions {
            *p = rng.random_range(0..CELLS);
        }
        self.t = 0;
    }
    fn step(&mut self, actions: &[usize]) -> StepOutcome {
        for (p, &a) in self.positions.iter_mut().zip(actions) {
            *p = (*p + a as i64 - 1).rem_euclid(CELLS);
        }
        self.t += 1;
        StepOutcome { reward: -(self.occupied() as f64), terminated: false, truncated: self.t >= 20 }
    }
    fn write_obs(&self, agent: usize, out: &mut [f32]) {
        let me = self.positions[agent];
        out[0] = me as f32 / CELLS as f32;
        let others = self.positions.iter().enumerate().filter(|&(j, _)| j != agent);
        for (slot, (_, &p)) in out[1..].iter_mut().zip(others) {
            // Shortest signed offset around the ring, in cells / CELLS.
            let d = (p - me).rem_euclid(CELLS);
            *slot = (if d > CELLS / 2 { d - CELLS } else { d }) as f32 / CELLS as f32;
        }
    }
    fn write_state(&self, out: &mut [f32]) {
        for (o, &p) in out.iter_mut().zip(&self.positions) {
            *o = p as f32 / CELLS as f32;
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cfg = Config::parse(
        "learner = \"mappo\"\nt_max = 60_000\nbatch_episodes = 16\neval_interval = 0\n",
        "custom_env example",
        &[],
    )?;
    let mut trainer = Trainer::with_env(cfg, "rendezvous", Box::new(|| Box::new(Rendezvous::new(3))))?;
    trainer.train(|p| {
        if p.updates.is_multiple_of(40) {
            println!("{:>6} steps: mean return {:.2}", p.env_steps, p.last_return);
        }
    })?;
    let learned = trainer.evaluate(200, true)?;
    let random = uniform_random(&mut Rendezvous::new(3), 200, 7);
    println!("learned: {learned}\nrandom:  {random}");
    Ok(())
}
