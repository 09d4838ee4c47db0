//! `murmur quickstart`: the first thing a new user runs, the whole story in
//! a few minutes: train a small MAPPO team on spread, export its actor,
//! run it as a swarm (one `murmur agent` process per robot, over Zenoh)
//! in hardware-in-the-loop episodes with the critic on the server, record
//! them, and plot the learning curve beside what the swarm scored.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use murmur::export::{export, ModelFormat, VerifySettings};
use murmur::hw::coordinator::{HilOptions, Pacing};
use murmur::hw::session::{run_hil, HilRun, SpawnAgents};
use murmur::runtime::swarm::{PrivateSwarm, ZenohOptions};
use murmur_train::checkpoint;
use murmur_train::config::{Config, DeviceChoice};
use murmur_train::eval::{uniform_random, ReturnStats};
use murmur_train::trainer::Trainer;

use super::network::stop_on_signal;

/// The preset, built in so the command works from any directory.
const PRESET: &str = include_str!("../../configs/mappo_spread.toml");

/// Arguments of `murmur quickstart`.
#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// Training budget in environment steps.
    #[arg(long, default_value_t = 200_000)]
    pub t_max: u64,
    /// Compute device: auto (CUDA when usable), cpu or cuda.
    #[arg(long)]
    pub device: Option<DeviceChoice>,
    /// Parent directory of the run (a fresh runs/quickstart[-N] is made).
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Hardware-in-the-loop episodes the swarm runs after training.
    #[arg(long, default_value_t = 20)]
    pub hil_episodes: usize,
}

/// `runs/quickstart`, or the first of `quickstart-2`, `-3`, ... not taken.
fn fresh_dir(parent: &Path) -> PathBuf {
    (1..)
        .map(|k| parent.join(if k == 1 { "quickstart".to_string() } else { format!("quickstart-{k}") }))
        .find(|p| !p.exists())
        .expect("some name is free")
}

pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let mut overrides = vec![format!("t_max={}", args.t_max), "eval_interval=50_000".to_string()];
    if let Some(d) = args.device {
        overrides.push(format!("device=\"{d}\""));
    }
    let cfg = Config::parse(PRESET, "configs/mappo_spread.toml (built in)", &overrides)?;
    let out = fresh_dir(&args.runs);
    println!("murmur quickstart: a team of 3 robots learns to cover 3 landmarks (MPE spread) with MAPPO.");
    println!("\n[1/4] training");
    let mut trainer = Trainer::new(cfg.clone())?;
    trainer.attach_run_dir(&out, false)?;
    super::train::train_with_progress(&mut trainer, &out)?;

    let episodes = 200;
    let learned = trainer.evaluate(episodes, true)?;
    let random = uniform_random(cfg.env.build().as_mut(), episodes, cfg.seed ^ 0x5eed_e7a1);
    println!(
        "after {} environment steps ({} episodes), in the simulator:",
        trainer.progress().env_steps,
        trainer.progress().episodes
    );
    println!("  learned team (greedy): {learned}");
    println!("  uniform random agents: {random}");
    println!("  improvement: {:+.2} return per episode", learned.mean - random.mean);

    println!("\n[2/4] exporting the actor (verified against the trained network)");
    let ckpt = checkpoint::latest(&out.join("checkpoints"))?.context("training wrote no checkpoint")?;
    let model = out.join("actor.onnx");
    let report = export(&ckpt, &model, ModelFormat::Onnx, VerifySettings::default())?;
    let v = report.verification;
    println!(
        "  {} ({} bytes): max |probs diff| {:.1e} over {} steps against the trained actor",
        model.display(),
        report.bytes,
        v.max_prob_error,
        v.steps
    );

    // The swarm is private, as every swarm of moving robots should be: a
    // certificate authority and one certificate per member, mutual TLS only.
    let keys = out.join("keys");
    murmur::pki::init(&keys, "quickstart")?;
    let n_agents = cfg.env.build().n_agents();
    let members: Vec<String> =
        std::iter::once("coordinator".to_string()).chain((0..n_agents).map(|i| format!("robot-{i}"))).collect();
    for m in &members {
        murmur::pki::issue(&keys, m)?;
    }
    println!(
        "\n[3/4] the swarm: {n_agents} `murmur agent` processes over Zenoh with mutual TLS (certificates in {}), {} \
         hardware-in-the-loop episodes",
        keys.display(),
        args.hil_episodes
    );
    let data = out.join("hil");
    let hil = HilRun {
        env: cfg.env.clone(),
        swarm: format!("quickstart-{}", std::process::id()),
        options: HilOptions {
            episodes: args.hil_episodes,
            pacing: Pacing::Lockstep,
            step_timeout: Duration::from_millis(500),
            join_timeout: Duration::from_secs(60),
            ..Default::default()
        },
        record: Some(data.clone()),
        critic: Some(out.clone()),
        spawn: Some(SpawnAgents {
            exe: std::env::current_exe().context("cannot find the murmur executable")?,
            model: model.clone(),
            format: ModelFormat::Onnx,
            stale_after_ms: 1000,
            trusted_model_keys: vec![],
        }),
        zenoh: ZenohOptions {
            private: Some(PrivateSwarm::new(keys.clone(), "coordinator".into())),
            ..Default::default()
        },
        ros2_world: None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_signal(&stop)?;
    let summary = run_hil(&hil, &stop, |_| {})?;
    println!("{summary}");
    let hil_returns: Vec<f64> = summary.episodes.iter().map(|e| e.episode_return).collect();
    let swarm = ReturnStats::of(&hil_returns);
    println!("  swarm over Zenoh: {swarm}");
    println!("  recorded: {} (docs/dataset.md; Python: safetensors.numpy.load_file)", data.display());

    println!("\n[4/4] plotting");
    let png = out.join("curves.png");
    let references = [("swarm over Zenoh (HIL)".to_string(), swarm.mean), ("uniform random".to_string(), random.mean)];
    murmur::plot::plot_runs_with(std::slice::from_ref(&out), "return_mean", &references, &png)?;
    println!("learning curve: {}", png.display());
    println!("run directory:  {} (config.toml, metrics.csv, checkpoints/, actor.onnx, hil/, keys/)", out.display());
    println!(
        "next: murmur hil --critic {0} --spawn-agents --model {1} --swarm demo --mode realtime --hz 20 \
         --private {2} --member coordinator",
        out.display(),
        model.display(),
        keys.display()
    );
    Ok(())
}
