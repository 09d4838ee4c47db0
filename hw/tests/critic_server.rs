//! The server-side critic reads an episode step by step exactly as the
//! learner's critic reads the whole episode at once, for every online
//! learner (the ones with a centralised critic), after a round trip through
//! the run directory.

use std::path::Path;

use murmur_hw::critic_server::ServerCritic;
use murmur_train::config::Config;
use murmur_train::env::VecEnv;
use murmur_train::learner::registry;
use murmur_train::rollout::{ActionSelection, Rollout};
use murmur_train::trainer::Trainer;
use tch::Tensor;

fn floats(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.to_kind(tch::Kind::Float).contiguous().view([-1])).unwrap()
}

#[test]
fn step_by_step_readings_equal_the_whole_episode_readout_for_every_learner() {
    let presets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    for learner in registry::online().map(|k| k.name) {
        let dir = tempfile::tempdir().unwrap();
        let overrides =
            ["t_max=500", "eval_interval=0", "save_interval=0", "device=\"cpu\"", "seed=5"].map(String::from);
        let cfg = Config::load(&presets.join(format!("{learner}_spread.toml")), &overrides).unwrap();
        let mut trainer = Trainer::new(cfg.clone()).unwrap();
        trainer.attach_run_dir(dir.path(), false).unwrap();
        // A few updates so value normalisers and critics are not at their
        // initial values.
        trainer.train(|_| {}).unwrap();
        let mut critic = ServerCritic::load(dir.path()).unwrap();
        assert_eq!(critic.learner(), learner);

        let envs = VecEnv::new(vec![cfg.env.build()]).unwrap();
        let mut rollout = Rollout::new(envs, trainer.actor().spec(), 11, tch::Device::Cpu).unwrap();
        let batch = rollout.collect(trainer.actor(), ActionSelection::Sample { epsilon: 0.0 });
        let whole = trainer.critic_readout(&batch).expect("every learner has a readout");
        let values = floats(&whole.value);
        let d = critic.dims();
        let (n, a) = (d.n_agents, d.n_actions);
        critic.begin_episode();
        let steps = batch.lengths[0];
        let mut worst = 0f32;
        for t in 0..steps as i64 {
            let state = floats(&batch.state.get(t).get(0));
            let obs = floats(&batch.obs.get(t).get(0));
            let avail = floats(&batch.avail.get(t).get(0));
            let actions: Vec<usize> =
                Vec::<i64>::try_from(batch.actions.get(t).get(0)).unwrap().into_iter().map(|x| x as usize).collect();
            let probs_flat = floats(&batch.probs.get(t).get(0));
            let probs: Vec<Vec<f32>> = probs_flat.chunks(a).map(<[f32]>::to_vec).collect();
            assert_eq!(probs.len(), n);
            let reading = critic.read_step(&state, &obs, &avail, &actions, &probs).unwrap().unwrap();
            let expected = values[t as usize];
            worst = worst.max((reading.value - expected).abs() / expected.abs().max(1.0));
            if let (Some(adv), Some(whole_adv)) = (&reading.advantage, &whole.advantage) {
                let expected = floats(&whole_adv.get(t).get(0));
                for (x, y) in adv.iter().zip(&expected) {
                    worst = worst.max((x - y).abs() / y.abs().max(1.0));
                }
            }
        }
        println!("{learner}: {steps} steps, worst relative difference {worst:.2e}");
        assert!(worst < 1e-5, "{learner}: step-by-step readings differ from the whole episode by {worst}");
        assert!(values[..steps].iter().any(|v| (v - values[0]).abs() > 1e-6), "{learner}: the values never change");
    }
}
