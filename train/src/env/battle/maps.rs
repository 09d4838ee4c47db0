//! The battle maps: SMAC's classic scenarios as SMAX defines them, SMACv2's
//! random ones, and a user's own list of units.

use super::units::UnitType;

/// How units are placed and typed at the start of an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spawn {
    /// Fixed unit types; each team around its centre, (8, 16) for the
    /// allies and (24, 16) for the enemies, +-2 per axis.
    Fixed,
    /// SMACv2's: unit types uniform over the six (enemies copy the allies'),
    /// positions half the time "reflect" (allies uniform over the left half,
    /// enemies mirrored), half the time "surround" (one team in the centre,
    /// the other in four groups on the diagonals).
    Smacv2,
}

/// The units of a map, allies then enemies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The learning team's units (for [`Spawn::Smacv2`]: only their count
    /// matters).
    pub allies: Vec<UnitType>,
    /// The heuristic team's units.
    pub enemies: Vec<UnitType>,
    /// Placement and typing at reset.
    pub spawn: Spawn,
}

/// The names [`Scenario::named`] knows, in the order `murmur` lists them.
pub const MAP_NAMES: [&str; 14] = [
    "3m",
    "8m",
    "25m",
    "2s3z",
    "3s5z",
    "5m_vs_6m",
    "10m_vs_11m",
    "27m_vs_30m",
    "3s5z_vs_3s6z",
    "3s_vs_5z",
    "6h_vs_8z",
    "smacv2_5_units",
    "smacv2_10_units",
    "smacv2_20_units",
];

impl Scenario {
    /// The map called `name` (one of [`MAP_NAMES`]).
    pub fn named(name: &str) -> Option<Self> {
        use UnitType::{Hydralisk as H, Marine as M, Stalker as S, Zealot as Z};
        let fixed = |allies: &[(usize, UnitType)], enemies: &[(usize, UnitType)]| {
            let expand =
                |g: &[(usize, UnitType)]| g.iter().flat_map(|&(n, t)| std::iter::repeat_n(t, n)).collect::<Vec<_>>();
            Self { allies: expand(allies), enemies: expand(enemies), spawn: Spawn::Fixed }
        };
        let smacv2 = |n: usize| Self { allies: vec![M; n], enemies: vec![M; n], spawn: Spawn::Smacv2 };
        Some(match name {
            "3m" => fixed(&[(3, M)], &[(3, M)]),
            "8m" => fixed(&[(8, M)], &[(8, M)]),
            "25m" => fixed(&[(25, M)], &[(25, M)]),
            "2s3z" => fixed(&[(2, S), (3, Z)], &[(2, S), (3, Z)]),
            "3s5z" => fixed(&[(3, S), (5, Z)], &[(3, S), (5, Z)]),
            "5m_vs_6m" => fixed(&[(5, M)], &[(6, M)]),
            "10m_vs_11m" => fixed(&[(10, M)], &[(11, M)]),
            "27m_vs_30m" => fixed(&[(27, M)], &[(30, M)]),
            "3s5z_vs_3s6z" => fixed(&[(3, S), (5, Z)], &[(3, S), (6, Z)]),
            "3s_vs_5z" => fixed(&[(3, S)], &[(5, Z)]),
            "6h_vs_8z" => fixed(&[(6, H)], &[(8, Z)]),
            "smacv2_5_units" => smacv2(5),
            "smacv2_10_units" => smacv2(10),
            "smacv2_20_units" => smacv2(20),
            _ => return None,
        })
    }

    /// A user's map: these units, placed as the classic maps place theirs.
    pub fn custom(allies: Vec<UnitType>, enemies: Vec<UnitType>) -> Self {
        Self { allies, enemies, spawn: Spawn::Fixed }
    }

    /// Allies plus enemies.
    pub fn n_units(&self) -> usize {
        self.allies.len() + self.enemies.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_map_is_defined_with_smax_unit_counts() {
        let counts = |name: &str| {
            let s = Scenario::named(name).unwrap();
            (s.allies.len(), s.enemies.len())
        };
        for name in MAP_NAMES {
            assert!(Scenario::named(name).is_some(), "{name}");
        }
        assert_eq!(counts("27m_vs_30m"), (27, 30));
        assert_eq!(counts("3s5z_vs_3s6z"), (8, 9));
        assert_eq!(counts("6h_vs_8z"), (6, 8));
        assert_eq!(counts("smacv2_20_units"), (20, 20));
        assert!(Scenario::named("4m").is_none());
    }
}
