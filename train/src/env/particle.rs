//! Particle-world physics shared by the MPE-style scenarios (spread,
//! predator-prey), as the Multi-Agent Particle Environment of PettingZoo MPE
//! v3 computes it.
//!
//! All state is f64; positions in world units, velocities in units/s.

use super::{Environment, StateKind};

/// Simulation step, seconds.
pub const DT: f64 = 0.1;
/// Fraction of velocity lost each step.
pub const DAMPING: f64 = 0.25;
/// Stiffness of the soft contact between colliding entities.
pub const CONTACT_FORCE: f64 = 100.0;
/// Softness of the contact (the softplus temperature).
pub const CONTACT_MARGIN: f64 = 1e-3;
/// Acceleration sensitivity of an entity that sets none.
pub const DEFAULT_ACCEL: f64 = 5.0;
/// Number of discrete movement actions: no-op, -x, +x, -y, +y.
pub const N_MOVE_ACTIONS: usize = 5;

/// One body of the world: an agent, a prey, a landmark or an obstacle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entity {
    /// Position (x, y).
    pub pos: [f64; 2],
    /// Velocity (x, y).
    pub vel: [f64; 2],
    /// Radius.
    pub size: f64,
    /// Mass.
    pub mass: f64,
    /// Whether forces move it.
    pub movable: bool,
    /// Whether it takes part in contacts.
    pub collide: bool,
    /// Acceleration sensitivity applied to its action; `None` = [`DEFAULT_ACCEL`].
    pub accel: Option<f64>,
    /// Speed cap; `None` = unbounded.
    pub max_speed: Option<f64>,
}

impl Entity {
    /// A movable, colliding body at the origin.
    pub fn agent(size: f64) -> Self {
        Self {
            pos: [0.0; 2],
            vel: [0.0; 2],
            size,
            mass: 1.0,
            movable: true,
            collide: true,
            accel: None,
            max_speed: None,
        }
    }

    /// An immovable body at the origin.
    pub fn landmark(size: f64, collide: bool) -> Self {
        Self { movable: false, collide, ..Self::agent(size) }
    }

    /// Euclidean distance between the centres of two entities.
    pub fn distance(&self, other: &Entity) -> f64 {
        distance(self.pos, other.pos)
    }

    /// Whether two entities overlap (distance below the sum of radii).
    pub fn touches(&self, other: &Entity) -> bool {
        self.distance(other) < self.size + other.size
    }
}

/// Distance between two points.
pub fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// The unit direction of a discrete movement action (0..5).
pub fn action_direction(action: usize) -> [f64; 2] {
    match action {
        1 => [-1.0, 0.0],
        2 => [1.0, 0.0],
        3 => [0.0, -1.0],
        4 => [0.0, 1.0],
        _ => [0.0, 0.0],
    }
}

/// Numerically stable `ln(1 + exp(x))` (numpy's `logaddexp(0, x)`).
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// The contact force on `a` from `b` (the force on `b` is its negative), or
/// `None` when either does not collide. Coincident centres give no force:
/// MPE divides by zero there and poisons the world with NaN.
pub fn collision_force(a: &Entity, b: &Entity) -> Option<[f64; 2]> {
    if !a.collide || !b.collide {
        return None;
    }
    let delta = [a.pos[0] - b.pos[0], a.pos[1] - b.pos[1]];
    let dist = delta[0].hypot(delta[1]);
    if dist == 0.0 {
        return None;
    }
    let k = CONTACT_MARGIN;
    let penetration = k * softplus(-(dist - (a.size + b.size)) / k);
    let scale = CONTACT_FORCE * penetration / dist;
    Some([delta[0] * scale, delta[1] * scale])
}

/// A set of entities; the first `n_actors` of them take actions.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    /// Every body: acting entities first, in action order, then the rest.
    pub entities: Vec<Entity>,
    /// How many leading entities take actions.
    pub n_actors: usize,
    /// Scratch per-entity force, kept to step without allocating.
    forces: Vec<[f64; 2]>,
}

impl World {
    /// A world whose first `n_actors` entities act.
    pub fn new(entities: Vec<Entity>, n_actors: usize) -> Self {
        assert!(n_actors <= entities.len(), "more actors than entities");
        let forces = vec![[0.0; 2]; entities.len()];
        Self { entities, n_actors, forces }
    }

    /// Advances one step of [`DT`] with one discrete action per actor
    /// (`actions.len() == n_actors`), in MPE's order: action forces,
    /// pairwise contact forces, then integration. Allocation-free.
    pub fn step(&mut self, actions: &[usize]) {
        debug_assert_eq!(actions.len(), self.n_actors);
        self.forces.fill([0.0; 2]);
        for (i, &action) in actions.iter().enumerate() {
            let e = &self.entities[i];
            if e.movable {
                let d = action_direction(action);
                let accel = e.accel.unwrap_or(DEFAULT_ACCEL);
                self.forces[i] = [d[0] * accel, d[1] * accel];
            }
        }
        let n = self.entities.len();
        for a in 0..n {
            for b in (a + 1)..n {
                let (ea, eb) = (&self.entities[a], &self.entities[b]);
                if let Some(f) = collision_force(ea, eb) {
                    if ea.movable {
                        self.forces[a][0] += f[0];
                        self.forces[a][1] += f[1];
                    }
                    if eb.movable {
                        self.forces[b][0] -= f[0];
                        self.forces[b][1] -= f[1];
                    }
                }
            }
        }
        for (e, f) in self.entities.iter_mut().zip(&self.forces) {
            if e.movable {
                integrate(e, *f);
            }
        }
    }
}

/// Position with the old velocity, then damping, then the force, then the
/// speed cap: the order MPE uses.
fn integrate(e: &mut Entity, force: [f64; 2]) {
    for ((p, v), f) in e.pos.iter_mut().zip(e.vel.iter_mut()).zip(force) {
        *p += *v * DT;
        *v *= 1.0 - DAMPING;
        *v += f / e.mass * DT;
    }
    if let Some(max) = e.max_speed {
        let speed = e.vel[0].hypot(e.vel[1]);
        if speed > max {
            e.vel = [e.vel[0] / speed * max, e.vel[1] / speed * max];
        }
    }
}

/// Writes observation values left to right, casting f64 world state to f32.
pub(crate) struct ObsWriter<'a> {
    out: &'a mut [f32],
    k: usize,
}

impl<'a> ObsWriter<'a> {
    /// Starts at the front of `out`.
    pub(crate) fn new(out: &'a mut [f32]) -> Self {
        Self { out, k: 0 }
    }

    /// Appends one value.
    pub(crate) fn push(&mut self, v: f64) {
        self.out[self.k] = v as f32;
        self.k += 1;
    }

    /// Appends a 2-D vector.
    pub(crate) fn push2(&mut self, v: [f64; 2]) {
        self.push(v[0]);
        self.push(v[1]);
    }

    /// Appends `p - origin`.
    pub(crate) fn push_relative(&mut self, p: [f64; 2], origin: [f64; 2]) {
        self.push2([p[0] - origin[0], p[1] - origin[1]]);
    }
}

/// Global-state length of a particle scenario (see [`StateKind`]).
pub(crate) fn state_dim(kind: StateKind, env: &impl Environment, world: &World) -> usize {
    match kind {
        StateKind::ObsConcat => env.n_agents() * env.obs_dim(),
        StateKind::World => 4 * world.entities.len(),
    }
}

/// Writes a particle scenario's global state: every agent's observation in
/// turn, or `[pos, vel]` of every entity in world order.
pub(crate) fn write_state(kind: StateKind, env: &impl Environment, world: &World, out: &mut [f32]) {
    match kind {
        StateKind::ObsConcat => {
            for (i, chunk) in out.chunks_exact_mut(env.obs_dim()).enumerate() {
                env.write_obs(i, chunk);
            }
        }
        StateKind::World => {
            for (e, chunk) in world.entities.iter().zip(out.chunks_exact_mut(4)) {
                let mut w = ObsWriter::new(chunk);
                w.push2(e.pos);
                w.push2(e.vel);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_is_stable_and_exact() {
        assert!((softplus(0.0) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(softplus(1000.0), 1000.0);
        assert_eq!(softplus(-1000.0), 0.0);
        assert!((softplus(1.0) - (1.0 + 1f64.exp()).ln()).abs() < 1e-15);
    }

    #[test]
    fn collision_force_matches_hand_computation() {
        // Two agents of size 0.15 whose centres are 0.2 apart along x:
        // overlap 0.1, pen = 1e-3 * softplus(100) = 0.1 + 1e-3*ln(1+e^-100),
        // F = 100 * (+1, 0) * pen = (10.0, 0).
        let mut a = Entity::agent(0.15);
        let mut b = Entity::agent(0.15);
        a.pos = [0.2, 0.0];
        b.pos = [0.0, 0.0];
        let f = collision_force(&a, &b).unwrap();
        assert!((f[0] - 10.0).abs() < 1e-12, "{f:?}");
        assert_eq!(f[1], 0.0);
        // Far apart (gap 0.7): pen = 1e-3 * ln(1 + e^-700), about 1e-307.
        b.pos = [-0.8, 0.0];
        let f = collision_force(&a, &b).unwrap();
        assert!(f[0] > 0.0 && f[0] < 1e-300);
        // Touching exactly: pen = 1e-3 * ln 2, along the 3-4-5 direction.
        a.pos = [0.18, 0.24];
        b.pos = [0.0, 0.0];
        b.size = 0.15;
        let f = collision_force(&a, &b).unwrap();
        let pen = 1e-3 * 2f64.ln();
        assert!((f[0] - 100.0 * 0.6 * pen).abs() < 1e-12);
        assert!((f[1] - 100.0 * 0.8 * pen).abs() < 1e-12);
        // A non-colliding landmark exerts nothing.
        assert_eq!(collision_force(&a, &Entity::landmark(0.05, false)), None);
    }

    #[test]
    fn one_integration_step_matches_hand_computation() {
        // p += v dt; v *= 0.75; v += F/m dt, with F = 5 * (+1, 0).
        let mut e = Entity::agent(0.05);
        e.pos = [0.5, -0.5];
        e.vel = [1.0, 2.0];
        let mut w = World::new(vec![e], 1);
        w.step(&[2]);
        let e = w.entities[0];
        assert!((e.pos[0] - 0.6).abs() < 1e-15 && (e.pos[1] + 0.3).abs() < 1e-15);
        assert!((e.vel[0] - (0.75 + 0.5)).abs() < 1e-15);
        assert!((e.vel[1] - 1.5).abs() < 1e-15);
    }

    #[test]
    fn speed_cap_rescales_velocity() {
        let mut e = Entity::agent(0.05);
        e.max_speed = Some(1.0);
        e.accel = Some(3.0);
        e.vel = [3.0, 4.0];
        let mut w = World::new(vec![e], 1);
        w.step(&[0]);
        let v = w.entities[0].vel;
        // 0.75 * (3, 4) = (2.25, 3), speed 3.75 > 1: rescaled to (0.6, 0.8).
        assert!((v[0] - 0.6).abs() < 1e-12 && (v[1] - 0.8).abs() < 1e-12);
    }

    #[test]
    fn contact_pushes_both_bodies_apart_and_spares_immovables() {
        let mut a = Entity::agent(0.15);
        let mut b = Entity::agent(0.15);
        a.pos = [0.2, 0.0];
        let wall = Entity { pos: [0.2, 0.3], ..Entity::landmark(0.2, true) };
        b.pos = [0.0, 0.0];
        let mut w = World::new(vec![a, b, wall], 2);
        w.step(&[0, 0]);
        // Agent b: the agent contact, -10 * dt; the wall is 0.36 away (radii
        // 0.35) and adds only about 5e-7.
        assert!((w.entities[1].vel[0] + 1.0).abs() < 1e-5);
        // Agent a: +10 * dt from b, and the wall overlaps it by 0.05 along -y.
        assert!((w.entities[0].vel[0] - 1.0).abs() < 1e-9);
        assert!((w.entities[0].vel[1] + 0.5).abs() < 1e-9);
        assert_eq!(w.entities[2].pos, [0.2, 0.3]);
        assert_eq!(w.entities[2].vel, [0.0, 0.0]);
    }
}
