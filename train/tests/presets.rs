//! Every preset in configs/ (and the reference setups in its
//! subdirectories) parses, validates and builds its environment.

use murmur_train::config::{Config, EnvConfig};
use murmur_train::learner::registry::BatchSource;
use murmur_train::learner::LEARNERS;

/// Loads every `<learner>_<simulator>.toml` directly under `configs/<sub>`
/// and returns their stems, sorted.
fn presets(sub: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs").join(sub);
    let mut seen = vec![];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let cfg = Config::load(&path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let (learner, env) = stem.split_once('_').unwrap();
        assert_eq!(cfg.learner.name(), learner, "{stem}");
        // Battle presets are named after their map (`mappo_3m`).
        let named = match &cfg.env {
            EnvConfig::Battle(b) => b.map.clone().unwrap_or_default(),
            other => other.name().to_string(),
        };
        assert_eq!(named, env, "{stem}");
        assert!(cfg.env.build().n_agents() >= 2, "{stem}: a team needs two agents");
        seen.push(stem);
    }
    seen.sort();
    seen
}

#[test]
fn every_preset_loads_and_matches_its_file_name() {
    let seen = presets("");
    // One preset per learner and simulator.
    let mut expected = vec![];
    for learner in LEARNERS {
        for env in ["junction", "predator_prey", "spread"] {
            expected.push(format!("{}_{env}", learner.name));
        }
    }
    // Battles: every learner on three of SMAC's maps.
    for learner in LEARNERS.iter().filter(|l| l.source == BatchSource::Rollouts) {
        for map in ["3m", "2s3z", "5m_vs_6m"] {
            expected.push(format!("{}_{map}", learner.name));
        }
    }
    expected.sort();
    assert_eq!(seen, expected);
}

#[test]
fn reference_setups_load_and_match_their_file_names() {
    assert_eq!(presets("epymarl"), ["mappo_spread"]);
}
