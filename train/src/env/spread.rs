//! Cooperative navigation ("spread"): N agents cover N landmarks without
//! bumping into each other, bit-faithful to PettingZoo MPE v3
//! `simple_spread`: train/tests/replay/pettingzoo_spread.rs
//! replays episodes recorded from PettingZoo itself and matches every
//! observation and reward.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use super::particle::{self, Entity, ObsWriter, World, N_MOVE_ACTIONS};
use super::scene::{self, Role, Scene};
use super::{Environment, StateKind, StepOutcome, TeamReward};

/// Radius of a spread agent.
pub const AGENT_SIZE: f64 = 0.15;
/// Radius of a landmark (MPE's default entity size; landmarks never collide).
pub const LANDMARK_SIZE: f64 = 0.05;
/// Communication channels per agent in MPE (observed, always zero).
const DIM_C: usize = 2;

/// Settings of the spread scenario (the `[env]` table of a config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpreadConfig {
    /// Number of agents and of landmarks (N >= 2).
    pub n_agents: usize,
    /// Episode length in steps; episodes end by truncation only.
    pub max_cycles: usize,
    /// Weight of the local collision penalty in each agent's reward.
    pub local_ratio: f64,
    /// How agent rewards become the team reward.
    pub team_reward: TeamReward,
    /// What the critics see as the global state.
    pub state: StateKind,
}

impl Default for SpreadConfig {
    fn default() -> Self {
        Self {
            n_agents: 3,
            max_cycles: 25,
            local_ratio: 0.5,
            team_reward: TeamReward::Sum,
            state: StateKind::ObsConcat,
        }
    }
}

/// The spread scenario. Entities: agents `0..N`, then landmarks `N..2N`.
#[derive(Debug, Clone)]
pub struct Spread {
    cfg: SpreadConfig,
    world: World,
    rng: Pcg64,
    t: usize,
    agent_rewards: Vec<f64>,
}

impl Spread {
    /// A spread world; call [`Environment::reset`] before stepping.
    ///
    /// # Panics
    /// If `n_agents < 2` (configs are validated before this).
    pub fn new(cfg: SpreadConfig) -> Self {
        assert!(cfg.n_agents >= 2, "spread needs at least 2 agents");
        let n = cfg.n_agents;
        let mut entities = vec![Entity::agent(AGENT_SIZE); n];
        entities.extend(std::iter::repeat_n(Entity::landmark(LANDMARK_SIZE, false), n));
        Self { world: World::new(entities, n), rng: Pcg64::seed_from_u64(0), t: 0, agent_rewards: vec![0.0; n], cfg }
    }

    /// The full world state (read).
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The full world state (write), to build exact situations in tests.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// Steps taken in the current episode.
    pub fn t(&self) -> usize {
        self.t
    }

    /// Puts the landmarks where a real arena has them (world units), in
    /// place of the drawn ones (`landmarks.len()` = N).
    pub fn place_landmarks(&mut self, landmarks: &[[f64; 2]]) {
        let n = self.n();
        for (l, &p) in self.world.entities[n..].iter_mut().zip(landmarks) {
            l.pos = p;
            l.vel = [0.0; 2];
        }
    }

    /// Puts the agents where a tracker sees them: positions and velocities
    /// (world units, and units per step time `DT`), one per agent.
    pub fn place_agents(&mut self, positions: &[[f64; 2]], velocities: &[[f64; 2]]) {
        for ((a, &p), &v) in self.world.entities.iter_mut().zip(positions).zip(velocities) {
            a.pos = p;
            a.vel = v;
        }
    }

    /// One step of a world that moves by itself (robots tracked from
    /// outside): the clock advances and the reward is computed where the
    /// agents are now, with no physics.
    pub fn step_tracked(&mut self) -> StepOutcome {
        self.t += 1;
        let reward = self.compute_rewards();
        StepOutcome { reward, terminated: false, truncated: self.t >= self.cfg.max_cycles }
    }

    fn n(&self) -> usize {
        self.cfg.n_agents
    }

    /// Each agent's reward in the current world state.
    fn compute_rewards(&mut self) -> f64 {
        let n = self.n();
        let (agents, landmarks) = self.world.entities.split_at(n);
        let global: f64 =
            -landmarks.iter().map(|l| agents.iter().map(|a| a.distance(l)).fold(f64::INFINITY, f64::min)).sum::<f64>();
        let ratio = self.cfg.local_ratio;
        for (i, a) in agents.iter().enumerate() {
            let collisions = agents.iter().enumerate().filter(|&(j, b)| j != i && a.touches(b)).count();
            self.agent_rewards[i] = ratio * -(collisions as f64) + (1.0 - ratio) * global;
        }
        let sum: f64 = self.agent_rewards.iter().sum();
        match self.cfg.team_reward {
            TeamReward::Sum => sum,
            TeamReward::Mean => sum / n as f64,
        }
    }
}

impl Environment for Spread {
    fn n_agents(&self) -> usize {
        self.n()
    }
    fn obs_dim(&self) -> usize {
        let n = self.n();
        // vel, pos, landmarks, other agents, other agents' comm. (The spec's
        // formula writes 2(N-1)dim_c for the last block; MPE and the spec's
        // own "18 for N = 3" have (N-1)dim_c.)
        4 + 2 * n + 2 * (n - 1) + (n - 1) * DIM_C
    }
    fn state_dim(&self) -> usize {
        particle::state_dim(self.cfg.state, self, &self.world)
    }
    fn n_actions(&self) -> usize {
        N_MOVE_ACTIONS
    }
    fn episode_limit(&self) -> usize {
        self.cfg.max_cycles
    }

    fn reset(&mut self, seed: u64) {
        self.rng = Pcg64::seed_from_u64(seed);
        // Agents are placed first, then landmarks, as MPE draws them.
        for e in &mut self.world.entities {
            e.pos = [self.rng.random_range(-1.0..1.0), self.rng.random_range(-1.0..1.0)];
            e.vel = [0.0; 2];
        }
        self.t = 0;
        self.agent_rewards.fill(0.0);
    }

    fn step(&mut self, actions: &[usize]) -> StepOutcome {
        self.world.step(actions);
        self.t += 1;
        let reward = self.compute_rewards();
        StepOutcome { reward, terminated: false, truncated: self.t >= self.cfg.max_cycles }
    }

    fn write_obs(&self, agent: usize, out: &mut [f32]) {
        let n = self.n();
        let me = &self.world.entities[agent];
        let mut w = ObsWriter::new(out);
        w.push2(me.vel);
        w.push2(me.pos);
        for l in &self.world.entities[n..] {
            w.push_relative(l.pos, me.pos);
        }
        for (j, other) in self.world.entities[..n].iter().enumerate() {
            if j != agent {
                w.push_relative(other.pos, me.pos);
            }
        }
        // Other agents' communication: silent agents, always zero.
        for _ in 0..(n - 1) * DIM_C {
            w.push(0.0);
        }
    }

    fn write_state(&self, out: &mut [f32]) {
        particle::write_state(self.cfg.state, self, &self.world, out);
    }

    fn agent_rewards(&self) -> Option<&[f64]> {
        Some(&self.agent_rewards)
    }

    fn scene(&self) -> Option<Scene> {
        let n = self.cfg.n_agents;
        let role = |i| if i < n { Role::Agent } else { Role::Landmark };
        Some(Scene { bounds: None, bodies: scene::particle_bodies(&self.world, role), shots: Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three agents and landmarks at hand-picked spots, at rest.
    fn placed() -> Spread {
        let mut env = Spread::new(SpreadConfig::default());
        env.reset(0);
        let spots = [[0.0, 0.0], [0.2, 0.0], [1.0, 1.0], [0.0, 0.5], [0.5, 0.0], [-1.0, -1.0]];
        for (e, p) in env.world_mut().entities.iter_mut().zip(spots) {
            e.pos = p;
        }
        env
    }

    #[test]
    fn observation_layout_for_three_agents() {
        let mut env = placed();
        env.world_mut().entities[1].vel = [0.25, -0.5];
        assert_eq!(env.obs_dim(), 18);
        let mut obs = [f32::NAN; 18];
        env.write_obs(1, &mut obs);
        #[rustfmt::skip]
        let expected = [
            0.25, -0.5,            // own velocity
            0.2, 0.0,              // own position
            -0.2, 0.5, 0.3, 0.0, -1.2, -1.0, // landmarks relative to self
            -0.2, 0.0, 0.8, 1.0,   // agents 0 and 2 relative to self
            0.0, 0.0, 0.0, 0.0,    // their (silent) communication
        ];
        for (k, (o, e)) in obs.iter().zip(expected).enumerate() {
            assert!((o - e).abs() < 1e-6, "obs[{k}] = {o}, expected {e}");
        }
        assert_eq!(env.state_dim(), 54);
        let mut state = vec![0.0f32; 54];
        env.write_state(&mut state);
        assert_eq!(&state[18..36], &obs);
    }

    #[test]
    fn reward_counts_collisions_per_agent_and_landmark_coverage() {
        let mut env = placed();
        // Agents 0 and 1 are 0.2 apart (< 0.3): each counts one collision.
        // Landmark (0, .5): nearest agent 0 at 0.5. Landmark (.5, 0): agent 1
        // at 0.3. Landmark (-1, -1): agent 0 at sqrt 2.
        let team = env.compute_rewards();
        let global = -(0.5 + 0.3 + 2f64.sqrt());
        let expected = [-0.5 + 0.5 * global, -0.5 + 0.5 * global, 0.5 * global];
        let got = env.agent_rewards().unwrap();
        for (g, want) in got.iter().zip(expected) {
            assert!((g - want).abs() < 1e-12, "{g} vs {want}");
        }
        assert!((team - expected.iter().sum::<f64>()).abs() < 1e-12);
        // A step reports the rewards of the state it leads to.
        let out = env.step(&[0, 0, 0]);
        assert!((out.reward - env.agent_rewards().unwrap().iter().sum::<f64>()).abs() < 1e-12);
    }

    #[test]
    fn episodes_last_max_cycles_and_only_truncate() {
        let mut env = Spread::new(SpreadConfig { n_agents: 4, ..Default::default() });
        env.reset(3);
        for t in 1..=25 {
            let out = env.step(&[1, 2, 3, 4]);
            assert!(!out.terminated);
            assert_eq!(out.truncated, t == 25, "step {t}");
        }
        assert_eq!(env.obs_dim(), 4 + 8 + 6 + 6);
    }

    #[test]
    fn same_seed_same_episode_and_positions_in_the_box() {
        let run = |seed| {
            let mut env = Spread::new(SpreadConfig::default());
            env.reset(seed);
            assert!(env.world().entities.iter().all(|e| e.pos.iter().all(|p| p.abs() <= 1.0)));
            (0..25).map(|t| env.step(&[t % 5, (t + 1) % 5, (t + 3) % 5]).reward).collect::<Vec<_>>()
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
    }

    #[test]
    fn mean_team_reward_and_world_state() {
        let cfg = SpreadConfig { team_reward: TeamReward::Mean, state: StateKind::World, ..Default::default() };
        let mut env = Spread::new(cfg);
        env.reset(5);
        let out = env.step(&[2, 2, 2]);
        let mean = env.agent_rewards().unwrap().iter().sum::<f64>() / 3.0;
        assert!((out.reward - mean).abs() < 1e-12);
        assert_eq!(env.state_dim(), 24);
        let mut state = vec![0.0f32; 24];
        env.write_state(&mut state);
        let a0 = env.world().entities[0];
        assert_eq!(&state[..4], &[a0.pos[0] as f32, a0.pos[1] as f32, a0.vel[0] as f32, a0.vel[1] as f32]);
    }
}
