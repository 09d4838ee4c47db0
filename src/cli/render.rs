//! `murmur render`: watch a trained team play, as an animated GIF.

use std::path::PathBuf;

use anyhow::Context;
use murmur::render::{frame_count, render_gif, RenderOptions};
use murmur_train::checkpoint;
use murmur_train::config::DeviceChoice;
use murmur_train::env::scene::{film, EpisodeFilm};
use murmur_train::trainer::Trainer;

/// Arguments of `murmur render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The run directory (holds config.toml and checkpoints/).
    #[arg(long)]
    pub run: PathBuf,
    /// Number of episodes, drawn one after the other.
    #[arg(long, default_value_t = 3)]
    pub episodes: usize,
    /// Take the most probable action instead of sampling.
    #[arg(long)]
    pub greedy: bool,
    /// Frames (environment steps) per second.
    #[arg(long, default_value_t = 8)]
    pub fps: u32,
    /// Side of the map in the picture, pixels.
    #[arg(long, default_value_t = 480)]
    pub size: u32,
    /// The GIF to write.
    #[arg(short, long, default_value = "episodes.gif")]
    pub output: PathBuf,
    /// Compute device.
    #[arg(long)]
    pub device: Option<DeviceChoice>,
}

pub fn run(args: RenderArgs) -> anyhow::Result<()> {
    anyhow::ensure!((1..=100).contains(&args.episodes), "--episodes must be between 1 and 100");
    anyhow::ensure!((1..=50).contains(&args.fps), "--fps must be between 1 and 50");
    anyhow::ensure!((64..=2048).contains(&args.size), "--size must be between 64 and 2048 pixels");
    let cfg = super::train::load_config(&args.run.join("config.toml"), &[], args.device, None)?;
    let mut probe = cfg.env.build();
    probe.reset(cfg.seed);
    anyhow::ensure!(
        probe.scene().is_some(),
        "the {} environment has nothing to draw (render draws spread, predator-prey and battles)",
        cfg.env.name()
    );
    let latest = checkpoint::latest(&args.run.join("checkpoints"))?
        .with_context(|| format!("{} has no checkpoint yet (checkpoints/latest is missing)", args.run.display()))?;
    let mut trainer = Trainer::for_evaluation(cfg.clone())?;
    let meta = trainer.load_checkpoint(&latest)?;
    let (batch, seeds) = trainer.evaluation_episodes(args.episodes, args.greedy)?;
    // The rollout keeps actions per step, not pictures: replay each episode
    // from its seed with the same actions (the simulators are deterministic).
    let mut films: Vec<EpisodeFilm> = Vec::with_capacity(seeds.len());
    for (e, &seed) in seeds.iter().enumerate() {
        let per_step = batch.episode_actions(e);
        let mut env = cfg.env.build();
        let film = film(env.as_mut(), seed, &per_step)
            .with_context(|| format!("the {} environment has nothing to draw", cfg.env.name()))?;
        let replayed = film.returns.last().copied().unwrap_or(0.0);
        anyhow::ensure!(
            (replayed - batch.returns[e]).abs() <= 1e-6 * batch.returns[e].abs().max(1.0),
            "episode {} replayed to return {replayed} but was played to {}: the environment is not deterministic \
             for its seed",
            e + 1,
            batch.returns[e]
        );
        films.push(film);
    }
    let title = format!("{} on {}, {} steps of training", meta.learner, meta.environment, meta.env_steps);
    let options = RenderOptions { size: args.size, fps: args.fps, title };
    let episodes = plural(films.len(), "episode");
    eprintln!("drawing {} frames of {episodes}...", frame_count(&films, args.fps));
    render_gif(&films, &options, &args.output)?;
    let wins = films.iter().filter_map(|f| f.won).filter(|&w| w).count();
    let outcome =
        if films.iter().any(|f| f.won.is_some()) { format!(", {wins} of {} won", films.len()) } else { String::new() };
    println!("wrote {} ({episodes}{outcome})", args.output.display());
    Ok(())
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
