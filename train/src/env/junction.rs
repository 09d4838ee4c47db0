//! One-step traffic junction (LICA paper, section 4.3.1): two agents, each
//! waits (0) or passes (1); the team scores 1 if exactly one passes.

use super::{Environment, StepOutcome};

/// The one-step traffic junction. Observations and state are constant.
#[derive(Debug, Clone, Default)]
pub struct Junction {
    done: bool,
}

impl Junction {
    /// Action index: wait.
    pub const WAIT: usize = 0;
    /// Action index: pass.
    pub const PASS: usize = 1;

    /// A fresh junction.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Environment for Junction {
    fn n_agents(&self) -> usize {
        2
    }
    fn obs_dim(&self) -> usize {
        1
    }
    fn state_dim(&self) -> usize {
        1
    }
    fn n_actions(&self) -> usize {
        2
    }
    fn episode_limit(&self) -> usize {
        1
    }
    fn reset(&mut self, _seed: u64) {
        self.done = false;
    }
    fn step(&mut self, actions: &[usize]) -> StepOutcome {
        debug_assert!(!self.done, "step after the episode ended");
        self.done = true;
        let passing = actions.iter().filter(|&&a| a == Self::PASS).count();
        StepOutcome { reward: f64::from(u8::from(passing == 1)), terminated: true, truncated: false }
    }
    fn write_obs(&self, _agent: usize, out: &mut [f32]) {
        out.fill(1.0);
    }
    fn write_state(&self, out: &mut [f32]) {
        out.fill(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewards_exactly_one_passer_and_lasts_one_step() {
        let mut env = Junction::new();
        for (a, b, r) in [(0, 0, 0.0), (0, 1, 1.0), (1, 0, 1.0), (1, 1, 0.0)] {
            env.reset(7);
            let out = env.step(&[a, b]);
            assert_eq!(out.reward, r, "actions ({a}, {b})");
            assert!(out.terminated && !out.truncated);
        }
        let mut obs = [0.0];
        env.write_obs(1, &mut obs);
        assert_eq!(obs, [1.0]);
        assert_eq!(env.episode_limit(), 1);
    }
}
