//! `murmur eval`: evaluate a run's latest checkpoint.

use std::path::PathBuf;

use anyhow::Context;
use murmur_train::checkpoint;
use murmur_train::config::DeviceChoice;
use murmur_train::eval::uniform_random;
use murmur_train::trainer::Trainer;

/// Arguments of `murmur eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The run directory (holds config.toml and checkpoints/).
    #[arg(long)]
    pub run: PathBuf,
    /// Number of evaluation episodes.
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    /// Take the most probable action instead of sampling.
    #[arg(long)]
    pub greedy: bool,
    /// Compute device.
    #[arg(long)]
    pub device: Option<DeviceChoice>,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.episodes >= 1, "--episodes must be at least 1");
    let cfg = super::train::load_config(&args.run.join("config.toml"), &[], args.device, None)?;
    let ckpts = args.run.join("checkpoints");
    let latest = checkpoint::latest(&ckpts)?
        .with_context(|| format!("{} has no checkpoint yet (checkpoints/latest is missing)", args.run.display()))?;
    let mut trainer = Trainer::for_evaluation(cfg.clone())?;
    let meta = trainer.load_checkpoint(&latest)?;
    let stats = trainer.evaluate(args.episodes, args.greedy)?;
    let mode = if args.greedy { "greedy" } else { "sampled" };
    println!(
        "{} on {}, checkpoint {} ({} environment steps), {mode} actions:",
        meta.learner,
        meta.environment,
        latest.display(),
        meta.env_steps
    );
    println!("  policy:          {stats}");
    let random = uniform_random(cfg.env.build().as_mut(), args.episodes, cfg.seed ^ 0x5eed_e7a1);
    println!("  uniform random:  {random}");
    Ok(())
}
