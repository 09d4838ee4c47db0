//! Command-line interface: argument parsing and dispatch.

mod agent;
mod collect;
mod dataset;
mod deploy;
mod eval;
mod export;
mod hil;
mod keys;
mod learners;
mod network;
mod plot;
mod quickstart;
mod render;
mod summary;
mod train;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Cooperative multi-robot reinforcement learning: centralised critics,
/// decentralised GRU actors.
#[derive(Debug, Parser)]
#[command(name = "murmur", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a team from a config; writes a run directory.
    Train(train::TrainArgs),
    /// List the learners (the `learner` key of a config) and their papers.
    Learners(learners::LearnersArgs),
    /// Record an episode dataset in the simulator, with a run's actor or random actions.
    Collect(collect::CollectArgs),
    /// Work with recorded datasets: convert them to MCAP.
    Dataset(dataset::DatasetArgs),
    /// Evaluate a run's latest checkpoint.
    Eval(eval::EvalArgs),
    /// Run one robot's actor on the swarm over Zenoh.
    Agent(agent::AgentArgs),
    /// Send a new model to a running swarm (agents switch at their next episode).
    Deploy(deploy::DeployArgs),
    /// Run hardware-in-the-loop episodes: robots act on board, the server scores and records.
    Hil(hil::HilArgs),
    /// Keys of a private swarm: its certificate authority, members'
    /// certificates and model signing keys.
    Keys(keys::KeysArgs),
    /// Export a run's actor to an ONNX file, verified against the trained network.
    Export(export::ExportArgs),
    /// Draw episodes of a run's team as an animated GIF.
    Render(render::RenderArgs),
    /// Plot learning curves of one or more runs into a PNG.
    Plot(plot::PlotArgs),
    /// Table of final returns over seeds (mean and 95% interval).
    Summary(summary::SummaryArgs),
    /// The two-minute tour: train a small team on spread, evaluate, plot.
    Quickstart(quickstart::QuickstartArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(a) => train::run(a),
        Command::Learners(a) => learners::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Collect(a) => collect::run(a),
        Command::Dataset(a) => dataset::run(a),
        Command::Export(a) => export::run(a),
        Command::Agent(a) => agent::run(a),
        Command::Hil(a) => hil::run(a),
        Command::Deploy(a) => deploy::run(a),
        Command::Keys(a) => keys::run(a),
        Command::Render(a) => render::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Summary(a) => summary::run(a),
        Command::Quickstart(a) => quickstart::run(a),
    }
}

/// `runs/<config file stem>` unless given.
fn default_run_dir(config: &std::path::Path) -> PathBuf {
    let stem = config.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
    PathBuf::from("runs").join(stem)
}
