//! A picture of an environment's current state: the bodies on the map and
//! who is shooting whom, in world coordinates. Renderers (`murmur render`)
//! draw these; the simulators only describe themselves.

use serde::Serialize;

/// What part a body plays, which decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Role {
    /// A learning agent of the team.
    Agent,
    /// An opponent: a battle's enemy unit or predator-prey's prey.
    Opponent,
    /// A target to cover (spread's landmarks).
    Landmark,
    /// An immovable obstacle.
    Obstacle,
}

/// One round body.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Body {
    /// Centre (x, y), world units.
    pub pos: [f32; 2],
    /// Radius, world units.
    pub radius: f32,
    /// Its part in the scene.
    pub role: Role,
    /// Health as a share of full health, in [0, 1], for bodies that have it.
    pub health: Option<f32>,
    /// False once a unit has died (drawn faded).
    pub alive: bool,
}

/// A shot fired during the last step: `from` attacked `to` (indices into
/// [`Scene::bodies`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shot {
    /// The attacker.
    pub from: usize,
    /// The target.
    pub to: usize,
}

/// Everything a renderer needs to draw one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scene {
    /// The world's edges, `[x_min, y_min, x_max, y_max]` in world units,
    /// when it has them (battles); `None` for unbounded particle worlds.
    pub bounds: Option<[f32; 4]>,
    /// Every body, agents first.
    pub bodies: Vec<Body>,
    /// Attacks of the last step.
    pub shots: Vec<Shot>,
}

impl Scene {
    /// The square to show for `scenes`, `[x_min, y_min, x_max, y_max]`:
    /// the smallest one holding every body with a margin of 12%; in a world
    /// with edges, at least a third of the world's side and kept inside it,
    /// so small fights are seen close up.
    pub fn view_of(scenes: &[Scene]) -> [f32; 4] {
        let mut lo = [f32::INFINITY; 2];
        let mut hi = [f32::NEG_INFINITY; 2];
        for b in scenes.iter().flat_map(|s| &s.bodies) {
            for k in 0..2 {
                lo[k] = lo[k].min(b.pos[k] - b.radius);
                hi[k] = hi[k].max(b.pos[k] + b.radius);
            }
        }
        if !lo[0].is_finite() || !hi[0].is_finite() {
            return scenes.first().and_then(|s| s.bounds).unwrap_or([-1.0, -1.0, 1.0, 1.0]);
        }
        let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
        let mut side = 1.25 * (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-3);
        let Some(edges) = scenes.first().and_then(|s| s.bounds) else {
            return [centre[0] - side / 2.0, centre[1] - side / 2.0, centre[0] + side / 2.0, centre[1] + side / 2.0];
        };
        let world = (edges[2] - edges[0]).min(edges[3] - edges[1]);
        side = side.clamp(world / 3.0, world);
        let start = |k: usize| (centre[k] - side / 2.0).clamp(edges[k], edges[k + 2] - side);
        let (x, y) = (start(0), start(1));
        [x, y, x + side, y + side]
    }
}

/// One episode as pictures: the scene after the reset and after each step.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeFilm {
    /// `steps + 1` scenes.
    pub scenes: Vec<Scene>,
    /// The team's return so far at each scene (`0` at the reset).
    pub returns: Vec<f64>,
    /// Whether the episode was won, for tasks with a win condition.
    pub won: Option<bool>,
}

/// Replays an episode from the seed it was reset with and the agents'
/// actions at each step (`actions[t][i]`, agent `i` at step `t`), picturing
/// every step; environments are deterministic for a seed, so this is the
/// episode that was played. Stops early if the episode ends. `None` if the
/// environment has nothing to draw.
pub fn film(env: &mut dyn super::Environment, seed: u64, actions: &[Vec<usize>]) -> Option<EpisodeFilm> {
    env.reset(seed);
    let mut scenes = vec![env.scene()?];
    let mut returns = vec![0.0];
    for step in actions {
        let out = env.step(step);
        scenes.push(env.scene()?);
        returns.push(returns.last().copied().unwrap_or(0.0) + out.reward);
        if out.done() {
            break;
        }
    }
    Some(EpisodeFilm { scenes, returns, won: env.won() })
}

/// Bodies of a particle world (spread, predator-prey), given the role of
/// entity `i`.
pub(crate) fn particle_bodies(world: &super::particle::World, role_of: impl Fn(usize) -> Role) -> Vec<Body> {
    world
        .entities
        .iter()
        .enumerate()
        .map(|(i, e)| Body {
            pos: [e.pos[0] as f32, e.pos[1] as f32],
            radius: e.size as f32,
            role: role_of(i),
            health: None,
            alive: true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(x: f32, y: f32, r: f32) -> Body {
        Body { pos: [x, y], radius: r, role: Role::Agent, health: None, alive: true }
    }

    #[test]
    fn a_battle_films_its_units_health_and_shots() {
        use crate::env::{Battle, BattleConfig, Environment};
        let mut env = Battle::from_config(&BattleConfig::default()).expect("3m");
        // Allies 0..3 face enemies 3..6; ally 0 walks east until it shoots.
        let attack_first_enemy = super::super::battle::N_MOVE_ACTIONS;
        let mut actions = Vec::new();
        for _ in 0..30 {
            actions.push(vec![1, 1, 1]);
        }
        actions.push(vec![attack_first_enemy; 3]);
        let film = film(&mut env, 7, &actions).expect("battles have scenes");
        assert_eq!(film.scenes.len(), film.returns.len());
        let first = &film.scenes[0];
        assert_eq!(first.bodies.len(), 6);
        assert_eq!(first.bounds, Some([0.0, 0.0, 32.0, 32.0]));
        assert!(first.bodies[..3].iter().all(|b| b.role == Role::Agent && b.health == Some(1.0)));
        assert!(first.bodies[3..].iter().all(|b| b.role == Role::Opponent));
        // Walking east brings allies and enemies into range: someone gets hurt.
        let last = film.scenes.last().expect("scenes");
        let hurt = last.bodies.iter().filter(|b| b.health.is_some_and(|h| h < 1.0)).count();
        assert!(hurt > 0, "no unit lost health: {last:?}");
        assert!(last.shots.iter().all(|s| s.from < 6 && s.to < 6 && s.from != s.to));
        assert!(film.scenes.iter().any(|s| !s.shots.is_empty()), "no shot drawn in {} steps", film.scenes.len());
        // The film is the episode: the same seed and actions step the same.
        env.reset(7);
        let mut ret = 0.0;
        for a in actions.iter().take(film.scenes.len() - 1) {
            ret += env.step(a).reward;
        }
        assert_eq!(ret, *film.returns.last().expect("returns"));
    }

    #[test]
    fn the_view_fits_every_body_of_every_scene_in_a_square() {
        let a = Scene { bounds: None, bodies: vec![body(0.0, 0.0, 0.1)], shots: vec![] };
        let b = Scene { bounds: None, bodies: vec![body(2.0, 1.0, 0.1)], shots: vec![] };
        let v = Scene::view_of(&[a, b]);
        assert!((v[2] - v[0] - (v[3] - v[1])).abs() < 1e-6, "square: {v:?}");
        assert!(v[0] < -0.1 && v[2] > 2.1 && v[1] < -0.1 && v[3] > 1.1, "{v:?}");
        // In a world with edges: close up, but at least a third of it, and inside it.
        let edges = Some([0.0, 0.0, 30.0, 30.0]);
        let corner = Scene { bounds: edges, bodies: vec![body(1.0, 1.0, 0.5), body(2.0, 2.0, 0.5)], shots: vec![] };
        assert_eq!(Scene::view_of(&[corner]), [0.0, 0.0, 10.0, 10.0]);
        let wide = Scene { bounds: edges, bodies: vec![body(5.0, 10.0, 0.5), body(25.0, 10.0, 0.5)], shots: vec![] };
        let v = Scene::view_of(&[wide]);
        assert!(v[0] <= 4.5 && v[2] >= 25.5 && v[0] >= 0.0 && v[2] <= 30.0, "{v:?}");
    }
}
