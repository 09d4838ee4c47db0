//! What a spread team does, beyond its return: which landmarks it covers at
//! the end of an episode, how often its agents touch, how often they idle.
//! Measured the same way for a learned team's recorded episodes (from the
//! agents' observations) and for a scripted controller (from the world).

use std::fmt;

/// An agent covers a landmark within this distance at the episode's end
/// (MPE's benchmark counts an occupied landmark the same way).
pub const COVER_DISTANCE: f64 = 0.1;
/// Two agents touch when their centres are closer than their radii (0.15 each).
pub const CONTACT_DISTANCE: f64 = 0.3;

/// Running counts over episodes of spread.
#[derive(Debug, Clone, Default)]
pub struct SpreadBehaviour {
    episodes: usize,
    covered: usize,
    covered_counts: [usize; 4],
    landmarks: usize,
    final_distance: f64,
    contact_steps: usize,
    agent_steps: usize,
    idle_steps: usize,
    half_way_steps: usize,
    steps: usize,
}

impl SpreadBehaviour {
    /// Counts one step: the agents' positions after it `[n][x, y]`, the
    /// landmarks' `[L][x, y]`, and the actions that led there (0 = no-op).
    pub fn step(&mut self, agents: &[[f64; 2]], landmarks: &[[f64; 2]], actions: &[usize]) {
        self.steps += 1;
        self.agent_steps += agents.len();
        self.idle_steps += actions.iter().filter(|&&a| a == 0).count();
        for i in 0..agents.len() {
            for j in i + 1..agents.len() {
                if distance(agents[i], agents[j]) < CONTACT_DISTANCE {
                    self.contact_steps += 1;
                }
            }
        }
        self.half_way_steps += usize::from(covered(agents, landmarks) * 2 >= landmarks.len());
    }

    /// Closes an episode at the agents' and landmarks' final positions.
    pub fn end_episode(&mut self, agents: &[[f64; 2]], landmarks: &[[f64; 2]]) {
        let k = covered(agents, landmarks);
        self.episodes += 1;
        self.covered += k;
        self.covered_counts[k.min(3)] += 1;
        self.landmarks += landmarks.len();
        self.final_distance += landmarks
            .iter()
            .map(|&l| agents.iter().map(|&a| distance(a, l)).fold(f64::INFINITY, f64::min))
            .sum::<f64>();
    }

    /// Counts the episodes of a spread dataset's observations: `obs`
    /// `[T+1, n, O]` in spread's layout (velocity, position, landmarks
    /// relative to the agent, ...), `actions` `[T, n]`, `landmarks` how many.
    pub fn episode_from_observations(&mut self, obs: &[f32], actions: &[i64], n: usize, landmarks: usize) {
        let o = obs.len() / (n * (actions.len() / n + 1));
        let steps = actions.len() / n;
        let at = |t: usize| {
            let row = |i: usize| &obs[(t * n + i) * o..(t * n + i + 1) * o];
            let agents: Vec<[f64; 2]> = (0..n).map(|i| [row(i)[2] as f64, row(i)[3] as f64]).collect();
            let own = agents[0];
            let marks: Vec<[f64; 2]> = (0..landmarks)
                .map(|l| [own[0] + row(0)[4 + 2 * l] as f64, own[1] + row(0)[5 + 2 * l] as f64])
                .collect();
            (agents, marks)
        };
        for t in 0..steps {
            let (agents, marks) = at(t + 1);
            let acts: Vec<usize> = actions[t * n..(t + 1) * n].iter().map(|&a| a as usize).collect();
            self.step(&agents, &marks, &acts);
        }
        let (agents, marks) = at(steps);
        self.end_episode(&agents, &marks);
    }
}

fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// How many landmarks have an agent within [`COVER_DISTANCE`].
fn covered(agents: &[[f64; 2]], landmarks: &[[f64; 2]]) -> usize {
    landmarks.iter().filter(|&&l| agents.iter().any(|&a| distance(a, l) < COVER_DISTANCE)).count()
}

impl fmt::Display for SpreadBehaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.episodes.max(1) as f64;
        let share = |k: usize| 100.0 * self.covered_counts[k] as f64 / e;
        writeln!(
            f,
            "landmarks covered at the end (an agent within {COVER_DISTANCE}): {:.2} of {} on average; episodes with 0/1/2/3 covered: {:.0}% / {:.0}% / {:.0}% / {:.0}%",
            self.covered as f64 / e,
            self.landmarks as f64 / e,
            share(0),
            share(1),
            share(2),
            share(3),
        )?;
        writeln!(
            f,
            "distance from each landmark to its nearest agent at the end: {:.3}",
            self.final_distance / self.landmarks.max(1) as f64
        )?;
        writeln!(
            f,
            "agent pairs in contact (closer than {CONTACT_DISTANCE}): {:.2} pair-steps per episode",
            self.contact_steps as f64 / e
        )?;
        writeln!(
            f,
            "no-op actions: {:.1}% of agent steps",
            100.0 * self.idle_steps as f64 / self.agent_steps.max(1) as f64
        )?;
        write!(
            f,
            "steps with at least half the landmarks covered: {:.1}% of steps",
            100.0 * self.half_way_steps as f64 / self.steps.max(1) as f64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{Environment, Spread, SpreadConfig};

    #[test]
    fn observations_give_the_world_positions() {
        // The same episode counted from the world and from the observations.
        let mut env = Spread::new(SpreadConfig::default());
        env.reset(3);
        let (n, o) = (3, env.obs_dim());
        let positions = |env: &Spread| {
            let e = &env.world().entities;
            ((0..n).map(|i| e[i].pos).collect::<Vec<_>>(), (n..2 * n).map(|i| e[i].pos).collect::<Vec<_>>())
        };
        let mut obs = Vec::new();
        let write = |env: &Spread, obs: &mut Vec<f32>| {
            let mut row = vec![0.0f32; n * o];
            for i in 0..n {
                env.write_obs(i, &mut row[i * o..(i + 1) * o]);
            }
            obs.extend(row);
        };
        write(&env, &mut obs);
        let (mut from_world, mut actions) = (SpreadBehaviour::default(), vec![]);
        for t in 0..25 {
            let a = [t % 5, (t + 2) % 5, 0];
            env.step(&a);
            let (agents, marks) = positions(&env);
            from_world.step(&agents, &marks, &a);
            actions.extend(a.iter().map(|&x| x as i64));
            write(&env, &mut obs);
        }
        let (agents, marks) = positions(&env);
        from_world.end_episode(&agents, &marks);
        let mut from_obs = SpreadBehaviour::default();
        from_obs.episode_from_observations(&obs, &actions, n, 3);
        assert_eq!(from_world.to_string(), from_obs.to_string());
        // Agent 2 never moves: a third of the actions are no-ops, at least.
        assert!(from_obs.idle_steps * 3 >= from_obs.agent_steps);
    }
}
