//! `murmur quickstart`: the first thing a new user runs. Trains a small
//! MAPPO team on spread, evaluates it against uniform-random agents and
//! plots the learning curve.

use std::path::{Path, PathBuf};

use murmur_train::config::{Config, DeviceChoice};
use murmur_train::eval::{uniform_random_returns, ReturnStats};
use murmur_train::trainer::Trainer;

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
    let mut trainer = Trainer::new(cfg.clone())?;
    trainer.attach_run_dir(&out, false)?;
    super::train::train_with_progress(&mut trainer, &out)?;

    let episodes = 200;
    let learned = trainer.evaluate(episodes, true)?;
    let random = ReturnStats::of(&uniform_random_returns(cfg.env.build().as_mut(), episodes, cfg.seed ^ 0x5eed_e7a1));
    println!("\nafter {} environment steps ({} episodes):", trainer.progress().env_steps, trainer.progress().episodes);
    println!("  learned team (greedy): {learned}");
    println!("  uniform random agents: {random}");
    println!("  improvement: {:+.2} return per episode", learned.mean - random.mean);
    let png = out.join("curves.png");
    murmur::plot::plot_runs(std::slice::from_ref(&out), "return_mean", &png)?;
    println!("\nlearning curve: {}", png.display());
    println!("run directory:  {} (config.toml, metrics.csv, checkpoints/)", out.display());
    println!("next: murmur eval --run {} --greedy", out.display());
    Ok(())
}
