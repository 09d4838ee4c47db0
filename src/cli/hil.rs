//! `murmur hil`: hardware-in-the-loop episodes over Zenoh, with the robots'
//! actors on board, the critic on the server and every episode recorded.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use murmur::hw::coordinator::{HilOptions, Pacing};
use murmur::hw::mcap_export::dataset_to_mcap;
use murmur::hw::ros2_world::PoseWorldConfig;
use murmur::hw::session::{run_hil, HilRun, SpawnAgents};
use murmur::runtime::ModelFormat;
use murmur_train::config::{Config, EnvConfig};

use super::network::{stop_on_signal, ZenohArgs};

/// Step pacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Wait for every robot's answer (up to --step-timeout), then step.
    Lockstep,
    /// Step at --hz; late or missing robots get the safe action.
    Realtime,
}

/// Arguments of `murmur hil`.
#[derive(Debug, clap::Args)]
pub struct HilArgs {
    /// The simulated task (spread, predator_prey, junction); default: the
    /// --critic run's, else spread.
    #[arg(long)]
    pub env: Option<String>,
    /// Override a setting of the task, e.g. --set n_agents=4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// The swarm's name (keys murmur/<swarm>/...).
    #[arg(long)]
    pub swarm: String,
    /// Episodes to run.
    #[arg(long, default_value_t = 10)]
    pub episodes: usize,
    /// Step pacing.
    #[arg(long, value_enum, default_value_t = ModeArg::Lockstep)]
    pub mode: ModeArg,
    /// Steps per second in realtime mode.
    #[arg(long, default_value_t = 20.0)]
    pub hz: f64,
    /// Lockstep: milliseconds to wait for a step's answers.
    #[arg(long, default_value_t = 200)]
    pub step_timeout: u64,
    /// Seconds to wait for the whole team before the first episode.
    #[arg(long, default_value_t = 30)]
    pub join_timeout: u64,
    /// Record every episode into this dataset directory (docs/dataset.md).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Also write the recorded dataset as RECORD/episodes.mcap when the run
    /// ends (Foxglove, `ros2 bag`, Python `mcap`; docs/dataset.md).
    #[arg(long, requires = "record")]
    pub mcap: bool,
    /// Play spread with real robots tracked over ROS 2 (their poses from
    /// topics, landmarks from this file; docs/ros2.md), not the simulator.
    #[arg(long, value_name = "WORLD_FILE")]
    pub ros2_world: Option<PathBuf>,
    /// Load this training run's centralised critic on the server.
    #[arg(long)]
    pub critic: Option<PathBuf>,
    /// Start one `murmur agent` process per robot on this machine.
    #[arg(long, requires = "model")]
    pub spawn_agents: bool,
    /// The exported actor the spawned agents run.
    #[arg(long, requires = "spawn_agents")]
    pub model: Option<PathBuf>,
    /// An operator's public key (`murmur keys signer`) the spawned agents
    /// trust for deployed models; repeatable. Without it they run any
    /// well-formed model a peer deploys.
    #[arg(long, value_name = "PUBLIC_KEY", requires = "spawn_agents")]
    pub trust_model_key: Vec<PathBuf>,
    /// Policy implementation of the spawned agents.
    #[arg(long, default_value_t = ModelFormat::Onnx)]
    pub backend: ModelFormat,
    /// The action applied for robots without a usable answer.
    #[arg(long, default_value_t = 0)]
    pub safe_action: usize,
    /// Seed of the episodes' start states.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub zenoh: ZenohArgs,
}

/// The HIL run the arguments describe.
fn describe(args: &HilArgs) -> anyhow::Result<HilRun> {
    let env = match (&args.env, &args.critic) {
        (Some(name), _) => EnvConfig::parse(name, &args.overrides)?,
        (None, Some(run)) => {
            let cfg = Config::load(&run.join("config.toml"), &[])
                .with_context(|| format!("--critic {}: not a training run", run.display()))?;
            anyhow::ensure!(args.overrides.is_empty(), "--set needs --env (the task comes from --critic otherwise)");
            cfg.env
        }
        (None, None) => EnvConfig::parse("spread", &args.overrides)?,
    };
    anyhow::ensure!(args.episodes >= 1, "--episodes must be at least 1");
    anyhow::ensure!(args.step_timeout >= 1, "--step-timeout must be at least 1 ms");
    let pacing = match args.mode {
        ModeArg::Lockstep => Pacing::Lockstep,
        ModeArg::Realtime => Pacing::Realtime { hz: args.hz },
    };
    let spawn = match (args.spawn_agents, &args.model) {
        (true, Some(model)) => {
            anyhow::ensure!(model.is_file(), "--model {}: no such file", model.display());
            Some(SpawnAgents {
                exe: std::env::current_exe().context("cannot find the murmur executable")?,
                model: model.clone(),
                format: args.backend,
                stale_after_ms: 500,
                trusted_model_keys: args.trust_model_key.clone(),
            })
        }
        _ => None,
    };
    Ok(HilRun {
        env,
        swarm: args.swarm.clone(),
        options: HilOptions {
            episodes: args.episodes,
            pacing,
            step_timeout: Duration::from_millis(args.step_timeout),
            join_timeout: Duration::from_secs(args.join_timeout),
            safe_action: args.safe_action,
            seed: args.seed,
            ..Default::default()
        },
        record: args.record.clone(),
        critic: args.critic.clone(),
        spawn,
        zenoh: args.zenoh.options(),
        ros2_world: args.ros2_world.as_deref().map(PoseWorldConfig::load).transpose()?,
    })
}

pub fn run(args: HilArgs) -> anyhow::Result<()> {
    let hil = describe(&args)?;
    let mcap = args.mcap;
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_signal(&stop)?;
    println!(
        "murmur hil: {} episodes of {} with swarm `{}` ({:?}{}{})",
        hil.options.episodes,
        hil.env.name(),
        hil.swarm,
        hil.options.pacing,
        if hil.spawn.is_some() { ", agents spawned here" } else { "" },
        hil.critic.as_ref().map_or(String::new(), |c| format!(", critic from {}", c.display())),
    );
    if hil.spawn.is_none() {
        println!("waiting up to {:?} for the robots' liveliness tokens...", hil.options.join_timeout);
    }
    let result = run_hil(&hil, &stop, |e| {
        let flag = e.incomplete_reason.as_deref().map_or(String::new(), |r| format!("  [incomplete: {r}]"));
        let outcome = match e.won {
            Some(true) => ", won",
            Some(false) => ", not won",
            None => "",
        };
        println!(
            "episode {:>4}: return {:>9.3}, {:>3} steps{outcome}, deadline misses {:?}{flag}",
            e.episode, e.episode_return, e.steps, e.deadline_misses
        );
    });
    // What was recorded is converted even when the run ended early.
    if let (true, Some(dir)) = (mcap, &hil.record) {
        if dir.join("manifest.json").exists() {
            let out = dir.join("episodes.mcap");
            let written = dataset_to_mcap(dir, &out).with_context(|| format!("writing {}", out.display()))?;
            println!("MCAP: {} ({} episodes, {} messages)", out.display(), written.episodes, written.messages);
        }
    }
    let summary = result?;
    println!("\n{summary}");
    if let Some(dir) = &hil.record {
        println!("recorded: {} (manifest.json + one safetensors file per episode)", dir.display());
    }
    Ok(())
}
