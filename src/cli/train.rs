//! `murmur train`: train a team from a config into a run directory.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use murmur_train::config::{Config, DeviceChoice};
use murmur_train::trainer::{Progress, Trainer};
use murmur_train::{device, Result};

/// Arguments of `murmur train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The config (TOML), e.g. configs/mappo_spread.toml. With --resume it
    /// defaults to the run directory's own config.toml.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Override a config value, e.g. --set mappo.lr=1e-3 --set env.n_agents=4.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Compute device: auto (CUDA when usable), cpu or cuda.
    #[arg(long)]
    pub device: Option<DeviceChoice>,
    /// Seed of everything random.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run directory [default: runs/<config name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Record every episode trained on into this dataset directory (a
    /// "replay" dataset for offline learners; docs/dataset.md).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
}

/// Loads a config with `--set`, `--device` and `--seed` applied (in that
/// order of precedence, flags last).
pub fn load_config(path: &Path, set: &[String], device: Option<DeviceChoice>, seed: Option<u64>) -> Result<Config> {
    let mut overrides = set.to_vec();
    if let Some(d) = device {
        overrides.push(format!("device=\"{d}\""));
    }
    if let Some(s) = seed {
        overrides.push(format!("seed={s}"));
    }
    Config::load(path, &overrides)
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let out = match (&args.out, &args.config) {
        (Some(o), _) => o.clone(),
        (None, Some(c)) => super::default_run_dir(c),
        (None, None) => anyhow::bail!("give --config FILE (or --out RUN --resume to continue a run)"),
    };
    let config_path = match (&args.config, args.resume) {
        (Some(c), _) => c.clone(),
        (None, true) => out.join("config.toml"),
        (None, false) => anyhow::bail!("give --config FILE"),
    };
    let cfg = load_config(&config_path, &args.set, args.device, args.seed)?;
    let mut trainer = Trainer::new(cfg)?;
    trainer.attach_run_dir(&out, args.resume)?;
    if let Some(dir) = &args.record {
        trainer.record_replay(dir)?;
        eprintln!("murmur: recording every episode trained on into {}", dir.display());
    }
    train_with_progress(&mut trainer, &out)?;
    let cfg = trainer.config().clone();
    let stats = trainer.evaluate(cfg.eval_episodes, true)?;
    println!("final greedy evaluation: {stats}");
    if let Some(dims) = trainer.causal_dims() {
        println!("MACCA's causal masks (above {}): which inputs each agent's reward depends on", dims.threshold);
        for line in dims.describe().lines() {
            println!("  {line}");
        }
    }
    println!("run directory: {} (config.toml, metrics.csv, checkpoints/)", out.display());
    Ok(())
}

/// Trains to `t_max` with a progress bar (or a line per 10% when stderr is
/// not a terminal), after announcing what trains where.
pub fn train_with_progress(trainer: &mut Trainer, out: &Path) -> anyhow::Result<()> {
    let cfg = trainer.config();
    let dims = trainer.dims();
    eprintln!(
        "murmur: training {} on {} ({} agents, {} actions) on {}, {} environment steps, seed {} -> {}",
        cfg.learner.name(),
        cfg.env.name(),
        dims.n_agents,
        dims.n_actions,
        device::describe(trainer.device()),
        cfg.t_max,
        cfg.seed,
        out.display()
    );
    let start = trainer.progress().env_steps;
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(cfg.t_max) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} steps, ETA {eta} | {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_position(start);
    let mut next_line = 0.0;
    let t_max = cfg.t_max as f64;
    trainer
        .train(|p: &Progress| {
            let msg = summary(p);
            bar.set_position(p.env_steps.min(p.t_max));
            bar.set_message(msg.clone());
            let frac = p.env_steps as f64 / t_max;
            if bar.is_hidden() && frac >= next_line {
                eprintln!("{:>5.1}% {}/{} steps | {msg}", 100.0 * frac.min(1.0), p.env_steps, p.t_max);
                next_line = (frac * 10.0).floor() / 10.0 + 0.1;
            }
        })
        .context("training failed")?;
    bar.finish_and_clear();
    Ok(())
}

fn summary(p: &Progress) -> String {
    let mut s = format!("{} episodes, return {:.2}", p.episodes, p.last_return);
    if let Some(w) = p.last_win_rate {
        s.push_str(&format!(" ({:.0}% won)", 100.0 * w));
    }
    if let Some(e) = &p.last_eval {
        s.push_str(&format!(", greedy eval {:.2}", e.mean));
        if let Some(w) = e.win_rate {
            s.push_str(&format!(" ({:.0}% won)", 100.0 * w));
        }
    }
    s
}
