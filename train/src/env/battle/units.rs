//! The six unit types of SMAX and their statistics (JaxMARL 0.2.0's
//! defaults, which follow StarCraft II's without shields, armour or bonus
//! damage).

use serde::{Deserialize, Serialize};

/// A unit type. The discriminant is SMAX's type index (the one-hot
/// position in observations and the state's type column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitType {
    /// Terran ranged infantry.
    Marine = 0,
    /// Terran armoured ranged infantry.
    Marauder = 1,
    /// Protoss ranged walker.
    Stalker = 2,
    /// Protoss melee warrior.
    Zealot = 3,
    /// Zerg fast melee unit.
    Zergling = 4,
    /// Zerg ranged unit.
    Hydralisk = 5,
}

/// Number of unit types (the length of a type one-hot).
pub const N_UNIT_TYPES: usize = 6;

/// What a unit type can do. Distances in map units, times in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitStats {
    /// Map units per second.
    pub speed: f32,
    /// Health removed by one shot.
    pub damage: f32,
    /// A target strictly closer than this can be shot.
    pub attack_range: f32,
    /// Units strictly closer than this are observed.
    pub sight_range: f32,
    /// Body radius, for pushing overlapping units apart.
    pub radius: f32,
    /// Health at spawn.
    pub health: f32,
    /// Seconds between shots (before jitter).
    pub cooldown: f32,
}

impl UnitType {
    /// Every type, in index order.
    pub const ALL: [UnitType; N_UNIT_TYPES] =
        [Self::Marine, Self::Marauder, Self::Stalker, Self::Zealot, Self::Zergling, Self::Hydralisk];

    /// SMAX's type index.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The type of index `i`, if there is one.
    pub fn from_index(i: usize) -> Option<Self> {
        Self::ALL.get(i).copied()
    }

    /// SMAC's one-letter shorthand in map names (`3s5z`: stalkers and
    /// zealots).
    pub fn shorthand(self) -> char {
        ['m', 'M', 's', 'Z', 'z', 'h'][self.index()]
    }

    /// The type's statistics.
    pub fn stats(self) -> &'static UnitStats {
        &STATS[self.index()]
    }
}

/// Speed, damage, attack range, sight, radius, health and cooldown per type,
/// in [`UnitType`] index order.
const STATS: [UnitStats; N_UNIT_TYPES] = [
    UnitStats {
        speed: 3.15,
        damage: 9.0,
        attack_range: 5.0,
        sight_range: 9.0,
        radius: 0.375,
        health: 45.0,
        cooldown: 0.61,
    },
    UnitStats {
        speed: 2.25,
        damage: 10.0,
        attack_range: 6.0,
        sight_range: 10.0,
        radius: 0.5625,
        health: 125.0,
        cooldown: 1.07,
    },
    UnitStats {
        speed: 4.13,
        damage: 13.0,
        attack_range: 6.0,
        sight_range: 10.0,
        radius: 0.625,
        health: 160.0,
        cooldown: 1.87,
    },
    UnitStats {
        speed: 3.15,
        damage: 8.0,
        attack_range: 2.0,
        sight_range: 9.0,
        radius: 0.5,
        health: 150.0,
        cooldown: 0.86,
    },
    UnitStats {
        speed: 4.13,
        damage: 5.0,
        attack_range: 2.0,
        sight_range: 8.0,
        radius: 0.375,
        health: 35.0,
        cooldown: 0.5,
    },
    UnitStats {
        speed: 3.15,
        damage: 12.0,
        attack_range: 5.0,
        sight_range: 9.0,
        radius: 0.625,
        health: 80.0,
        cooldown: 0.59,
    },
];
