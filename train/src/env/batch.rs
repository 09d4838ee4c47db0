//! A batch of environments stepped in lock-step over whole episodes, writing
//! into flat preallocated buffers (no heap allocation per step).

use super::Environment;
use crate::EnvProblem;

/// `n_envs` copies of one environment with contiguous output buffers.
///
/// Buffers are row-major: observations `[n_envs, n_agents, obs_dim]`, states
/// `[n_envs, state_dim]`, masks `[n_envs, n_agents, n_actions]`, rewards and
/// flags `[n_envs]`. An environment whose episode has ended stops stepping
/// (`active` false) until the next [`reset`](Self::reset); its buffers keep
/// the last values.
pub struct VecEnv<E: Environment> {
    envs: Vec<E>,
    dims: Dims,
    obs: Vec<f32>,
    state: Vec<f32>,
    avail: Vec<f32>,
    rewards: Vec<f64>,
    /// `[n_envs, n_agents]`, when the environments define per-agent rewards.
    agent_rewards: Option<Vec<f64>>,
    terminated: Vec<bool>,
    /// Whether each environment's last finished episode was won `[n_envs]`,
    /// when the task has a win condition.
    won: Option<Vec<bool>>,
    active: Vec<bool>,
}

/// Dimensions shared by every environment of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// Agents per environment.
    pub n_agents: usize,
    /// Observation length per agent.
    pub obs_dim: usize,
    /// Global state length.
    pub state_dim: usize,
    /// Actions per agent.
    pub n_actions: usize,
    /// Longest episode.
    pub episode_limit: usize,
}

impl Dims {
    /// The dimensions `env` reports.
    pub fn of(env: &impl Environment) -> Self {
        Self {
            n_agents: env.n_agents(),
            obs_dim: env.obs_dim(),
            state_dim: env.state_dim(),
            n_actions: env.n_actions(),
            episode_limit: env.episode_limit(),
        }
    }
}

impl<E: Environment> VecEnv<E> {
    /// Batches `envs`, which must be non-empty and agree on every dimension.
    pub fn new(envs: Vec<E>) -> Result<Self, crate::Error> {
        let first = envs.first().ok_or(EnvProblem::EmptyBatch)?;
        let dims = Dims::of(first);
        if let Some(index) = envs.iter().position(|e| Dims::of(e) != dims) {
            return Err(EnvProblem::Mismatch { index, got: Dims::of(&envs[index]), first: dims }.into());
        }
        if dims.n_agents == 0 || dims.n_actions == 0 || dims.obs_dim == 0 || dims.episode_limit == 0 {
            return Err(EnvProblem::ZeroDimension(dims).into());
        }
        let n = envs.len();
        Ok(Self {
            obs: vec![0.0; n * dims.n_agents * dims.obs_dim],
            state: vec![0.0; n * dims.state_dim],
            avail: vec![1.0; n * dims.n_agents * dims.n_actions],
            rewards: vec![0.0; n],
            agent_rewards: first.agent_rewards().map(|_| vec![0.0; n * dims.n_agents]),
            terminated: vec![false; n],
            won: first.won().map(|_| vec![false; n]),
            active: vec![false; n],
            envs,
            dims,
        })
    }

    /// Number of environments.
    pub fn len(&self) -> usize {
        self.envs.len()
    }

    /// Always false: a batch has at least one environment.
    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    /// Shared dimensions.
    pub fn dims(&self) -> Dims {
        self.dims
    }

    /// The environments themselves.
    pub fn envs(&self) -> &[E] {
        &self.envs
    }

    /// Starts a new episode in every environment, environment `i` seeded
    /// with `seed_of(i)`.
    pub fn reset(&mut self, mut seed_of: impl FnMut(usize) -> u64) {
        for i in 0..self.envs.len() {
            self.envs[i].reset(seed_of(i));
            self.active[i] = true;
            self.terminated[i] = false;
            if let Some(won) = &mut self.won {
                won[i] = false;
            }
            self.rewards[i] = 0.0;
            if let Some(r) = &mut self.agent_rewards {
                r[i * self.dims.n_agents..(i + 1) * self.dims.n_agents].fill(0.0);
            }
            self.observe(i);
        }
    }

    /// Steps every active environment; `actions` is `[n_envs, n_agents]`
    /// (entries of inactive environments are ignored).
    pub fn step(&mut self, actions: &[usize]) {
        let n = self.dims.n_agents;
        debug_assert_eq!(actions.len(), self.envs.len() * n);
        for i in 0..self.envs.len() {
            if !self.active[i] {
                continue;
            }
            let out = self.envs[i].step(&actions[i * n..(i + 1) * n]);
            self.rewards[i] = out.reward;
            if let (Some(dst), Some(src)) = (&mut self.agent_rewards, self.envs[i].agent_rewards()) {
                dst[i * n..(i + 1) * n].copy_from_slice(src);
            }
            self.terminated[i] = out.terminated;
            if let (Some(won), Some(w)) = (&mut self.won, self.envs[i].won()) {
                won[i] = out.done() && w;
            }
            self.active[i] = !out.done();
            self.observe(i);
        }
    }

    fn observe(&mut self, i: usize) {
        let Dims { n_agents, obs_dim, state_dim, n_actions, .. } = self.dims;
        let env = &self.envs[i];
        let obs = &mut self.obs[i * n_agents * obs_dim..(i + 1) * n_agents * obs_dim];
        let avail = &mut self.avail[i * n_agents * n_actions..(i + 1) * n_agents * n_actions];
        for a in 0..n_agents {
            env.write_obs(a, &mut obs[a * obs_dim..(a + 1) * obs_dim]);
            env.write_avail_actions(a, &mut avail[a * n_actions..(a + 1) * n_actions]);
        }
        env.write_state(&mut self.state[i * state_dim..(i + 1) * state_dim]);
    }

    /// Observations `[n_envs, n_agents, obs_dim]`.
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }
    /// Global states `[n_envs, state_dim]`.
    pub fn state(&self) -> &[f32] {
        &self.state
    }
    /// Action masks `[n_envs, n_agents, n_actions]`, 1.0 = allowed.
    pub fn avail(&self) -> &[f32] {
        &self.avail
    }
    /// Team rewards of the last step `[n_envs]`.
    pub fn rewards(&self) -> &[f64] {
        &self.rewards
    }
    /// Each agent's own reward of the last step `[n_envs, n_agents]`, when
    /// the environments define one.
    pub fn agent_rewards(&self) -> Option<&[f64]> {
        self.agent_rewards.as_deref()
    }
    /// Whether each environment's episode ended in a terminal state `[n_envs]`.
    pub fn terminated(&self) -> &[bool] {
        &self.terminated
    }
    /// Whether each environment's episode was won `[n_envs]` (false until it
    /// ends), for tasks with a win condition.
    pub fn won(&self) -> Option<&[bool]> {
        self.won.as_deref()
    }
    /// Whether each environment is still inside its episode `[n_envs]`.
    pub fn active(&self) -> &[bool] {
        &self.active
    }
    /// Whether every episode of the batch has ended.
    pub fn all_done(&self) -> bool {
        !self.active.iter().any(|&a| a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{Spread, SpreadConfig};

    #[test]
    fn batch_matches_environments_stepped_alone() {
        let mk = || Spread::new(SpreadConfig::default());
        let mut batch = VecEnv::new(vec![mk(), mk()]).unwrap();
        batch.reset(|i| 100 + i as u64);
        let mut solo = mk();
        solo.reset(101);
        let actions = [1, 2, 3, 4, 0, 2];
        batch.step(&actions);
        let out = solo.step(&actions[3..]);
        assert_eq!(batch.rewards()[1], out.reward);
        let mut obs = vec![0.0; 18];
        solo.write_obs(2, &mut obs);
        assert_eq!(&batch.obs()[(3 + 2) * 18..(3 + 3) * 18], &obs[..]);
        for _ in 1..25 {
            assert!(!batch.all_done());
            batch.step(&actions);
        }
        assert!(batch.all_done());
    }

    #[test]
    fn mismatched_batches_are_refused() {
        let a = Spread::new(SpreadConfig::default());
        let b = Spread::new(SpreadConfig { n_agents: 4, ..Default::default() });
        let err = VecEnv::new(vec![a, b]).err().unwrap().to_string();
        assert!(err.contains("environment 1"), "{err}");
        assert!(VecEnv::<Spread>::new(vec![]).is_err());
    }
}
