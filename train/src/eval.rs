//! Evaluation summaries: mean, spread and a 95% confidence interval of
//! episode returns, and the uniform-random baseline a learner must beat.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde::Serialize;

use crate::buffer::{mean, std_dev};
use crate::env::Environment;

/// Statistics of a set of episode returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReturnStats {
    /// Number of episodes.
    pub episodes: usize,
    /// Mean return.
    pub mean: f64,
    /// Sample standard deviation.
    pub std: f64,
    /// Half-width of the normal-approximation 95% interval of the mean.
    pub ci95: f64,
    /// The share of episodes won, for tasks with a win condition.
    pub win_rate: Option<f64>,
}

impl ReturnStats {
    /// Summarises `returns`.
    pub fn of(returns: &[f64]) -> Self {
        let std = std_dev(returns);
        let n = returns.len().max(1) as f64;
        Self { episodes: returns.len(), mean: mean(returns), std, ci95: 1.96 * std / n.sqrt(), win_rate: None }
    }

    /// The same, with the share of `wins` (one per episode; empty for a task
    /// without a win condition).
    pub fn with_wins(mut self, wins: &[bool]) -> Self {
        self.win_rate = crate::buffer::win_rate(wins);
        self
    }
}

impl std::fmt::Display for ReturnStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mean return {:.3} ± {:.3} (95% CI [{:.3}, {:.3}]), std {:.3}, {} episodes",
            self.mean,
            self.ci95,
            self.mean - self.ci95,
            self.mean + self.ci95,
            self.std,
            self.episodes
        )?;
        match self.win_rate {
            Some(w) => write!(f, ", {:.1}% won", 100.0 * w),
            None => Ok(()),
        }
    }
}

/// Returns of `episodes` episodes where every agent picks uniformly among
/// its available actions (episode `k` is seeded `seed + k`), summarised;
/// on tasks with a win condition, with the share won.
pub fn uniform_random(env: &mut dyn Environment, episodes: usize, seed: u64) -> ReturnStats {
    let (returns, wins) = uniform_random_episodes(env, episodes, seed);
    ReturnStats::of(&returns).with_wins(&wins)
}

/// Returns and (for tasks with a win condition) outcomes of uniformly
/// random episodes.
fn uniform_random_episodes(env: &mut dyn Environment, episodes: usize, seed: u64) -> (Vec<f64>, Vec<bool>) {
    let mut rng = Pcg64::seed_from_u64(seed);
    let (n, a) = (env.n_agents(), env.n_actions());
    let mut actions = vec![0; n];
    let mut avail = vec![0.0f32; a];
    let mut wins = Vec::new();
    let returns = (0..episodes)
        .map(|k| {
            env.reset(seed.wrapping_add(k as u64));
            let mut ret = 0.0;
            for _ in 0..env.episode_limit() {
                for (i, u) in actions.iter_mut().enumerate() {
                    env.write_avail_actions(i, &mut avail);
                    let allowed: Vec<usize> = (0..a).filter(|&j| avail[j] > 0.0).collect();
                    *u = allowed[rng.random_range(0..allowed.len().max(1))];
                }
                let out = env.step(&actions);
                ret += out.reward;
                if out.done() {
                    break;
                }
            }
            wins.extend(env.won());
            ret
        })
        .collect();
    (returns, wins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Junction;

    #[test]
    fn stats_and_the_junction_random_baseline() {
        let s = ReturnStats::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.mean, 2.5);
        assert!((s.std - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((s.ci95 - 1.96 * s.std / 2.0).abs() < 1e-12);
        // Random agents on the junction score 1 half of the time.
        let r = uniform_random(&mut Junction::new(), 4000, 1);
        assert!((r.mean - 0.5).abs() < 0.03, "{}", r.mean);
        assert_eq!(uniform_random(&mut Junction::new(), 10, 1).win_rate, None, "the junction has no win condition");
    }

    #[test]
    fn random_allies_lose_every_3m_battle_and_say_so() {
        use crate::env::{Battle, BattleConfig};
        let mut env = Battle::from_config(&BattleConfig::default()).expect("3m");
        let stats = uniform_random(&mut env, 50, 3);
        assert_eq!(stats.win_rate, Some(0.0));
        assert!(stats.mean > 0.0 && stats.mean < 0.5, "{stats}");
    }
}
