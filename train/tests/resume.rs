//! A run stopped at a checkpoint and resumed gives the same training
//! returns, update for update, as one run straight through: the checkpoint
//! keeps the optimiser moments (Adam, RMSprop), the target network's update
//! schedule and MACA's CMA-ES search, and each update draws from random
//! streams of its own. Without the training state the resumed run drifts
//! off (the control that shows the comparison can fail).

use std::path::Path;

use murmur_train::config::Config;
use murmur_train::trainer::Trainer;

/// A small spread run of `learner` with `table` as its learner settings:
/// 2 episodes per update, 12 updates, a checkpoint every 4 updates.
fn config(learner: &str, table: &str) -> Config {
    let text = format!(
        "learner = \"{learner}\"\nt_max = 600\nseed = 7\nbatch_episodes = 2\neval_interval = 0\nsave_interval = 200\n\
         [actor]\nhidden = 16\n[env]\nname = \"spread\"\nn_agents = 3\nmax_cycles = 25\n[{learner}]\n{table}\n"
    );
    Config::parse(&text, "resume test", &[]).unwrap()
}

/// The training returns and every learner statistic of each update in
/// `dir/metrics.csv`, without the wall-clock column.
fn learning_curve(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let wall = header.iter().position(|h| *h == "wall_s").unwrap();
    lines.map(|l| l.split(',').enumerate().filter(|(i, _)| *i != wall).map(|(_, v)| v.to_string()).collect()).collect()
}

/// Trains `cfg` to 600 steps in `dir`; when `stop_at` is set, first to that
/// many steps, then drops the trainer (and, with `forget_state`, the
/// checkpoint's training state) and resumes in a new one.
fn train(cfg: &Config, dir: &Path, stop_at: Option<u64>, forget_state: bool) -> Vec<Vec<String>> {
    let first = match stop_at {
        Some(steps) => Config { t_max: steps, ..cfg.clone() },
        None => cfg.clone(),
    };
    let mut trainer = Trainer::new(first).unwrap();
    trainer.attach_run_dir(dir, false).unwrap();
    trainer.train(|_| {}).unwrap();
    if stop_at.is_some() {
        drop(trainer);
        if forget_state {
            let latest = murmur_train::checkpoint::latest(&dir.join("checkpoints")).unwrap().unwrap();
            std::fs::remove_file(latest.join(murmur_train::state::STATE_FILE)).unwrap();
            // The sidecar lists the file's hash: drop it there too.
            let sidecar = latest.join("checkpoint.json");
            let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&sidecar).unwrap()).unwrap();
            meta["sha256"].as_object_mut().unwrap().remove(murmur_train::state::STATE_FILE);
            std::fs::write(&sidecar, serde_json::to_vec(&meta).unwrap()).unwrap();
        }
        let mut resumed = Trainer::new(cfg.clone()).unwrap();
        resumed.attach_run_dir(dir, true).unwrap();
        resumed.train(|_| {}).unwrap();
    }
    learning_curve(dir)
}

/// libtorch's random generator is one per process: runs in parallel test
/// threads would draw from each other's streams.
static ONE_RUN_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn resumes_exactly(learner: &str, table: &str) {
    let _alone = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    let cfg = config(learner, table);
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let straight = train(&cfg, dirs[0].path(), None, false);
    // Stopped after 5 updates (250 steps): one update into MACA's second
    // CMA-ES generation of 4, and 125 critic steps into COMA's target
    // copies every 7.
    let resumed = train(&cfg, dirs[1].path(), Some(250), false);
    assert_eq!(straight.len(), 12, "{learner}: 12 updates of 50 steps");
    assert_eq!(resumed, straight, "{learner}: the resumed run's metrics differ from the straight run's");
    let forgetful = train(&cfg, dirs[2].path(), Some(250), true);
    assert_eq!(forgetful[..5], straight[..5], "{learner}: the runs agree up to the checkpoint");
    assert_ne!(forgetful[5..], straight[5..], "{learner}: without its training state the resumed run must drift");
}

#[test]
fn maca_resumes_its_adam_moments_and_cmaes_search() {
    resumes_exactly("maca", "coefficients = \"cmaes\"\ncmaes_population = 4\nepochs = 2\ncritic_blocks = 1");
}

#[test]
fn coma_resumes_its_rmsprop_moments_and_target_schedule() {
    resumes_exactly("coma", "target_update_interval = 7");
}
