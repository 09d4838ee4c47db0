//! murmur's battle replays episodes recorded from JaxMARL's SMAX itself
//! (`HeuristicEnemySMAX`, jaxmarl 0.2.0; scripts/smax_fixture.py wrote the
//! fixture): the same units at the same start, the same ally actions and
//! the same random draws (cooldown jitter, the heuristic enemy's choice of
//! whom to walk to) give, after every step, the same enemy actions,
//! positions, health, cooldowns, observations, state, action masks, reward
//! and end of episode, on 3m, 2s3z, 3s_vs_5z and smacv2_5_units.

use murmur_train::env::battle::{Arithmetic, Battle, BattleDraws, Scenario, UnitType};
use murmur_train::env::Environment;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    source: String,
    episodes: Vec<Episode>,
}

#[derive(Deserialize)]
struct Units {
    positions: Vec<[f32; 2]>,
    health: Vec<f32>,
    cooldowns: Vec<f32>,
    alive: Vec<bool>,
}

#[derive(Deserialize)]
struct Start {
    #[serde(flatten)]
    units: Units,
    types: Vec<usize>,
}

#[derive(Deserialize)]
struct Step {
    #[serde(flatten)]
    units: Units,
    actions: Vec<usize>,
    enemy_actions: Vec<usize>,
    target_choices: Vec<i64>,
    cooldown_jitter: Vec<Vec<f32>>,
    obs: Vec<Vec<f32>>,
    state: Vec<f32>,
    avail: Vec<Vec<u8>>,
    reward: f32,
    done: bool,
}

#[derive(Deserialize)]
struct Episode {
    map: String,
    seed: u64,
    /// The allies' policy: "random" (uniform over available actions) or
    /// "focus" (the first enemy in range, else east).
    policy: String,
    max_steps: usize,
    start: Start,
    steps: Vec<Step>,
}

/// The draws SMAX made in one step, handed back as murmur asks for them.
#[derive(Default)]
struct Recorded {
    jitter: Vec<Vec<f32>>,
    choices: Vec<i64>,
}

impl BattleDraws for Recorded {
    fn reset(&mut self, _seed: u64) {}

    fn cooldown_jitter(&mut self, tick_index: usize, unit: usize, _tick: f32) -> f32 {
        self.jitter[tick_index][unit]
    }

    fn target_choice(&mut self, enemy: usize, visible: &[bool]) -> usize {
        let k = usize::try_from(self.choices[enemy]).expect("SMAX chose a target where murmur sees one");
        assert!(visible[k], "SMAX's choice {k} is not visible to murmur's enemy {enemy}");
        k
    }
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smax_jaxmarl_0.2.0.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The largest difference between two float sequences, relative to 1 or
/// the value's size, whichever is larger.
fn worst(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / x.abs().max(1.0)).fold(0.0, f32::max)
}

/// Float precision over a hundred steps of pushing units apart.
const TOLERANCE: f32 = 2e-5;

#[test]
fn battle_steps_exactly_as_jaxmarl_smax() {
    let fixture = fixture();
    assert!(fixture.source.starts_with("jaxmarl 0.2.0"), "{}", fixture.source);
    let mut maps: Vec<&str> = fixture.episodes.iter().map(|e| e.map.as_str()).collect();
    maps.dedup();
    assert_eq!(maps, ["3m", "2s3z", "3s_vs_5z", "smacv2_5_units"]);
    let (mut steps, mut shots, mut deaths, mut wins, mut cut, mut deviation) = (0, 0, 0, 0, 0, 0.0f32);
    // Every copy of the stepping code this CPU runs replays every episode.
    let runs = Arithmetic::available().into_iter().flat_map(|a| fixture.episodes.iter().map(move |e| (a, e)));
    for (arithmetic, episode) in runs {
        let name = format!("{} seed {} ({}, {arithmetic:?})", episode.map, episode.seed, episode.policy);
        let scenario = Scenario::named(&episode.map).expect("a known map");
        let mut env = Battle::with_draws(scenario, episode.max_steps, Recorded::default());
        env.set_arithmetic(arithmetic);
        env.reset(0);
        let world = env.world_mut();
        for (t, &index) in world.types.iter_mut().zip(&episode.start.types) {
            *t = UnitType::from_index(index).expect("a unit type index");
        }
        world.revive();
        world.pos.copy_from_slice(&episode.start.units.positions);
        assert_eq!(world.health, episode.start.units.health, "{name}: health at the start");
        let (a, n) = (env.n_agents(), env.world().len());
        let mut obs = vec![0f32; env.obs_dim()];
        let mut state = vec![0f32; env.state_dim()];
        let mut avail = vec![0f32; env.n_actions()];
        for (t, step) in episode.steps.iter().enumerate() {
            let at = format!("{name}, step {t}");
            let draws = env.draws_mut();
            draws.jitter.clone_from(&step.cooldown_jitter);
            draws.choices.clone_from(&step.target_choices);
            let before: Vec<f32> = env.world().cooldown.clone();
            let outcome = env.step(&step.actions);
            let world = env.world();
            for k in 0..n - a {
                // A dead enemy's action changes nothing; murmur skips it.
                if world.alive[a + k] || env.last_actions()[a + k] != 4 {
                    assert_eq!(env.last_actions()[a + k], step.enemy_actions[k], "{at}: enemy {k}'s action");
                }
            }
            let flat = |v: &[[f32; 2]]| v.iter().flatten().copied().collect::<Vec<_>>();
            let d = worst(&flat(&world.pos), &flat(&step.units.positions));
            assert!(
                d < TOLERANCE,
                "{at}: positions differ by {d:e}\n murmur {:?}\n smax   {:?}",
                world.pos,
                step.units.positions
            );
            deviation = deviation.max(d);
            assert_eq!(world.alive, step.units.alive, "{at}: alive");
            assert!(
                worst(&world.health, &step.units.health) < TOLERANCE,
                "{at}: health {:?} vs {:?}",
                world.health,
                step.units.health
            );
            let d = worst(&world.cooldown, &step.units.cooldowns);
            assert!(d < TOLERANCE, "{at}: cooldowns {:?} vs {:?}", world.cooldown, step.units.cooldowns);
            for i in 0..a {
                env.write_obs(i, &mut obs);
                let d = worst(&obs, &step.obs[i]);
                assert!(
                    d < TOLERANCE,
                    "{at}: ally {i}'s observation differs by {d:e}\n murmur {obs:?}\n smax   {:?}",
                    step.obs[i]
                );
                deviation = deviation.max(d);
                env.write_avail_actions(i, &mut avail);
                let want: Vec<f32> = step.avail[i].iter().map(|&v| f32::from(v)).collect();
                assert_eq!(avail, want, "{at}: ally {i}'s action mask");
            }
            env.write_state(&mut state);
            let d = worst(&state, &step.state);
            assert!(d < TOLERANCE, "{at}: state differs by {d:e}\n murmur {state:?}\n smax   {:?}", step.state);
            assert!(
                (outcome.reward as f32 - step.reward).abs() < TOLERANCE,
                "{at}: reward {} vs {}",
                outcome.reward,
                step.reward
            );
            assert_eq!(outcome.done(), step.done, "{at}: end of episode");
            steps += 1;
            shots += world.cooldown.iter().zip(&before).filter(|(after, before)| after > before).count();
            deaths += world.alive.iter().filter(|&&x| !x).count();
            wins += usize::from(outcome.done() && env.won() == Some(true));
            cut += usize::from(outcome.truncated);
        }
        assert!(episode.steps.last().is_some_and(|s| s.done), "{name}: the recording runs to the episode's end");
    }
    eprintln!(
        "{steps} steps replayed ({:?}), {shots} shots, {deaths} unit-steps dead, {wins} won, {cut} cut by the limit; \
         worst deviation {deviation:e}",
        Arithmetic::available()
    );
    // The replay must have exercised the mechanics, not only walking.
    assert!(shots > 100 && deaths > 50, "too little fighting in the fixture: {shots} shots, {deaths} dead");
    assert!(wins >= 1 && cut >= 1, "the fixture should hold a won episode ({wins}) and one cut by its limit ({cut})");
}

#[derive(Deserialize)]
struct SpawnQuantiles {
    map: String,
    resets: usize,
    ally_x: Vec<f32>,
    ally_y: Vec<f32>,
    enemy_x: Vec<f32>,
    enemy_y: Vec<f32>,
    type_share: Vec<f32>,
}

/// The largest gap between `k / 10` and the share of `values` at or below
/// SMAX's `k`-th decile: the Kolmogorov-Smirnov distance at the deciles
/// (in the sparse tails a decile itself moves by a map unit between two
/// samples of 4000 resets, while these shares move by about 0.01).
fn decile_gap(values: &[f32], smax_deciles: &[f32]) -> f32 {
    smax_deciles
        .iter()
        .enumerate()
        .map(|(k, q)| {
            let below = values.iter().filter(|&&v| v <= *q).count() as f32 / values.len() as f32;
            (below - (k + 1) as f32 / 10.0).abs()
        })
        .fold(0.0, f32::max)
}

/// Start positions and unit types come from JAX's generator in SMAX and
/// from murmur's own, so they are compared by distribution: over 4000
/// resets each, murmur puts within 0.03 of a tenth of the allies' and the
/// enemies' x and y between each pair of SMAX's deciles, and each unit
/// type's share is within 0.02, on fixed maps and on SMACv2's
/// surround-or-reflect maps.
#[test]
fn battle_spawns_units_as_smax_does() {
    #[derive(Deserialize)]
    struct Spawns {
        spawns: Vec<SpawnQuantiles>,
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smax_jaxmarl_0.2.0.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fixture: Spawns = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(fixture.spawns.iter().any(|s| s.map.starts_with("smacv2")), "the fixture covers SMACv2's spawns");
    let mut worst_gap = 0.0f32;
    for smax in &fixture.spawns {
        let scenario = Scenario::named(&smax.map).expect("a known map");
        let a = scenario.allies.len();
        let mut env = Battle::new(scenario, 100);
        let (mut ax, mut ay, mut ex, mut ey): (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) = Default::default();
        let mut types = [0usize; 6];
        for seed in 0..smax.resets as u64 {
            env.reset(seed);
            let w = env.world();
            for (i, p) in w.pos.iter().enumerate() {
                let (xs, ys) = if i < a { (&mut ax, &mut ay) } else { (&mut ex, &mut ey) };
                xs.push(p[0]);
                ys.push(p[1]);
                types[w.types[i].index()] += 1;
            }
        }
        let total = types.iter().sum::<usize>() as f32;
        for (what, ours, theirs) in [
            ("ally x", &ax, &smax.ally_x),
            ("ally y", &ay, &smax.ally_y),
            ("enemy x", &ex, &smax.enemy_x),
            ("enemy y", &ey, &smax.enemy_y),
        ] {
            let gap = decile_gap(ours, theirs);
            worst_gap = worst_gap.max(gap);
            assert!(gap < 0.03, "{}: {what}: the shares below SMAX's deciles {theirs:?} are off by {gap:.3}", smax.map);
        }
        for (t, (&count, &share)) in types.iter().zip(&smax.type_share).enumerate() {
            let ours = count as f32 / total;
            assert!((ours - share).abs() < 0.02, "{}: unit type {t} is {ours:.3} of units, SMAX {share:.3}", smax.map);
        }
    }
    eprintln!("spawns: worst gap to SMAX's decile shares {worst_gap:.4}");
}
