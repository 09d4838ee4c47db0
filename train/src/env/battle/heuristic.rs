//! SMAX's scripted enemy ("closest" attack mode): shoot the closest ally in
//! range and keep shooting it while it stays in range; otherwise walk
//! towards a randomly chosen visible ally, or, seeing none, towards the
//! point opposite its start through the map's centre. It reads only what
//! its own observation holds, rounded as the observation rounds it.

use super::draws::BattleDraws;
use super::fused::{norm, FusedMulAdd};
use super::units::UnitType;
use super::world::{World, MAP_SIZE, N_MOVE_ACTIONS, STOP};

/// The enemies' memory between steps.
#[derive(Debug, Clone)]
pub struct HeuristicEnemy {
    /// Where each enemy heads when it sees no ally; `[0, 0]` until its
    /// first step.
    default_target: Vec<[f32; 2]>,
    /// The ally (in the enemy's observed order) each enemy shot last, while
    /// it stays in range.
    last_attacked: Vec<Option<usize>>,
    /// Per observed ally: visible, its position relative to the enemy, and
    /// whether it is in range.
    visible: Vec<bool>,
    relative: Vec<[f32; 2]>,
    shootable: Vec<bool>,
}

impl HeuristicEnemy {
    /// Memory for `n_enemies` enemies facing `n_allies` allies.
    pub fn new(n_enemies: usize, n_allies: usize) -> Self {
        Self {
            default_target: vec![[0.0; 2]; n_enemies],
            last_attacked: vec![None; n_enemies],
            visible: vec![false; n_allies],
            relative: vec![[0.0; 2]; n_allies],
            shootable: vec![false; n_allies],
        }
    }

    /// Forgets everything (a new episode).
    pub fn reset(&mut self) {
        self.default_target.fill([0.0; 2]);
        self.last_attacked.fill(None);
    }

    /// Enemy `k`'s action in `world`; `F` computes the distances' fused
    /// multiply-adds.
    #[inline(always)]
    pub fn act<F: FusedMulAdd>(&mut self, world: &World, k: usize, draws: &mut impl BattleDraws) -> usize {
        let me = world.n_allies + k;
        if !world.alive[me] {
            return STOP;
        }
        let kind: UnitType = world.types[me];
        let stats = kind.stats();
        let own = world.pos[me];
        // The allies as this enemy observes them: in reverse order, a
        // relative position divided by its sight range (then scaled back).
        // The closest ally in range is the first at the least distance.
        let far = norm::<F>([MAP_SIZE, MAP_SIZE]);
        let mut closest = 0;
        let mut best = f32::INFINITY;
        let seen = self.visible.iter_mut().zip(self.relative.iter_mut()).zip(self.shootable.iter_mut());
        for (s, ((visible, relative), shootable)) in seen.enumerate() {
            let ally = world.n_allies - 1 - s;
            let d = [world.pos[ally][0] - own[0], world.pos[ally][1] - own[1]];
            *visible = world.alive[ally] && norm::<F>(d) < stats.sight_range;
            *relative = if *visible {
                [d[0] / stats.sight_range * stats.sight_range, d[1] / stats.sight_range * stats.sight_range]
            } else {
                [0.0; 2]
            };
            // An unseen ally is never in range (nor measured).
            let in_range = visible.then(|| norm::<F>(*relative)).filter(|&r| r < stats.attack_range);
            *shootable = in_range.is_some();
            let d = in_range.unwrap_or(far);
            if d < best {
                best = d;
                closest = s;
            }
        }
        let shootable = |s: usize| self.shootable[s];
        let is_initial = self.default_target[k] == [0.0; 2] && self.last_attacked[k].is_none();
        let attacked = match self.last_attacked[k] {
            Some(last) if shootable(last) => last,
            _ => closest,
        };
        let can_shoot = (0..world.n_allies).any(shootable);
        self.last_attacked[k] = shootable(attacked).then_some(attacked);
        if is_initial {
            let c = MAP_SIZE / 2.0;
            self.default_target[k] = [-(own[0] - c) + c, -(own[1] - c) + c];
        }
        if can_shoot {
            return N_MOVE_ACTIONS + attacked;
        }
        let target = if self.visible.iter().any(|&v| v) {
            let s = draws.target_choice(k, &self.visible);
            [self.relative[s][0] + own[0], self.relative[s][1] + own[1]]
        } else {
            self.default_target[k]
        };
        let v = [target[0] - own[0], target[1] - own[1]];
        // North, east, south, west: the direction best aligned with v.
        let similarity = [v[1], v[0], -v[1], -v[0]];
        let mut action = 0;
        for (a, &s) in similarity.iter().enumerate() {
            if s > similarity[action] {
                action = a;
            }
        }
        action
    }
}
