//! A scripted reference controller for spread (N = 3): what a team that
//! sees everything and plans its moves scores, to put learned returns in
//! context (docs/results.md).
//!
//! Every step, the agents are assigned to distinct landmarks by the
//! assignment with the smallest total distance (all N! of them), and each
//! takes the action whose predicted resting point (its velocity coasting
//! out under the damping) lands closest to its landmark.
//!
//! ```text
//! cargo run --release --example spread_oracle [-- EPISODES]
//! ```

use murmur::train::env::{Environment, Spread, SpreadBehaviour, SpreadConfig};

/// The 5 actions' directions (no-op, -x, +x, -y, +y).
const DIRECTIONS: [[f64; 2]; 5] = [[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]];

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for k in 0..=p.len() {
            let mut q = p.clone();
            q.insert(k, n - 1);
            out.push(q);
        }
    }
    out
}

fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

fn main() {
    let episodes: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let cfg = SpreadConfig::default();
    let n = cfg.n_agents;
    let mut env = Spread::new(cfg);
    let assignments = permutations(n);
    let (dt, damping, sensitivity) = (0.1, 0.25, 5.0);
    let mut returns = Vec::new();
    let mut per_step = vec![0.0; env.episode_limit()];
    let mut behaviour = SpreadBehaviour::default();
    let positions = |env: &Spread| {
        let e = &env.world().entities;
        let agents: Vec<[f64; 2]> = e[..n].iter().map(|x| x.pos).collect();
        let landmarks: Vec<[f64; 2]> = e[n..2 * n].iter().map(|x| x.pos).collect();
        (agents, landmarks)
    };
    for seed in 0..episodes {
        env.reset(1_000_000 + seed);
        let mut total = 0.0;
        for reward_at in per_step.iter_mut() {
            let e = &env.world().entities;
            let target_of = assignments
                .iter()
                .min_by(|a, b| {
                    let cost = |p: &Vec<usize>| (0..n).map(|i| distance(e[i].pos, e[n + p[i]].pos)).sum::<f64>();
                    cost(a).total_cmp(&cost(b))
                })
                .expect("at least one assignment");
            let actions: Vec<usize> = (0..n)
                .map(|i| {
                    let (p, v, goal) = (e[i].pos, e[i].vel, e[n + target_of[i]].pos);
                    let resting = |d: [f64; 2]| {
                        let v1 = [
                            v[0] * (1.0 - damping) + d[0] * sensitivity * dt,
                            v[1] * (1.0 - damping) + d[1] * sensitivity * dt,
                        ];
                        [p[0] + v[0] * dt + v1[0] * dt / damping, p[1] + v[1] * dt + v1[1] * dt / damping]
                    };
                    (0..DIRECTIONS.len())
                        .min_by(|&a, &b| {
                            distance(resting(DIRECTIONS[a]), goal).total_cmp(&distance(resting(DIRECTIONS[b]), goal))
                        })
                        .expect("five actions")
                })
                .collect();
            let outcome = env.step(&actions);
            let (agents, landmarks) = positions(&env);
            behaviour.step(&agents, &landmarks, &actions);
            total += outcome.reward;
            *reward_at += outcome.reward / episodes as f64;
            if outcome.done() {
                break;
            }
        }
        let (agents, landmarks) = positions(&env);
        behaviour.end_episode(&agents, &landmarks);
        returns.push(total);
    }
    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
    let sd = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (returns.len() - 1) as f64).sqrt();
    println!(
        "scripted assignment controller on spread (N = {n}): mean return {mean:.1}, std {sd:.1}, {episodes} episodes"
    );
    let profile: Vec<String> = per_step.iter().map(|r| format!("{r:.2}")).collect();
    println!("mean team reward per step: {}", profile.join(" "));
    println!("{behaviour}");
}
