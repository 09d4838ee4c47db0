//! Predator-prey, the MPE `simple_tag` setting used by LICA and SeCA
//! (as PettingZoo MPE v3 defines it): learning predators chase a prey that moves
//! uniformly at random among obstacles.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use super::particle::{self, Entity, ObsWriter, World, N_MOVE_ACTIONS};
use super::scene::{self, Role, Scene};
use super::{Environment, StateKind, StepOutcome};

/// Radius, acceleration and speed cap of a predator.
pub const PREDATOR: (f64, f64, f64) = (0.075, 3.0, 1.0);
/// Radius, acceleration and speed cap of the prey.
pub const PREY: (f64, f64, f64) = (0.05, 4.0, 1.3);
/// Radius of an obstacle.
pub const OBSTACLE_SIZE: f64 = 0.2;

/// Settings of the predator-prey scenario (the `[env]` table of a config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PredatorPreyConfig {
    /// Number of learning predators (>= 1).
    pub n_predators: usize,
    /// Number of immovable obstacles.
    pub n_obstacles: usize,
    /// Episode limit in steps (truncation).
    pub episode_limit: usize,
    /// Team bonus on capture, which also terminates the episode.
    pub capture_reward: f64,
    /// What the critics see as the global state.
    pub state: StateKind,
}

impl Default for PredatorPreyConfig {
    fn default() -> Self {
        Self { n_predators: 3, n_obstacles: 2, episode_limit: 200, capture_reward: 10.0, state: StateKind::ObsConcat }
    }
}

/// Predator-prey. Entities: predators `0..P`, the prey `P`, then obstacles.
#[derive(Debug, Clone)]
pub struct PredatorPrey {
    cfg: PredatorPreyConfig,
    world: World,
    rng: Pcg64,
    t: usize,
    /// Predators' actions plus the prey's, reused each step.
    actions: Vec<usize>,
}

impl PredatorPrey {
    /// A predator-prey world; call [`Environment::reset`] before stepping.
    ///
    /// # Panics
    /// If `n_predators == 0` (configs are validated before this).
    pub fn new(cfg: PredatorPreyConfig) -> Self {
        assert!(cfg.n_predators >= 1, "predator-prey needs at least one predator");
        let mover = |(size, accel, max): (f64, f64, f64)| Entity {
            accel: Some(accel),
            max_speed: Some(max),
            ..Entity::agent(size)
        };
        let mut entities = vec![mover(PREDATOR); cfg.n_predators];
        entities.push(mover(PREY));
        entities.extend(std::iter::repeat_n(Entity::landmark(OBSTACLE_SIZE, true), cfg.n_obstacles));
        Self {
            world: World::new(entities, cfg.n_predators + 1),
            rng: Pcg64::seed_from_u64(0),
            t: 0,
            actions: vec![0; cfg.n_predators + 1],
            cfg,
        }
    }

    /// The full world state (read).
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The full world state (write), to build exact situations in tests.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// Index of the prey among the entities.
    pub fn prey_index(&self) -> usize {
        self.cfg.n_predators
    }

    /// Distance from the prey to its nearest predator, and whether any
    /// predator touches it.
    fn chase(&self) -> (f64, bool) {
        let p = self.prey_index();
        let prey = &self.world.entities[p];
        self.world.entities[..p].iter().fold((f64::INFINITY, false), |(d, caught), pred| {
            (d.min(pred.distance(prey)), caught || pred.touches(prey))
        })
    }
}

impl Environment for PredatorPrey {
    fn n_agents(&self) -> usize {
        self.cfg.n_predators
    }
    fn obs_dim(&self) -> usize {
        // vel, pos, obstacles, other predators and the prey, prey velocity.
        4 + 2 * self.cfg.n_obstacles + 2 * self.cfg.n_predators + 2
    }
    fn state_dim(&self) -> usize {
        particle::state_dim(self.cfg.state, self, &self.world)
    }
    fn n_actions(&self) -> usize {
        N_MOVE_ACTIONS
    }
    fn episode_limit(&self) -> usize {
        self.cfg.episode_limit
    }

    fn reset(&mut self, seed: u64) {
        self.rng = Pcg64::seed_from_u64(seed);
        let movers = self.world.n_actors;
        for (i, e) in self.world.entities.iter_mut().enumerate() {
            let half = if i < movers { 1.0 } else { 0.9 };
            e.pos = [self.rng.random_range(-half..half), self.rng.random_range(-half..half)];
            e.vel = [0.0; 2];
        }
        self.t = 0;
    }

    fn step(&mut self, actions: &[usize]) -> StepOutcome {
        let p = self.prey_index();
        self.actions[..p].copy_from_slice(actions);
        self.actions[p] = self.rng.random_range(0..N_MOVE_ACTIONS);
        self.world.step(&self.actions);
        self.t += 1;
        let (nearest, caught) = self.chase();
        let reward = -nearest + if caught { self.cfg.capture_reward } else { 0.0 };
        StepOutcome { reward, terminated: caught, truncated: !caught && self.t >= self.cfg.episode_limit }
    }

    fn write_obs(&self, agent: usize, out: &mut [f32]) {
        let e = &self.world.entities;
        let p = self.prey_index();
        let me = &e[agent];
        let mut w = ObsWriter::new(out);
        w.push2(me.vel);
        w.push2(me.pos);
        for o in &e[p + 1..] {
            w.push_relative(o.pos, me.pos);
        }
        for (j, other) in e[..=p].iter().enumerate() {
            if j != agent {
                w.push_relative(other.pos, me.pos);
            }
        }
        w.push2(e[p].vel);
    }

    fn write_state(&self, out: &mut [f32]) {
        particle::write_state(self.cfg.state, self, &self.world, out);
    }

    fn scene(&self) -> Option<Scene> {
        let p = self.cfg.n_predators;
        let role = |i: usize| match i.cmp(&p) {
            std::cmp::Ordering::Less => Role::Agent,
            std::cmp::Ordering::Equal => Role::Opponent,
            std::cmp::Ordering::Greater => Role::Obstacle,
        };
        Some(Scene { bounds: None, bodies: scene::particle_bodies(&self.world, role), shots: Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed() -> PredatorPrey {
        let mut env = PredatorPrey::new(PredatorPreyConfig::default());
        env.reset(1);
        // predators 0..3, prey 3, obstacles 4, 5.
        let spots = [[0.0, 0.0], [0.5, 0.0], [0.0, 0.5], [-0.5, -0.5], [0.9, 0.9], [-0.9, 0.9]];
        for (e, p) in env.world_mut().entities.iter_mut().zip(spots) {
            e.pos = p;
            e.vel = [0.0; 2];
        }
        env
    }

    #[test]
    fn observation_layout_for_three_predators_two_obstacles() {
        let mut env = placed();
        env.world_mut().entities[3].vel = [0.1, -0.2];
        assert_eq!(env.obs_dim(), 16);
        let mut obs = [f32::NAN; 16];
        env.write_obs(1, &mut obs);
        #[rustfmt::skip]
        let expected = [
            0.0, 0.0, 0.5, 0.0,      // own velocity, own position
            0.4, 0.9, -1.4, 0.9,     // obstacles relative to self
            -0.5, 0.0, -0.5, 0.5,    // predators 0 and 2 relative to self
            -1.0, -0.5,              // prey relative to self
            0.1, -0.2,               // prey velocity
        ];
        for (k, (o, e)) in obs.iter().zip(expected).enumerate() {
            assert!((o - e).abs() < 1e-6, "obs[{k}] = {o}, expected {e}");
        }
    }

    #[test]
    fn reward_is_minus_the_nearest_predator_distance() {
        let mut env = placed();
        let (d, caught) = env.chase();
        assert!((d - 0.5f64.sqrt()).abs() < 1e-12 && !caught);
        // Predator 0 right next to the prey: capture, +10, termination.
        env.world_mut().entities[0].pos = [-0.45, -0.45];
        let out = env.step(&[0, 0, 0]);
        let (d, caught) = env.chase();
        assert!(caught && out.terminated && !out.truncated);
        assert!((out.reward - (10.0 - d)).abs() < 1e-12);
    }

    #[test]
    fn episodes_truncate_at_the_limit_and_replay_for_a_seed() {
        let cfg = PredatorPreyConfig { episode_limit: 30, n_obstacles: 0, ..Default::default() };
        let play = |seed| {
            let mut env = PredatorPrey::new(cfg.clone());
            env.reset(seed);
            let mut rewards = vec![];
            loop {
                // Predators flee to the left; the prey is usually not caught.
                let out = env.step(&[1, 1, 1]);
                rewards.push(out.reward);
                if out.done() {
                    return (rewards, out.truncated);
                }
            }
        };
        let (a, truncated) = play(4);
        assert_eq!(play(4).0, a);
        if truncated {
            assert_eq!(a.len(), 30);
        }
        assert!(a.len() <= 30);
        // The predators' speed cap holds.
        let mut env = PredatorPrey::new(cfg);
        env.reset(2);
        for _ in 0..20 {
            env.step(&[2, 2, 2]);
        }
        let v = env.world().entities[0].vel;
        assert!(v[0].hypot(v[1]) <= 1.0 + 1e-12);
    }
}
