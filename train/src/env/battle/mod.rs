//! StarCraft-like micro battles ("battle"), step for step as JaxMARL's
//! SMAX (`HeuristicEnemySMAX`, jaxmarl 0.2.0): allies learn, enemies follow
//! a script, on a continuous 32 x 32 map. train/tests/replay/smax_battle.rs
//! replays episodes recorded from SMAX itself and matches positions,
//! health, cooldowns, observations, state, masks and rewards.
//!
//! One step is 8 ticks of 1/16 s. Each tick every unit moves, fires
//! simultaneously (damage adds up; draws are possible), units touching a
//! wall die, and overlapping live units are pushed apart. The reward is the
//! enemies' health lost this step as a fraction of their maximum, averaged
//! over the enemies, plus 1 for a win (every enemy dead, an ally alive).
//! docs/environments.md describes observations, state and actions.

mod draws;
mod fused;
mod heuristic;
mod maps;
mod observe;
mod units;
mod world;

pub use draws::{BattleDraws, RandomDraws};
pub use fused::Arithmetic;
use fused::{dispatch, Dispatched, FusedMulAdd};
pub use heuristic::HeuristicEnemy;
pub use maps::{Scenario, Spawn, MAP_NAMES};
pub use observe::{obs_dim, OWN_FEATURES, STATE_FEATURES, UNIT_FEATURES};
pub use units::{UnitStats, UnitType, N_UNIT_TYPES};
pub use world::{move_vectors, Scratch, World, MAP_SIZE, N_MOVE_ACTIONS, STOP, TICK, TICKS_PER_STEP};

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use super::scene::{Body, Role, Scene, Shot};
use super::{Environment, StepOutcome};

/// The map of a battle config that names neither a map nor units.
pub const DEFAULT_MAP: &str = "3m";

/// Settings of a battle (the `[env]` table with `name = "battle"`): a named
/// map, or the user's own lists of units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BattleConfig {
    /// One of [`MAP_NAMES`] (`3m`, `2s3z`, `smacv2_5_units`, ...); unset
    /// for a custom map, or for 3m when no units are listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<String>,
    /// A custom map's allies (`["marine", "stalker"]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allies: Vec<UnitType>,
    /// A custom map's enemies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enemies: Vec<UnitType>,
    /// SMAX's step limit. As in SMAX, an episode that reaches it ends one
    /// step later (SMAX tests the counter before counting the step), so
    /// episodes last at most `max_steps + 1` steps.
    pub max_steps: usize,
}

impl Default for BattleConfig {
    fn default() -> Self {
        Self { map: None, allies: Vec::new(), enemies: Vec::new(), max_steps: 100 }
    }
}

impl BattleConfig {
    /// The units this config describes, or what a valid config would have
    /// held instead ("one of 3m, 8m, ...").
    pub fn scenario(&self) -> Result<Scenario, String> {
        let custom = !self.allies.is_empty() || !self.enemies.is_empty();
        match (&self.map, custom) {
            (Some(_), true) => Err("absent when the allies and enemies are listed".into()),
            (Some(map), false) => Scenario::named(map).ok_or_else(|| format!("one of {}", MAP_NAMES.join(", "))),
            (None, true) if self.allies.is_empty() || self.enemies.is_empty() => {
                Err("at least one ally and one enemy for a custom map".into())
            }
            (None, true) => Ok(Scenario::custom(self.allies.clone(), self.enemies.clone())),
            (None, false) => Ok(Scenario::named(DEFAULT_MAP).expect("the default map is defined")),
        }
    }
}

/// A battle of learning allies against SMAX's heuristic enemy. `D` supplies
/// the random numbers of each step ([`RandomDraws`] unless replaying).
pub struct Battle<D: BattleDraws = RandomDraws> {
    scenario: Scenario,
    max_steps: usize,
    world: World,
    enemy: HeuristicEnemy,
    draws: D,
    spawn_rng: Pcg64,
    steps: usize,
    won: bool,
    move_table: [[f32; 2]; 4],
    actions: Vec<usize>,
    walks: Vec<[f32; 2]>,
    targets: Vec<Option<usize>>,
    health_before: Vec<f32>,
    scratch: Scratch,
    arithmetic: Arithmetic,
}

impl Battle {
    /// A battle on `scenario`; call [`Environment::reset`] before stepping.
    pub fn new(scenario: Scenario, max_steps: usize) -> Self {
        Self::with_draws(scenario, max_steps, RandomDraws::default())
    }

    /// The battle a config describes.
    ///
    /// # Errors
    /// What is wrong with the config's map.
    pub fn from_config(cfg: &BattleConfig) -> Result<Self, String> {
        Ok(Self::new(cfg.scenario()?, cfg.max_steps))
    }
}

impl<D: BattleDraws> Battle<D> {
    /// A battle whose steps draw from `draws`.
    pub fn with_draws(scenario: Scenario, max_steps: usize, draws: D) -> Self {
        let (a, e) = (scenario.allies.len(), scenario.enemies.len());
        let types = scenario.allies.iter().chain(&scenario.enemies).copied().collect();
        let n = a + e;
        Self {
            world: World::new(types, a),
            enemy: HeuristicEnemy::new(e, a),
            draws,
            spawn_rng: Pcg64::seed_from_u64(0),
            steps: 0,
            won: false,
            move_table: move_vectors(),
            actions: vec![STOP; n],
            walks: vec![[0.0; 2]; n],
            targets: vec![None; n],
            health_before: vec![0.0; e],
            scratch: Scratch::new(n),
            arithmetic: Arithmetic::detect(),
            scenario,
            max_steps,
        }
    }

    /// The units (read).
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The units (write), to set up exact situations.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// The source of each step's random numbers.
    pub fn draws_mut(&mut self) -> &mut D {
        &mut self.draws
    }

    /// Which copy of the stepping code runs: the fastest this CPU has
    /// unless set. Every copy gives the same bits.
    pub fn arithmetic(&self) -> Arithmetic {
        self.arithmetic
    }

    /// Runs the copy `arithmetic` names (one of [`Arithmetic::available`]
    /// on this machine; others fall back to the portable copy), to compare
    /// them.
    pub fn set_arithmetic(&mut self, arithmetic: Arithmetic) {
        self.arithmetic = arithmetic;
    }

    /// The scenario being fought.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Every unit's action in the last step (allies then enemies).
    pub fn last_actions(&self) -> &[usize] {
        &self.actions
    }

    /// Steps taken in this episode.
    pub fn steps(&self) -> usize {
        self.steps
    }

    fn n_allies(&self) -> usize {
        self.world.n_allies
    }

    /// One step of every unit; `F` computes the distances' fused
    /// multiply-adds.
    #[inline(always)]
    fn step_with<F: FusedMulAdd>(&mut self, actions: &[usize]) -> StepOutcome {
        let (a, n) = (self.n_allies(), self.world.len());
        let n_actions = self.n_actions();
        for (slot, &u) in self.actions.iter_mut().zip(actions) {
            // An index past the last action counts as stop.
            *slot = if u < n_actions { u } else { STOP };
        }
        for k in 0..self.world.n_enemies() {
            self.actions[a + k] = self.enemy.act::<F>(&self.world, k, &mut self.draws);
        }
        // The ticks read neither last move nor last attack, so this step's
        // are recorded before them.
        for i in 0..n {
            let u = self.actions[i];
            let step = if u < STOP { self.move_table[u] } else { [0.0; 2] };
            self.world.prev_move[i] = step;
            self.world.prev_attack[i] = if u >= N_MOVE_ACTIONS { u } else { 0 };
            self.walks[i] = self.world.walk(i, step);
            self.targets[i] = (u >= N_MOVE_ACTIONS).then(|| self.world.target_of(i, u));
        }
        self.health_before.copy_from_slice(&self.world.health[a..]);
        for tick in 0..TICKS_PER_STEP {
            self.world.tick::<F>(&self.walks, &self.targets, tick, &mut self.draws, &mut self.scratch);
        }
        let allies_dead = !self.world.alive[..a].iter().any(|&x| x);
        let enemies_dead = !self.world.alive[a..].iter().any(|&x| x);
        let timed_out = self.steps >= self.max_steps;
        self.steps += 1;
        let mut lost = 0.0f32;
        for (k, before) in self.health_before.iter().enumerate() {
            let u = a + k;
            lost += (self.world.health[u] - before) / self.world.types[u].stats().health;
        }
        self.won = enemies_dead && !allies_dead;
        let mut reward = lost.abs() / self.world.n_enemies() as f32;
        if self.won {
            reward += 1.0;
        }
        let terminated = allies_dead || enemies_dead;
        StepOutcome { reward: reward as f64, terminated, truncated: timed_out && !terminated }
    }

    /// Places and types the units for a new episode.
    fn spawn(&mut self) {
        let (a, e) = (self.scenario.allies.len(), self.scenario.enemies.len());
        let rng = &mut self.spawn_rng;
        match self.scenario.spawn {
            Spawn::Fixed => {
                let quarter = MAP_SIZE / 4.0;
                for (i, p) in self.world.pos.iter_mut().enumerate() {
                    let x = if i < a { quarter } else { 3.0 * quarter };
                    *p = [x + rng.random_range(-2.0..2.0), MAP_SIZE / 2.0 + rng.random_range(-2.0..2.0)];
                }
            }
            Spawn::Smacv2 => {
                let types = &mut self.world.types;
                for t in types.iter_mut().take(a) {
                    *t = UnitType::ALL[rng.random_range(0..N_UNIT_TYPES)];
                }
                // Enemies copy the allies' types; SMAX leaves any extra
                // enemy a marine.
                for k in 0..e {
                    types[a + k] = if k < a { types[k] } else { UnitType::Marine };
                }
                smacv2_positions(rng, a, e, &mut self.world.pos);
            }
        }
        self.world.revive();
        self.world.push_apart::<fused::Emulated>(&mut self.scratch);
    }
}

/// SMACv2's start positions for `a` allies then `e` enemies: "surround" or
/// "reflect", each half the time.
fn smacv2_positions(rng: &mut Pcg64, a: usize, e: usize, pos: &mut [[f32; 2]]) {
    let w = MAP_SIZE;
    if rng.random_bool(0.5) {
        // Surround: one team around the centre, the other in groups along
        // the diagonals from the corners.
        let allies_inside = rng.random_bool(0.5);
        let (inside, outside) = if allies_inside { (0..a, a..a + e) } else { (a..a + e, 0..a) };
        for p in &mut pos[inside] {
            *p = [w / 2.0 + rng.random_range(-2.0..2.0), w / 2.0 + rng.random_range(-2.0..2.0)];
        }
        let corners = [[0.0, 0.0], [0.0, w], [w, 0.0], [w, w]];
        let mut groups = [[0.0f32; 2]; 4];
        for (g, corner) in groups.iter_mut().zip(corners) {
            let t: f32 = rng.random_range(0.0..1.0);
            *g = [t * w / 2.0 + (1.0 - t) * corner[0], t * w / 2.0 + (1.0 - t) * corner[1]];
        }
        for p in &mut pos[outside] {
            let g = groups[rng.random_range(0..4)];
            *p = [g[0] + rng.random_range(-2.0..2.0), g[1] + rng.random_range(-2.0..2.0)];
        }
    } else {
        // Reflect: allies anywhere in the left half, enemies mirrored (any
        // extra enemy anywhere in the right half).
        for p in &mut pos[..a] {
            *p = [rng.random_range(0.0..w / 2.0), rng.random_range(0.0..w)];
        }
        for k in 0..e {
            pos[a + k] = if k < a {
                [w - pos[k][0], pos[k][1]]
            } else {
                [rng.random_range(w / 2.0..w), rng.random_range(0.0..w)]
            };
        }
    }
}

impl<D: BattleDraws> Environment for Battle<D> {
    fn n_agents(&self) -> usize {
        self.n_allies()
    }
    fn obs_dim(&self) -> usize {
        obs_dim(self.n_allies(), self.world.n_enemies())
    }
    fn state_dim(&self) -> usize {
        STATE_FEATURES * self.world.len()
    }
    fn n_actions(&self) -> usize {
        N_MOVE_ACTIONS + self.world.n_enemies()
    }
    fn episode_limit(&self) -> usize {
        self.max_steps + 1
    }

    fn reset(&mut self, seed: u64) {
        self.spawn_rng = Pcg64::seed_from_u64(seed);
        self.draws.reset(seed ^ 0x9e37_79b9_7f4a_7c15);
        self.spawn();
        self.enemy.reset();
        self.steps = 0;
        self.won = false;
    }

    fn step(&mut self, actions: &[usize]) -> StepOutcome {
        dispatch(self.arithmetic, StepWork { battle: self, actions })
    }

    fn write_obs(&self, agent: usize, out: &mut [f32]) {
        dispatch(self.arithmetic, AllyViewWork { world: &self.world, agent, view: AllyView::Observation, out });
    }

    fn write_state(&self, out: &mut [f32]) {
        observe::write_state(&self.world, out);
    }

    fn write_avail_actions(&self, agent: usize, out: &mut [f32]) {
        dispatch(self.arithmetic, AllyViewWork { world: &self.world, agent, view: AllyView::ActionMask, out });
    }

    fn won(&self) -> Option<bool> {
        Some(self.won)
    }

    fn scene(&self) -> Option<Scene> {
        let w = &self.world;
        let bodies = (0..w.len())
            .map(|i| {
                let stats = w.types[i].stats();
                Body {
                    pos: w.pos[i],
                    radius: stats.radius,
                    role: if i < w.n_allies { Role::Agent } else { Role::Opponent },
                    health: Some((w.health[i] / stats.health).clamp(0.0, 1.0)),
                    alive: w.alive[i],
                }
            })
            .collect();
        // A line for each attack that was in reach of a living attacker.
        let shots = (0..w.len())
            .filter_map(|i| Some((i, self.targets[i]?)))
            .filter(|&(i, j)| w.alive[i] && w.distance(i, j) < w.types[i].stats().attack_range)
            .map(|(from, to)| Shot { from, to })
            .collect();
        Some(Scene { bounds: Some([0.0, 0.0, MAP_SIZE, MAP_SIZE]), bodies, shots })
    }
}

/// One step, in the copy of the code [`dispatch`] picks.
struct StepWork<'a, D: BattleDraws> {
    battle: &'a mut Battle<D>,
    actions: &'a [usize],
}

impl<D: BattleDraws> Dispatched for StepWork<'_, D> {
    type Output = StepOutcome;
    #[inline(always)]
    fn run<F: FusedMulAdd>(self) -> StepOutcome {
        self.battle.step_with::<F>(self.actions)
    }
}

/// What an ally's view is written as.
#[derive(Clone, Copy)]
enum AllyView {
    /// Its observation.
    Observation,
    /// Its action mask.
    ActionMask,
}

/// One ally's observation or action mask, in the copy of the code
/// [`dispatch`] picks.
struct AllyViewWork<'a> {
    world: &'a World,
    agent: usize,
    view: AllyView,
    out: &'a mut [f32],
}

impl Dispatched for AllyViewWork<'_> {
    type Output = ();
    #[inline(always)]
    fn run<F: FusedMulAdd>(self) {
        match self.view {
            AllyView::Observation => observe::write_ally_obs::<F>(self.world, self.agent, self.out),
            AllyView::ActionMask => observe::write_ally_avail::<F>(self.world, self.agent, self.out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnvConfig;
    use rand::Rng;

    fn dims(map: &str) -> (usize, usize, usize) {
        let env = Battle::new(Scenario::named(map).unwrap(), 100);
        (env.obs_dim(), env.state_dim(), env.n_actions())
    }

    #[test]
    fn sizes_are_smax_sizes() {
        assert_eq!(dims("3m"), (75, 72, 8));
        assert_eq!(dims("2s3z"), (127, 120, 10));
        assert_eq!(dims("5m_vs_6m"), (140, 132, 11));
        assert_eq!(dims("27m_vs_30m"), (738, 684, 35));
        assert_eq!(dims("smacv2_20_units"), (517, 480, 25));
    }

    #[test]
    fn a_custom_map_is_a_list_of_units() {
        let over = ["allies=[\"stalker\", \"zealot\"]".to_string(), "enemies=[\"hydralisk\"]".into()];
        let EnvConfig::Battle(cfg) = EnvConfig::parse("battle", &over).unwrap() else { panic!("not a battle") };
        let mut env = Battle::from_config(&cfg).unwrap();
        env.reset(3);
        assert_eq!(env.world().types, [UnitType::Stalker, UnitType::Zealot, UnitType::Hydralisk]);
        assert_eq!((env.n_agents(), env.n_actions()), (2, 6));
        // Allies start left of the centre, enemies right of it.
        assert!(env.world().pos[0][0] < 11.0 && env.world().pos[2][0] > 21.0, "{:?}", env.world().pos);
        let default = EnvConfig::parse("battle", &[]).unwrap();
        assert_eq!(default.build().n_agents(), 3, "3m by default");
    }

    #[test]
    fn bad_maps_are_refused_with_what_was_expected() {
        let err = |over: &[&str]| {
            let over: Vec<String> = over.iter().map(|s| s.to_string()).collect();
            EnvConfig::parse("battle", &over).unwrap_err().to_string()
        };
        let e = err(&["map=\"4m\""]);
        assert!(e.contains("env.map") && e.contains("27m_vs_30m") && e.contains("4m"), "{e}");
        let e = err(&["map=\"3m\"", "allies=[\"marine\"]"]);
        assert!(e.contains("env.map") && e.contains("absent"), "{e}");
        let e = err(&["allies=[\"marine\"]"]);
        assert!(e.contains("env.allies") && e.contains("one enemy"), "{e}");
        let e = err(&["allies=[\"tank\"]", "enemies=[\"marine\"]"]);
        assert!(e.contains("tank"), "{e}");
    }

    /// Every copy of the stepping code this CPU runs plays the same battles
    /// to the bit: positions, health, cooldowns, observations and masks
    /// after each of 3000 random steps on three maps.
    #[test]
    fn every_copy_of_the_stepping_code_fights_the_same_battles() {
        let copies = Arithmetic::available();
        for map in ["3m", "2s3z", "27m_vs_30m"] {
            let mut rng = Pcg64::seed_from_u64(9);
            let mut battles: Vec<Battle> = copies
                .iter()
                .map(|&a| {
                    let mut b = Battle::new(Scenario::named(map).unwrap(), 100);
                    b.set_arithmetic(a);
                    b.reset(1);
                    b
                })
                .collect();
            let (n, o, k) = (battles[0].n_agents(), battles[0].obs_dim(), battles[0].n_actions());
            let (mut obs, mut avail) = (vec![0.0f32; o], vec![0.0f32; k]);
            let mut actions = vec![0usize; n];
            let (mut moved, mut episodes) = (0, 0);
            for step in 0..3000 {
                actions.iter_mut().for_each(|u| *u = rng.random_range(0..k));
                let mut seen: Vec<Vec<u32>> = Vec::new();
                for b in &mut battles {
                    let before = b.world().pos.clone();
                    let outcome = b.step(&actions);
                    let w = b.world();
                    moved += w.pos.iter().zip(&before).filter(|(a, b)| a != b).count();
                    let mut bits: Vec<u32> =
                        w.pos.iter().flatten().chain(&w.health).chain(&w.cooldown).map(|x| x.to_bits()).collect();
                    for agent in 0..n {
                        b.write_obs(agent, &mut obs);
                        b.write_avail_actions(agent, &mut avail);
                        bits.extend(obs.iter().chain(&avail).map(|x| x.to_bits()));
                    }
                    bits.push((outcome.reward as f32).to_bits());
                    if outcome.done() {
                        b.reset(step);
                    }
                    seen.push(bits);
                }
                episodes += usize::from(battles[0].steps() == 0);
                for (copy, bits) in copies.iter().zip(&seen) {
                    assert!(bits == &seen[0], "{map}, step {step}: {copy:?} differs from {:?}", copies[0]);
                }
            }
            assert!(moved > 3000 && episodes > 10, "{map}: too little happened ({moved} moves, {episodes} episodes)");
        }
    }

    #[test]
    fn murmurs_own_draws_stay_within_smax_ranges() {
        let mut draws = RandomDraws::default();
        draws.reset(1);
        let jitter: Vec<f32> = (0..20_000).map(|_| draws.cooldown_jitter(0, 0, TICK)).collect();
        let (lo, hi) = jitter.iter().fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let mean = jitter.iter().sum::<f32>() / jitter.len() as f32;
        assert!(lo >= -TICK && hi < 2.0 * TICK && lo < -0.06 && hi > 0.12, "[{lo}, {hi}]");
        assert!((mean - TICK / 2.0).abs() < 1e-3, "uniform on [-1/16, 2/16) has mean 1/32: {mean}");
        let visible = [false, true, false, true];
        let mut seen = [0usize; 4];
        for _ in 0..1000 {
            seen[draws.target_choice(0, &visible)] += 1;
        }
        assert_eq!(seen[0] + seen[2], 0, "only visible allies are chosen");
        assert!(seen[1] > 400 && seen[3] > 400, "uniformly: {seen:?}");
    }
}
