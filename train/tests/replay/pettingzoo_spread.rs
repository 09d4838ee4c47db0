//! murmur's spread replays episodes recorded from PettingZoo MPE v3
//! `simple_spread` itself (scripts/pettingzoo_spread_fixture.py wrote the
//! fixture): the same start, the same actions, and after every step the
//! same observation for every agent and the same reward, to float precision.
//! The hand-computed tests in train/src/env pin the formulas; this one pins
//! them to the implementation the papers' spread results come from.

use murmur_train::env::{Environment, Spread, SpreadConfig};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    source: String,
    episodes: Vec<Episode>,
}

#[derive(Deserialize)]
struct Episode {
    n_agents: usize,
    /// Positions of the agents, then of the landmarks, after reset.
    start: Vec<[f64; 2]>,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    actions: Vec<usize>,
    /// One observation per agent, after the step.
    obs: Vec<Vec<f64>>,
    /// One reward per agent, after the step.
    rewards: Vec<f64>,
    truncated: bool,
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pettingzoo_spread_v3.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn spread_steps_exactly_as_pettingzoo_simple_spread_v3() {
    let fixture = fixture();
    assert!(fixture.source.contains("simple_spread_v3"), "{}", fixture.source);
    assert!(fixture.episodes.iter().any(|e| e.n_agents != 3), "the fixture should cover N != 3");
    let (mut steps, mut lopsided) = (0, 0);
    for (k, episode) in fixture.episodes.iter().enumerate() {
        let n = episode.n_agents;
        let mut env = Spread::new(SpreadConfig { n_agents: n, ..SpreadConfig::default() });
        env.reset(0);
        assert_eq!(episode.start.len(), 2 * n, "episode {k}: agents and landmarks");
        for (e, p) in env.world_mut().entities.iter_mut().zip(&episode.start) {
            e.pos = *p;
        }
        let mut obs = vec![0f32; env.obs_dim()];
        for (t, step) in episode.steps.iter().enumerate() {
            let outcome = env.step(&step.actions);
            assert_eq!(outcome.truncated, step.truncated, "episode {k} step {t}: truncation");
            assert!(!outcome.terminated, "episode {k} step {t}: spread never terminates");
            let rewards = env.agent_rewards().expect("spread reports per-agent rewards");
            for (i, (&ours, &theirs)) in rewards.iter().zip(&step.rewards).enumerate() {
                assert!((ours - theirs).abs() < 1e-9, "episode {k} step {t} agent {i}: reward {ours} vs {theirs}");
            }
            assert!((outcome.reward - step.rewards.iter().sum::<f64>()).abs() < 1e-9, "episode {k} step {t}: team");
            for (i, theirs) in step.obs.iter().enumerate() {
                env.write_obs(i, &mut obs);
                assert_eq!(obs.len(), theirs.len(), "episode {k} step {t} agent {i}: observation length");
                for (j, (&a, &b)) in obs.iter().zip(theirs).enumerate() {
                    // PettingZoo hands out float32 observations, as murmur does.
                    assert!((f64::from(a) - b).abs() < 1e-6, "episode {k} step {t} agent {i} obs[{j}]: {a} vs {b}");
                }
            }
            steps += 1;
            lopsided += usize::from(step.rewards.iter().any(|&r| (r - step.rewards[0]).abs() > 1e-6));
        }
    }
    // The fixture must exercise collisions that hit some agents and not others.
    assert!(steps >= 100 && lopsided >= 5, "{steps} steps, {lopsided} with unequal rewards");
}
