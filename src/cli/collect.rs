//! `murmur collect`: an episode dataset from the simulator, with a trained
//! actor or random actions, in the format `murmur hil --record` writes.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use murmur_train::checkpoint;
use murmur_train::config::Config;
use murmur_train::dataset::collect::{self, Behaviour};
use murmur_train::dataset::{DatasetSource, DatasetWriter, SourceKind};
use murmur_train::env::batch::Dims;
use murmur_train::rollout::ActionSelection;

/// Arguments of `murmur collect`.
#[derive(Debug, clap::Args)]
pub struct CollectArgs {
    /// The run whose actor acts (and whose config.toml names the simulator).
    #[arg(long, required_unless_present = "config")]
    pub run: Option<PathBuf>,
    /// A checkpoint directory (or its name under the run's checkpoints/)
    /// [default: the run's latest].
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// A config naming the simulator, for --random without a run.
    #[arg(long, short, conflicts_with = "run")]
    pub config: Option<PathBuf>,
    /// Uniformly random actions instead of the run's actor.
    #[arg(long, conflicts_with = "checkpoint")]
    pub random: bool,
    /// Weight of uniform exploration mixed into the actor's probabilities.
    #[arg(long, default_value_t = 0.0)]
    pub epsilon: f64,
    /// Take the actor's most probable action (no sampling).
    #[arg(long, conflicts_with = "epsilon")]
    pub greedy: bool,
    /// Episodes to collect.
    #[arg(long)]
    pub episodes: usize,
    /// The dataset directory (created, or continued when it holds a dataset
    /// of the same task).
    #[arg(long)]
    pub out: PathBuf,
    /// Quality label stored in the manifest: good, medium, poor, random
    /// (OG-MARL's names) or your own [default: random with --random].
    #[arg(long)]
    pub quality: Option<String>,
    /// Seed of environment seeds and action samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Episodes simulated side by side.
    #[arg(long, default_value_t = 32)]
    pub parallel: usize,
}

pub fn run(args: CollectArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.episodes >= 1, "--episodes must be at least 1");
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.epsilon),
        "--epsilon is the weight of uniform exploration, between 0 and 1; got {}",
        args.epsilon
    );
    anyhow::ensure!(!args.random || args.run.is_some() || args.config.is_some(), "--random needs --run or --config");
    anyhow::ensure!(args.random || args.run.is_some(), "give --run RUN (its actor acts) or --random");
    let config_path = match (&args.run, &args.config) {
        (Some(run), _) => run.join("config.toml"),
        (None, Some(c)) => c.clone(),
        (None, None) => anyhow::bail!("give --run RUN or --config FILE"),
    };
    let cfg = Config::load(&config_path, &[]).with_context(|| format!("reading {}", config_path.display()))?;
    let env_cfg = cfg.env.clone();
    let make_env = move || env_cfg.build();
    let dims = Dims::of(&make_env());

    let mut source = DatasetSource::new(if args.random { SourceKind::Random } else { SourceKind::Policy });
    source.seed = Some(args.seed);
    source.quality = args.quality.clone().or_else(|| args.random.then(|| "random".into()));
    let loaded = match (&args.run, args.random) {
        (Some(run), false) => {
            let dir = checkpoint::resolve(run, args.checkpoint.as_deref())?;
            let (vs, actor, meta) = checkpoint::load_actor(&dir)?;
            anyhow::ensure!(
                (meta.spec.n_agents, meta.spec.obs_dim, meta.spec.n_actions)
                    == (dims.n_agents, dims.obs_dim, dims.n_actions),
                "{}: the actor is {:?}, the run's simulator has {dims:?}",
                dir.display(),
                meta.spec
            );
            source.run = Some(run.display().to_string());
            source.checkpoint = Some(dir.display().to_string());
            source.learner = Some(meta.learner.clone());
            source.env_steps = Some(meta.env_steps);
            source.policy_sha256 = Some(checkpoint::sha256_file(&dir.join("actor.safetensors"))?);
            source.epsilon = (!args.greedy).then_some(args.epsilon);
            Some((vs, actor))
        }
        _ => None,
    };
    let behaviour = match &loaded {
        Some((_, actor)) => Behaviour::Policy {
            actor,
            selection: if args.greedy {
                ActionSelection::Greedy
            } else {
                ActionSelection::Sample { epsilon: args.epsilon }
            },
        },
        None => Behaviour::Random,
    };
    let header = collect::header_for(cfg.env.name(), dims, 0);
    let mut writer = DatasetWriter::open(&args.out, header, Some(source))?;
    let before = writer.manifest().episodes.len();
    eprintln!(
        "murmur: collecting {} episodes of {} ({}) -> {}",
        args.episodes,
        cfg.env.name(),
        match &loaded {
            Some(_) => format!("{} actor", args.run.as_ref().map_or(String::new(), |r| r.display().to_string())),
            None => "random actions".into(),
        },
        args.out.display()
    );
    let bar =
        if std::io::stderr().is_terminal() { ProgressBar::new(args.episodes as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} episodes, ETA {eta} | {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let (mut sum, mut count) = (0.0, 0usize);
    collect::collect(&make_env, behaviour, args.episodes, args.parallel, args.seed, &mut writer, |entry| {
        sum += entry.episode_return;
        count += 1;
        bar.inc(1);
        bar.set_message(format!("mean return {:.2}", sum / count as f64));
    })?;
    bar.finish_and_clear();
    let m = writer.manifest();
    println!(
        "collected {} episodes ({} steps), mean return {:.3}; the dataset holds {} episodes ({} steps), mean return {:.3}",
        count,
        m.episodes[before..].iter().map(|e| e.steps).sum::<usize>(),
        sum / count.max(1) as f64,
        m.episodes.len(),
        m.episodes.iter().map(|e| e.steps).sum::<usize>(),
        m.episodes.iter().map(|e| e.episode_return).sum::<f64>() / m.episodes.len().max(1) as f64,
    );
    println!("dataset: {} (manifest.json, episode_*.safetensors; docs/dataset.md)", args.out.display());
    Ok(())
}
