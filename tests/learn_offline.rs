//! Offline learners learn from recorded episodes: behaviour cloning and
//! independent CQL on a good spread dataset recover most of that dataset's
//! return.
//!
//! The dataset: COMA's preset trained 60k steps on spread (seed 1), its
//! actor sampled for 300 episodes. Scores are normalised as OG-MARL's:
//! 100 (return - random) / (dataset - random), random being uniformly
//! random agents. BC is evaluated sampling its actions, as the dataset's
//! policy acted. Measured figures are in the test's doc. A binary of its
//! own: libtorch's generator is shared by the tests of a binary, and this
//! one's figures are reproducible only when nothing else draws from it.

use murmur::train::config::Config;
use murmur::train::dataset::collect::{self, Behaviour};
use murmur::train::dataset::{DatasetReader, DatasetWriter};
use murmur::train::env::batch::Dims;
use murmur::train::eval::uniform_random;
use murmur::train::rollout::ActionSelection;
use murmur::train::trainer::Trainer;

fn preset(name: &str, overrides: &[String]) -> Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs").join(name);
    let mut all = vec!["eval_interval=0".to_string(), "device=\"cpu\"".into(), "seed=1".into()];
    all.extend_from_slice(overrides);
    Config::load(&path, &all).expect("preset loads")
}

/// Measured (one libtorch thread): dataset -64.6, random -80.0; untrained
/// BC actor score -15; after 300 updates BC 102, CQL (greedy over Q) 52,
/// ICQ 105 (sampled). The whole test takes about 45 s.
///
/// CQL's figure moves with the seed: 52, 37 and 36 on seeds 1 to 3 (an
/// earlier build's 70 on seed 1 was its best), against -81, -194 and -535
/// for its untrained greedy policy; docs/results.md has 42 +- 21 over 3
/// seeds on a good dataset. Its bar is set to that spread, not to one run.
#[test]
fn bc_cql_and_icq_recover_most_of_a_good_datasets_return_on_spread() {
    tch::set_num_threads(1);
    let mut expert = Trainer::new(preset("coma_spread.toml", &["t_max=60000".into()])).expect("trainer builds");
    expert.train(|_| {}).expect("training runs");
    let dir = tempfile::tempdir().unwrap();
    let env_cfg = expert.config().env.clone();
    let make_env = move || env_cfg.build();
    let header = collect::header_for("spread", Dims::of(&make_env()), 0);
    let mut writer = DatasetWriter::open(dir.path(), header, None).unwrap();
    let behaviour = Behaviour::Policy { actor: expert.actor(), selection: ActionSelection::Sample { epsilon: 0.0 } };
    collect::collect(&make_env, behaviour, 300, 32, 7, &mut writer, |_| {}).unwrap();
    let data = DatasetReader::open(dir.path()).unwrap().manifest().summary.mean_return;
    let random = uniform_random(make_env().as_mut(), 1000, 99).mean;
    let score = |r: f64| 100.0 * (r - random) / (data - random);

    let updates = 300u64;
    let overrides = [format!("data.path=\"{}\"", dir.path().display()), format!("t_max={}", updates * 32 * 25)];
    let mut bc = Trainer::new(preset("bc_spread.toml", &overrides)).expect("BC builds on the dataset");
    let untrained = bc.evaluate(500, false).unwrap().mean;
    bc.train(|_| {}).expect("BC trains");
    let cloned = bc.evaluate(500, false).unwrap().mean;
    eprintln!(
        "dataset {data:.2}, random {random:.2}; BC untrained {untrained:.2} (score {:.0}), after {updates} updates {cloned:.2} (score {:.0})",
        score(untrained),
        score(cloned)
    );
    assert!(data - random > 5.0, "the dataset's policy must be well above random to measure cloning: {data:.2}");
    assert!(score(untrained) < 40.0, "the measurement must separate an untrained actor: {:.0}", score(untrained));
    assert!(score(cloned) >= 80.0, "BC recovers only {:.0}% of the dataset's return", score(cloned));

    // CQL on the team reward; its policy is greedy over Q.
    let mut cql = Trainer::new(preset("cql_spread.toml", &overrides)).expect("CQL builds on the dataset");
    cql.train(|_| {}).expect("CQL trains");
    let greedy = cql.evaluate(500, true).unwrap().mean;
    eprintln!("CQL after {updates} updates, greedy over Q: {greedy:.2} (score {:.0})", score(greedy));
    assert!(score(greedy) >= 30.0, "CQL recovers only {:.0}% of the dataset's return", score(greedy));

    // ICQ on the team reward; its actor is evaluated as BC's.
    let mut icq = Trainer::new(preset("icq_spread.toml", &overrides)).expect("ICQ builds on the dataset");
    icq.train(|_| {}).expect("ICQ trains");
    let (sampled, greedy) = (icq.evaluate(500, false).unwrap().mean, icq.evaluate(500, true).unwrap().mean);
    eprintln!(
        "ICQ after {updates} updates: sampled {sampled:.2} (score {:.0}), greedy {greedy:.2} (score {:.0})",
        score(sampled),
        score(greedy)
    );
    assert!(score(sampled) >= 60.0, "ICQ recovers only {:.0}% of the dataset's return", score(sampled));
}
