//! The one-step traffic junction (LICA paper, section 4.3.1): two agents,
//! team reward 1 when exactly one passes. A seed is solved when the actor
//! puts probability >= 0.9 on (pass, wait) or on (wait, pass).
//!
//! Measured here (50 seeds, 500 updates of 32 episodes, the presets):
//! LICA 48 and COMA 50 of 50; after 250 updates, on the first 30 seeds,
//! LICA 29 and COMA 30 (LICA's seeds at 0.95 to 0.99 but one at 0.44).
//! CI trains 250 updates on 30 seeds and asserts at least 27 each (the
//! same 90%), to keep its time. COMA's
//! expected counterfactual advantage is zero on every joint action only
//! under an exact critic; its learned critic and sampled actions break the
//! tie, so the junction does not separate the two. The two tests run side
//! by side, one libtorch thread each: 30 teams of 250 updates take about
//! 70 s on this project's 2-core machine (libtorch's per-operation cost
//! on these tiny tensors, not our code, sets the pace: a release build is
//! no faster).

use murmur::runtime::ActorSpec;
use murmur::train::config::Config;
use murmur::train::trainer::Trainer;
use tch::Kind;

const SEEDS: u64 = 30;
const UPDATES: u64 = 250;

/// Probability of the more likely optimal joint action after `UPDATES`
/// updates of `preset` with `seed`.
fn optimal_joint_probability(preset: &str, seed: u64) -> f64 {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs").join(preset);
    let mut overrides = vec![format!("seed={seed}"), "eval_interval=0".into(), "device=\"cpu\"".into()];
    let episodes = Config::load(&path, &overrides).expect("preset loads").batch_episodes as u64;
    overrides.push(format!("t_max={}", UPDATES * episodes)); // one step per episode
    let mut trainer = Trainer::new(Config::load(&path, &overrides).expect("preset loads")).expect("trainer builds");
    trainer.train(|_| {}).expect("training runs");
    let actor = trainer.actor();
    let spec: ActorSpec = actor.spec();
    let mut x = vec![0f32; 2 * spec.input_dim()];
    for (i, row) in x.chunks_mut(spec.input_dim()).enumerate() {
        spec.write_input(&[1.0], None, i, row).expect("junction input");
    }
    let x = tch::Tensor::from_slice(&x).view([2, spec.input_dim() as i64]);
    let (logits, _) = tch::no_grad(|| actor.step(&x, &actor.initial_hidden(2, tch::Device::Cpu)));
    let p = Vec::<f64>::try_from(logits.softmax(-1, Kind::Double).view([-1])).expect("probabilities");
    // p = [agent 0: wait, pass, agent 1: wait, pass]
    (p[1] * p[2]).max(p[0] * p[3])
}

fn solved(preset: &str) -> usize {
    let probs: Vec<f64> = (1..=SEEDS).map(|s| optimal_joint_probability(preset, s)).collect();
    let n = probs.iter().filter(|&&p| p >= 0.9).count();
    eprintln!("{preset}: {n} of {SEEDS} seeds put >= 0.9 on an optimal joint action after {UPDATES} updates");
    eprintln!("  per seed: {probs:.3?}");
    n
}

/// LICA solves the junction (the LICA paper's section 4.3.1 claim).
#[test]
fn lica_solves_the_junction_on_27_of_30_seeds() {
    tch::set_num_threads(1);
    let lica = solved("lica_junction.toml");
    assert!(lica >= 27, "LICA solved only {lica} of {SEEDS} seeds (at least 27 expected)");
}

/// COMA solves it too (see the module's doc).
#[test]
fn coma_solves_the_junction_on_27_of_30_seeds() {
    tch::set_num_threads(1);
    let coma = solved("coma_junction.toml");
    assert!(coma >= 27, "COMA solved only {coma} of {SEEDS} seeds (at least 27 expected)");
}
