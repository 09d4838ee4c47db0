//! The battlefield: units on a continuous square map, moved, shot and
//! pushed apart tick by tick, in f32 as SMAX computes it.

use super::draws::BattleDraws;
use super::fused::{norm, Emulated, FusedMulAdd};
use super::units::UnitType;

/// Side of the square map, in map units.
pub const MAP_SIZE: f32 = 32.0;
/// Length of one tick, seconds.
pub const TICK: f32 = 1.0 / 16.0;
/// Ticks per agent step (one step is half a second).
pub const TICKS_PER_STEP: usize = 8;
/// Actions before the attack actions: north, east, south, west, stop.
pub const N_MOVE_ACTIONS: usize = 5;
/// The stop action.
pub const STOP: usize = 4;

/// The unit vector each movement action walks along (north, east, south,
/// west), computed as SMAX does: a diagonal rotated by 45 degrees in f32
/// with XLA's fused multiply-add, so that "north" is
/// `(-1.2688e-8, 0.99999994)` to the bit.
pub fn move_vectors() -> [[f32; 2]; 4] {
    let c = 1.0f32 / 2.0f32.sqrt();
    let mut out = [[0.0; 2]; 4];
    for (a, v) in out.iter_mut().enumerate() {
        let sx = if (a / 2) % 2 == 0 { 1.0f32 } else { -1.0 };
        let sy = if (a / 2 + a % 2) % 2 == 0 { 1.0f32 } else { -1.0 };
        let (x, y) = (sx * c, sy * c);
        *v = [Emulated::fma(-c, y, c * x), Emulated::fma(c, y, c * x)];
    }
    out
}

/// Per-unit working space of a tick, allocated once per battle. Damage and
/// pushes are zero between ticks: each tick adds into them and takes them
/// out as it applies them, so no tick has to clear them first.
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    /// Damage taken this tick.
    damage: Vec<f32>,
    /// Push-apart: the live units' indices, in order.
    live: Vec<usize>,
    /// Push-apart: each live unit's x, y and radius, side by side so that
    /// the pair loop reads one array.
    bodies: Vec<[f32; 3]>,
    /// Push-apart: each live unit's displacement (x, y).
    shift: Vec<[f32; 2]>,
}

impl Scratch {
    /// Space for `n` units.
    pub fn new(n: usize) -> Self {
        Self { damage: vec![0.0; n], live: vec![0; n], bodies: vec![[0.0; 3]; n], shift: vec![[0.0; 2]; n] }
    }
}

/// Every unit's state, allies first (`0..n_allies`), then enemies.
#[derive(Debug, Clone)]
pub struct World {
    /// Unit types.
    pub types: Vec<UnitType>,
    /// How many of the units are allies.
    pub n_allies: usize,
    /// Positions (x, y), map units.
    pub pos: Vec<[f32; 2]>,
    /// Health points.
    pub health: Vec<f32>,
    /// Seconds until the unit may shoot again (may be negative).
    pub cooldown: Vec<f32>,
    /// Health above 0 at the end of the last tick.
    pub alive: Vec<bool>,
    /// The movement vector of each unit's last action (zero for stop and
    /// attacks).
    pub prev_move: Vec<[f32; 2]>,
    /// Each unit's last action if it was an attack, else 0.
    pub prev_attack: Vec<usize>,
}

impl World {
    /// Units of these types at the origin, at full health.
    pub fn new(types: Vec<UnitType>, n_allies: usize) -> Self {
        let n = types.len();
        let health = types.iter().map(|t| t.stats().health).collect();
        Self {
            types,
            n_allies,
            pos: vec![[0.0; 2]; n],
            health,
            cooldown: vec![0.0; n],
            alive: vec![true; n],
            prev_move: vec![[0.0; 2]; n],
            prev_attack: vec![0; n],
        }
    }

    /// All units.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether there are no units.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The enemies' count.
    pub fn n_enemies(&self) -> usize {
        self.len() - self.n_allies
    }

    /// Every unit back to full health, ready to shoot, alive, with no last
    /// action (positions are the caller's).
    pub fn revive(&mut self) {
        for (h, t) in self.health.iter_mut().zip(&self.types) {
            *h = t.stats().health;
        }
        self.cooldown.fill(0.0);
        self.alive.fill(true);
        self.prev_move.fill([0.0; 2]);
        self.prev_attack.fill(0);
    }

    /// The unit that `unit`'s attack action `action` (>= 5) aims at: allies
    /// number enemies in order, enemies number allies in reverse (the order
    /// each side observes the other).
    pub fn target_of(&self, unit: usize, action: usize) -> usize {
        let k = action - N_MOVE_ACTIONS;
        if unit < self.n_allies {
            self.n_allies + k
        } else {
            self.n_allies - 1 - k
        }
    }

    /// How far unit `i` walks in one tick along move vector `step` (map
    /// units), computed as SMAX does: the vector times the speed, times the
    /// tick.
    pub fn walk(&self, i: usize, step: [f32; 2]) -> [f32; 2] {
        let speed = self.types[i].stats().speed;
        [step[0] * speed * TICK, step[1] * speed * TICK]
    }

    /// Distance between units `i` and `j`.
    pub fn distance(&self, i: usize, j: usize) -> f32 {
        norm::<Emulated>([self.pos[i][0] - self.pos[j][0], self.pos[i][1] - self.pos[j][1]])
    }

    /// One tick: every live unit moves by `walks[i]` (map units, its move
    /// vector times its speed times [`TICK`], as [`World::walk`] gives) and
    /// fires at `targets[i]` (if any) simultaneously, from the positions at
    /// the tick's start; then units at a wall die and overlapping live
    /// units are pushed apart. `scratch` holds one entry per unit; `F`
    /// computes the distances' fused multiply-adds.
    #[inline(always)]
    pub fn tick<F: FusedMulAdd>(
        &mut self,
        walks: &[[f32; 2]],
        targets: &[Option<usize>],
        tick_index: usize,
        draws: &mut impl BattleDraws,
        scratch: &mut Scratch,
    ) {
        let damage = &mut scratch.damage[..self.types.len()];
        let World { types, pos, cooldown, alive, .. } = self;
        let units = types.iter().zip(pos.iter()).zip(alive.iter()).zip(cooldown.iter_mut());
        for (i, ((((kind, &at), &alive_i), cooldown_i), &target)) in units.zip(targets).enumerate() {
            let stats = kind.stats();
            let hit = target.filter(|&j| {
                j != i
                    && alive_i
                    && alive[j]
                    && *cooldown_i <= 0.0
                    && norm::<F>([at[0] - pos[j][0], at[1] - pos[j][1]]) < stats.attack_range
            });
            if let Some(j) = hit {
                damage[j] += stats.damage;
                // SMAX adds (new - old) to the old value; kept for its rounding.
                let next = stats.cooldown + draws.cooldown_jitter(tick_index, i, TICK);
                *cooldown_i += next - *cooldown_i;
            } else {
                *cooldown_i += -TICK;
            }
        }
        let units = self.pos.iter_mut().zip(&mut self.health).zip(&mut self.alive);
        for (((pos, health), alive), (walk, damage)) in units.zip(walks.iter().zip(damage.iter_mut())) {
            let damage = std::mem::take(damage);
            // Moved in registers, stored once, and tested there for walls.
            let mut p = *pos;
            if *alive {
                p[0] = (p[0] + walk[0]).clamp(0.0, MAP_SIZE);
                p[1] = (p[1] + walk[1]).clamp(0.0, MAP_SIZE);
                *pos = p;
            }
            // A unit at a wall dies (this reads only unit i, so it can follow
            // i's own move).
            let at_wall = (p[0] <= 0.0) | (p[1] <= 0.0) | (p[0] >= MAP_SIZE) | (p[1] >= MAP_SIZE);
            let left = if at_wall { 0.0 } else { (*health - damage).max(0.0) };
            *health = left;
            *alive = left > 0.0;
        }
        self.push_apart::<F>(scratch);
    }

    /// Moves every pair of overlapping live units apart, each by half the
    /// overlap, from the positions before any is moved. `scratch` holds
    /// one entry per unit; `F` computes the distances' fused multiply-adds.
    ///
    /// Each pair is measured once and pushes both units: `i - j` is exactly
    /// `-(j - i)` in floating point and the overlap is symmetric, and unit
    /// `j` still sums its pushes in the order of the other unit's index, so
    /// the sums are SMAX's to the bit. Dead units neither push nor are
    /// pushed, so the pairs run over a packed list of the live ones. A pair
    /// farther apart than its radii reach (with a margin for rounding) has
    /// an overlap of exactly 0 and is skipped on its squared distance,
    /// before the square root (the circle lets fewer near misses through
    /// than the per-axis box it replaced, and its branch is guessed wrong
    /// less often).
    #[inline(always)]
    pub fn push_apart<F: FusedMulAdd>(&mut self, scratch: &mut Scratch) {
        let Scratch { live, bodies, shift, .. } = scratch;
        // Packed without a branch: every unit is written at the next free
        // slot, and only a live one takes it.
        let mut m = 0;
        for (i, ((p, kind), &alive)) in self.pos.iter().zip(&self.types).zip(&self.alive).enumerate() {
            live[m] = i;
            bodies[m] = [p[0], p[1], kind.stats().radius];
            m += usize::from(alive);
        }
        let (live, bodies, shift) = (&live[..m], &bodies[..m], &mut shift[..m]);
        for (a, &[xi, yi, ri]) in bodies.iter().enumerate() {
            let (done, rest) = shift.split_at_mut(a + 1);
            let mut sum = done[a];
            for (&[xj, yj, rj], pushed) in bodies[a + 1..].iter().zip(rest.iter_mut()) {
                let d = [xi - xj, yi - yj];
                let radii = ri + rj;
                let reach = radii + 0.01;
                if d[0] * d[0] + d[1] * d[1] > reach * reach {
                    continue;
                }
                let overlap = (radii / (norm::<F>(d) + 1e-6) - 1.0).max(0.0);
                let push = [d[0] * overlap, d[1] * overlap];
                sum[0] += push[0];
                sum[1] += push[1];
                pushed[0] -= push[0];
                pushed[1] -= push[1];
            }
            done[a] = sum;
        }
        for (&i, s) in live.iter().zip(shift.iter_mut()) {
            let s = std::mem::take(s);
            let p = &mut self.pos[i];
            p[0] += s[0] / 2.0;
            p[1] += s[1] / 2.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    use super::super::fused::{dispatch, Arithmetic, Dispatched};
    use super::*;

    /// One push-apart, in the copy [`dispatch`] picks.
    struct PushApart<'a>(&'a mut World);

    impl Dispatched for PushApart<'_> {
        type Output = ();
        #[inline(always)]
        fn run<F: FusedMulAdd>(self) {
            let n = self.0.len();
            self.0.push_apart::<F>(&mut Scratch::new(n));
        }
    }

    /// SMAX's push-apart as it reads: every live unit sums, over every
    /// other live unit in index order, the offset times the overlap.
    fn push_apart_per_unit(world: &World) -> Vec<[f32; 2]> {
        let mut pos = world.pos.clone();
        for (i, p) in pos.iter_mut().enumerate() {
            if !world.alive[i] {
                continue;
            }
            let mut sum = [0.0f32; 2];
            for j in (0..world.len()).filter(|&j| j != i && world.alive[j]) {
                let d = [world.pos[i][0] - world.pos[j][0], world.pos[i][1] - world.pos[j][1]];
                let radii = world.types[i].stats().radius + world.types[j].stats().radius;
                let overlap = (radii / (norm::<Emulated>(d) + 1e-6) - 1.0).max(0.0);
                sum[0] += d[0] * overlap;
                sum[1] += d[1] * overlap;
            }
            p[0] += sum[0] / 2.0;
            p[1] += sum[1] / 2.0;
        }
        pos
    }

    /// Measuring each pair once moves every unit to the same bits as the
    /// per-unit sums, in crowds of 2 to 39 units, packed to sparse, with dead
    /// units among them, in every copy of the code this CPU runs.
    #[test]
    fn pairwise_push_apart_matches_the_per_unit_sums_to_the_bit() {
        let mut rng = Pcg64::seed_from_u64(11);
        let mut pushed = 0;
        for trial in 0..2_000 {
            let n = rng.random_range(2..40);
            let types = (0..n).map(|_| UnitType::ALL[rng.random_range(0..UnitType::ALL.len())]).collect();
            let mut world = World::new(types, n / 2);
            // Boxes from 1 to 8 map units wide: packed to sparse.
            let side = 1.0 + (trial % 8) as f32;
            for (p, alive) in world.pos.iter_mut().zip(world.alive.iter_mut()) {
                *p = [10.0 + rng.random_range(0.0..side), 10.0 + rng.random_range(0.0..side)];
                *alive = rng.random_bool(0.9);
            }
            let want = push_apart_per_unit(&world);
            for arithmetic in Arithmetic::available() {
                let mut pushed_here = world.clone();
                dispatch(arithmetic, PushApart(&mut pushed_here));
                for (i, (got, want)) in pushed_here.pos.iter().zip(&want).enumerate() {
                    let bits = |p: &[f32; 2]| [p[0].to_bits(), p[1].to_bits()];
                    assert_eq!(bits(got), bits(want), "{arithmetic:?}, trial {trial}, unit {i} of {n}");
                }
            }
            pushed += want.iter().zip(&world.pos).filter(|(a, b)| a != b).count();
        }
        assert!(pushed > 10_000, "too few units were pushed to test anything: {pushed}");
    }
}
