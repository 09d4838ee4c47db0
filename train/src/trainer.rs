//! The training loop: rollout, learner update, metrics, evaluation and
//! checkpoints. Everything `murmur train` does is a call here, so a user can
//! drive training from their own program, with their own simulator.
//!
//! ```no_run
//! use murmur_train::{config::Config, trainer::Trainer};
//! let cfg = Config::load("configs/mappo_spread.toml".as_ref(), &[]).unwrap();
//! let mut trainer = Trainer::new(cfg).unwrap();
//! trainer.train(|p| println!("{} steps, return {:.2}", p.env_steps, p.last_return)).unwrap();
//! println!("{}", trainer.evaluate(32, true).unwrap());
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use murmur_runtime::ActorSpec;
use tch::nn;

use crate::actor::Actor;
use crate::buffer::EpisodeBatch;
use crate::checkpoint::{self, CheckpointMeta};
use crate::config::Config;
use crate::dataset::collect::{header_for, records_of};
use crate::dataset::{DatasetBatches, DatasetProblem, DatasetSource, DatasetWriter, SourceKind};
use crate::denormals;
use crate::env::batch::Dims;
use crate::env::{Environment, VecEnv};
use crate::eval::ReturnStats;
use crate::learner::offline::RewardSource;
use crate::learner::{self, CriticReadout, Learner, UpdateStats};
use crate::macca::CausalDims;
use crate::metrics::{self, MetricsWriter};
use crate::optim::LrSchedule;
use crate::rollout::{ActionSelection, Rollout};
use crate::state::{TrainingState, STATE_FILE};
use crate::{device, fsio, Error, Result};
use crate::{CheckpointProblem, RunDirProblem};

/// Builds one environment of the team's task.
pub type EnvFactory = Box<dyn Fn() -> Box<dyn Environment> + Send>;

/// Where training stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Environment steps trained on.
    pub env_steps: u64,
    /// The budget (`t_max`).
    pub t_max: u64,
    /// Episodes trained on.
    pub episodes: u64,
    /// Learner updates made.
    pub updates: u64,
    /// Mean return of the last training batch.
    pub last_return: f64,
    /// The share of the last training batch's episodes won, for tasks with
    /// a win condition.
    pub last_win_rate: Option<f64>,
    /// The last greedy evaluation, if any.
    pub last_eval: Option<ReturnStats>,
    /// The last update's learner diagnostics.
    pub last_stats: UpdateStats,
}

/// A run's files: `config.toml`, `metrics.csv`, `checkpoints/`.
struct RunDir {
    root: PathBuf,
    metrics: MetricsWriter,
}

/// Trains a team's shared actor with the configured learner.
pub struct Trainer {
    cfg: Config,
    env_name: String,
    make_env: EnvFactory,
    device: tch::Device,
    actor_vs: nn::VarStore,
    actor: Actor,
    learner: Box<dyn Learner>,
    rollout: Rollout<Box<dyn Environment>>,
    /// Recorded episodes, for a learner that learns offline (`[data]`).
    dataset: Option<DatasetBatches>,
    /// Where every episode trained on is recorded ("replay" datasets).
    replay: Option<DatasetWriter>,
    progress: Progress,
    run: Option<RunDir>,
    started: Instant,
    next_eval: u64,
    next_save: u64,
}

impl Trainer {
    /// A trainer on the built-in simulator that `cfg.env` names.
    pub fn new(cfg: Config) -> Result<Self> {
        let env_cfg = cfg.env.clone();
        let name = env_cfg.name();
        Self::with_env(cfg, name, Box::new(move || env_cfg.build()))
    }

    /// A trainer on any environment: `make_env` builds one copy (it is
    /// called once per parallel episode); `env_name` goes into checkpoints.
    /// `cfg.env` is ignored.
    pub fn with_env(cfg: Config, env_name: &str, make_env: EnvFactory) -> Result<Self> {
        Self::build(cfg, env_name, make_env, true)
    }

    /// A trainer on the built-in simulator for evaluating a run's
    /// checkpoints: an offline run's dataset is not read (it may have
    /// moved since), so it can evaluate, not train.
    pub fn for_evaluation(cfg: Config) -> Result<Self> {
        let env_cfg = cfg.env.clone();
        let name = env_cfg.name();
        Self::build(cfg, name, Box::new(move || env_cfg.build()), false)
    }

    fn build(cfg: Config, env_name: &str, make_env: EnvFactory, read_data: bool) -> Result<Self> {
        cfg.validate()?;
        // Before libtorch starts its threads, so that they inherit it.
        denormals::flush_to_zero();
        let device = device::select(cfg.device)?;
        tch::manual_seed(cfg.seed as i64);
        let envs = VecEnv::new((0..cfg.batch_episodes).map(|_| make_env()).collect())?;
        let dims = envs.dims();
        let spec = ActorSpec {
            obs_dim: dims.obs_dim,
            n_actions: dims.n_actions,
            n_agents: dims.n_agents,
            hidden: cfg.actor.hidden,
        };
        spec.validate()?;
        let options = cfg.actor_options();
        let actor_vs = nn::VarStore::new(device);
        let actor = Actor::new(&actor_vs.root(), spec, options);
        let learner = learner::build(&cfg, &actor_vs, dims, device)?;
        let rollout = Rollout::new(envs, spec, cfg.seed, device)?;
        let dataset = match cfg.data.as_ref().filter(|_| read_data) {
            Some(data) => {
                let batches = DatasetBatches::load(&data.path, spec, device)?;
                batches.check_task(&data.path, env_name, dims.state_dim)?;
                let individual = cfg.offline.as_ref().is_some_and(|o| o.reward == RewardSource::Individual);
                if individual && !batches.has_agent_rewards() {
                    let path = data.path.join(crate::dataset::schema::MANIFEST_FILE);
                    return Err(Error::Dataset { path, problem: DatasetProblem::NoAgentRewards });
                }
                Some(batches)
            }
            None => None,
        };
        Ok(Self {
            dataset,
            replay: None,
            progress: Progress { t_max: cfg.t_max, ..Default::default() },
            next_eval: next_multiple(0, cfg.eval_interval),
            next_save: next_multiple(0, cfg.save_interval),
            env_name: env_name.to_string(),
            make_env,
            device,
            actor_vs,
            actor,
            learner,
            rollout,
            run: None,
            started: Instant::now(),
            cfg,
        })
    }

    /// The resolved configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    /// The device tensors live on.
    pub fn device(&self) -> tch::Device {
        self.device
    }
    /// The shared actor.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    /// The actor's parameters.
    pub fn actor_var_store(&self) -> &nn::VarStore {
        &self.actor_vs
    }
    /// Where training stands.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }
    /// The environments' dimensions.
    pub fn dims(&self) -> Dims {
        self.rollout.envs().dims()
    }

    /// Writes into run directory `dir` (created if needed): the resolved
    /// config, a metrics row per update and checkpoints. With `resume`, the
    /// newest checkpoint there is loaded and training continues from it as
    /// if it had never stopped (the same returns as a run straight through).
    pub fn attach_run_dir(&mut self, dir: &Path, resume: bool) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let metrics_path = dir.join("metrics.csv");
        if resume {
            let ckpts = dir.join("checkpoints");
            let latest = checkpoint::latest(&ckpts)?
                .ok_or_else(|| Error::RunDir { path: dir.to_path_buf(), problem: RunDirProblem::NothingToResume })?;
            self.load_checkpoint(&latest)?;
            metrics::truncate_after(&metrics_path, self.progress.env_steps)?;
        } else if metrics_path.exists() {
            return Err(Error::RunDir { path: dir.to_path_buf(), problem: RunDirProblem::HoldsARun });
        }
        fsio::write_atomic(&dir.join("config.toml"), self.cfg.to_toml().as_bytes())?;
        self.run = Some(RunDir { root: dir.to_path_buf(), metrics: MetricsWriter::open(&metrics_path)? });
        Ok(())
    }

    /// Records every episode trained on from now on into the dataset in
    /// `dir` (created, or continued when it holds this task's episodes): a
    /// "replay" dataset for offline learners. Refused for a learner that
    /// trains from a dataset.
    pub fn record_replay(&mut self, dir: &Path) -> Result<()> {
        if self.cfg.data.is_some() {
            return Err(Error::Dataset { path: dir.to_path_buf(), problem: DatasetProblem::NothingToRecord });
        }
        let mut source = DatasetSource::new(SourceKind::Replay);
        source.quality = Some("replay".into());
        source.learner = Some(self.learner.name().to_string());
        source.run = self.run.as_ref().map(|r| r.root.display().to_string());
        source.seed = Some(self.cfg.seed);
        let header = header_for(&self.env_name, self.dims(), 0);
        self.replay = Some(DatasetWriter::open(dir, header, Some(source))?);
        Ok(())
    }

    /// One training iteration: collect a batch of episodes, update, log.
    pub fn step(&mut self) -> Result<&Progress> {
        // Again here: the thread that steps may not be the one that built.
        denormals::flush_to_zero();
        // Every update draws from its own streams (environment seeds and
        // action samples here, libtorch's generator in the learner), so a
        // resumed run continues them without saving a generator's state.
        if self.dataset.is_none() && self.cfg.data.is_some() {
            return Err(Error::EvaluationOnly);
        }
        let stream = stream_seed(self.cfg.seed, self.progress.updates);
        if let (Some(data), 0) = (&self.dataset, self.progress.updates) {
            // Before an offline run's first update (not on resume: the
            // checkpoint holds what this trained).
            let figures = self.learner.prepare(data, self.cfg.batch_episodes, stream ^ PREPARE_STREAM)?;
            if !figures.is_empty() {
                log::info!("{} prepared on the dataset: {figures:?}", self.learner.name());
            }
        }
        let batch = match &self.dataset {
            Some(data) => data.sample(self.cfg.batch_episodes, stream),
            None => {
                self.rollout.reseed(stream);
                let epsilon = self.learner.exploration(self.progress.env_steps);
                let batch = self.rollout.collect(&self.actor, ActionSelection::Sample { epsilon });
                if let Some(replay) = &mut self.replay {
                    let first = replay.next_episode();
                    for record in records_of(&batch, first, self.rollout.episode_seeds()) {
                        replay.write(&record)?;
                    }
                }
                batch
            }
        };
        tch::manual_seed(stream as i64);
        let lr_factor = self.cfg.lr_schedule.factor(self.progress.env_steps, self.cfg.t_max);
        learner::schedule_learning_rates(self.learner.as_mut(), lr_factor);
        let mut stats = self.learner.update(&self.actor, &batch, self.progress.env_steps)?;
        if self.cfg.lr_schedule != LrSchedule::Constant {
            stats.push(("lr_factor", lr_factor));
        }
        let p = &mut self.progress;
        p.env_steps += batch.env_steps();
        p.episodes += batch.n_episodes() as u64;
        p.updates += 1;
        p.last_return = batch.mean_return();
        p.last_win_rate = batch.win_rate();
        p.last_stats = stats;
        let mut eval = None;
        if self.progress.env_steps >= self.next_eval {
            self.next_eval = next_multiple(self.progress.env_steps, self.cfg.eval_interval);
            let stats = self.evaluate(self.cfg.eval_episodes, true)?;
            self.progress.last_eval = Some(stats.clone());
            eval = Some(stats);
        }
        self.log_row(&batch, eval.as_ref())?;
        if self.run.is_some() && self.progress.env_steps >= self.next_save {
            self.next_save = next_multiple(self.progress.env_steps, self.cfg.save_interval);
            self.save_checkpoint()?;
        }
        Ok(&self.progress)
    }

    /// Trains until `t_max` environment steps, calling `on_update` after each
    /// update, then saves a final checkpoint when a run directory is attached.
    pub fn train(&mut self, mut on_update: impl FnMut(&Progress)) -> Result<()> {
        while self.progress.env_steps < self.cfg.t_max {
            on_update(self.step()?);
        }
        if self.run.is_some() {
            self.save_checkpoint()?;
        }
        Ok(())
    }

    /// Runs `episodes` fresh episodes (fixed seeds, the same every call) with
    /// the current actor, greedy or sampled, and summarises their returns.
    pub fn evaluate(&mut self, episodes: usize, greedy: bool) -> Result<ReturnStats> {
        let (batch, _) = self.evaluation_episodes(episodes, greedy)?;
        Ok(ReturnStats::of(&batch.returns).with_wins(&batch.wins))
    }

    /// The episodes [`evaluate`](Self::evaluate) summarises, with the seed
    /// each one was reset with (one per episode): enough to replay them.
    pub fn evaluation_episodes(&mut self, episodes: usize, greedy: bool) -> Result<(EpisodeBatch, Vec<u64>)> {
        let envs = VecEnv::new((0..episodes.max(1)).map(|_| (self.make_env)()).collect())?;
        let mut rollout = Rollout::new(envs, self.actor.spec(), self.cfg.seed ^ 0x5eed_e7a1, self.device)?;
        let selection = if greedy { ActionSelection::Greedy } else { ActionSelection::Sample { epsilon: 0.0 } };
        let batch = rollout.collect(&self.actor, selection);
        Ok((batch, rollout.episode_seeds().to_vec()))
    }

    fn log_row(&mut self, batch: &EpisodeBatch, eval: Option<&ReturnStats>) -> Result<()> {
        let Some(run) = &mut self.run else { return Ok(()) };
        let p = &self.progress;
        let returns = &batch.returns;
        let lens: Vec<f64> = batch.lengths.iter().map(|&l| l as f64).collect();
        let mut row: Vec<(&str, Option<f64>)> = vec![
            ("env_steps", Some(p.env_steps as f64)),
            ("episodes", Some(p.episodes as f64)),
            ("updates", Some(p.updates as f64)),
            ("wall_s", Some(self.started.elapsed().as_secs_f64())),
            ("return_mean", Some(crate::buffer::mean(returns))),
            ("return_std", Some(crate::buffer::std_dev(returns))),
            ("episode_length", Some(crate::buffer::mean(&lens))),
            ("eval_return_mean", eval.map(|e| e.mean)),
        ];
        // Battles: the share of episodes won, beside the returns.
        if self.rollout.envs().won().is_some() {
            row.push(("win_rate", batch.win_rate()));
            row.push(("eval_win_rate", eval.and_then(|e| e.win_rate)));
        }
        row.extend(p.last_stats.iter().map(|(k, v)| (*k, Some(*v))));
        run.metrics.write(&row)
    }

    fn meta(&self) -> CheckpointMeta {
        CheckpointMeta {
            format_version: checkpoint::FORMAT_VERSION,
            learner: self.learner.name().to_string(),
            environment: self.env_name.clone(),
            spec: self.actor.spec(),
            actor_options: self.actor.options(),
            env_steps: self.progress.env_steps,
            episodes: self.progress.episodes,
            updates: self.progress.updates,
            sha256: Default::default(),
        }
    }

    /// Saves a checkpoint into the run directory; returns its path.
    pub fn save_checkpoint(&self) -> Result<PathBuf> {
        let run = self.run.as_ref().ok_or(Error::NoRunDir)?;
        let mut state = TrainingState::default();
        self.learner.save_state(&mut state);
        let root = run.root.join("checkpoints");
        let dir = checkpoint::save_resumable(&root, &self.actor_vs, &self.learner.var_stores(), &state, self.meta())?;
        if let Some(dims) = self.causal_dims() {
            let json = serde_json::to_vec_pretty(&dims).expect("causal dimensions always serialise");
            fsio::write_atomic(&dir.join(CAUSAL_DIMS_FILE), &json)?;
        }
        Ok(dir)
    }

    /// What a learned credit model (MACCA's masks) found each agent's
    /// reward to depend on; dynamic masks are averaged over a fixed draw of
    /// the dataset. `None` for learners without one.
    pub fn causal_dims(&self) -> Option<CausalDims> {
        let batch = self.dataset.as_ref().map(|d| d.sample(self.cfg.batch_episodes, self.cfg.seed));
        self.learner.causal_dims(batch.as_ref())
    }

    /// The learner's name (`mappo`, `coma`, ...).
    pub fn learner_name(&self) -> &'static str {
        self.learner.name()
    }

    /// What the learner's centralised critic says about `batch` (see
    /// [`CriticReadout`]); `None` when the learner has no readout.
    pub fn critic_readout(&self, batch: &EpisodeBatch) -> Option<CriticReadout> {
        self.learner.critic_readout(batch)
    }

    /// Loads the checkpoint in `dir` (actor, learner networks, progress),
    /// refusing one made for other dimensions.
    pub fn load_checkpoint(&mut self, dir: &Path) -> Result<CheckpointMeta> {
        let meta = checkpoint::read_meta(dir)?;
        let bad = |problem| Error::checkpoint(dir, problem);
        if meta.spec != self.actor.spec() {
            return Err(bad(CheckpointProblem::OtherActor { found: meta.spec, config: self.actor.spec() }));
        }
        learner::load_networks(self.learner.as_mut(), dir, &meta)?;
        checkpoint::load_store(&dir.join("actor.safetensors"), &mut self.actor_vs)?;
        let state_file = dir.join(STATE_FILE);
        if state_file.exists() {
            self.learner.load_state(&TrainingState::load(&state_file)?)?;
        } else {
            log::warn!(
                "{} has no {STATE_FILE} (written by an older murmur): optimiser moments and counters start afresh",
                dir.display()
            );
        }
        self.progress.env_steps = meta.env_steps;
        self.progress.episodes = meta.episodes;
        self.progress.updates = meta.updates;
        self.next_eval = next_multiple(meta.env_steps, self.cfg.eval_interval);
        self.next_save = next_multiple(meta.env_steps, self.cfg.save_interval);
        Ok(meta)
    }
}

/// The file a checkpoint holds MACCA's causal dimensions in.
pub const CAUSAL_DIMS_FILE: &str = "causal_dims.json";

/// Mixed into the first update's seed for an offline learner's preparation.
const PREPARE_STREAM: u64 = 0x5EED_0FDA_7A00_0001;

/// The seed of update `update`'s random streams in a run seeded `seed`
/// (update 0 draws from `seed` itself).
fn stream_seed(seed: u64, update: u64) -> u64 {
    seed ^ update.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The first multiple of `interval` above `steps`; never (`u64::MAX`) for
/// an interval of 0.
fn next_multiple(steps: u64, interval: u64) -> u64 {
    steps.checked_div(interval).map_or(u64::MAX, |k| (k + 1) * interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Tensor;

    /// Copies of every trainable weight of the actor and of the learner's
    /// own stores.
    fn trainable_weights(t: &Trainer) -> Vec<Tensor> {
        let mut stores = vec![t.actor_var_store()];
        stores.extend(t.learner.var_stores().into_iter().map(|(_, vs)| vs));
        stores.iter().flat_map(|vs| vs.trainable_variables()).map(|v| v.detach().copy()).collect()
    }

    fn largest_change(a: &[Tensor], b: &[Tensor]) -> f64 {
        a.iter().zip(b).map(|(a, b)| (a - b).abs().max().double_value(&[])).fold(0.0, f64::max)
    }

    #[test]
    fn a_linear_schedule_reaches_every_optimiser_of_every_online_learner() {
        for kind in crate::learner::registry::online() {
            let text = format!(
                "learner = \"{}\"\nt_max = 1\nbatch_episodes = 4\nlr_schedule = \"linear\"\ndevice = \"cpu\"\n\
                 [env]\nname = \"spread\"\nmax_cycles = 5\n[actor]\nhidden = 8",
                kind.name
            );
            let mut t = Trainer::new(Config::parse(&text, "test", &[]).unwrap()).unwrap();
            let start = trainable_weights(&t);
            // The first update starts at step 0 of 1: the full rate.
            let stats = t.step().unwrap().last_stats.clone();
            assert!(stats.contains(&("lr_factor", 1.0)), "{}: {stats:?}", kind.name);
            let moved = trainable_weights(&t);
            assert!(largest_change(&start, &moved) > 0.0, "{}: nothing moved at the full rate", kind.name);
            // Past the budget every rate is 0: no weight of any store moves.
            t.step().unwrap();
            let change = largest_change(&moved, &trainable_weights(&t));
            assert_eq!(change, 0.0, "{}: a weight moved by {change} at rate 0", kind.name);
        }
    }

    #[test]
    fn schedules_skip_ahead_and_zero_means_never() {
        assert_eq!(next_multiple(0, 100), 100);
        assert_eq!(next_multiple(100, 100), 200);
        assert_eq!(next_multiple(350, 100), 400);
        assert_eq!(next_multiple(0, 0), u64::MAX);
        assert_eq!(next_multiple(12_345, 0), u64::MAX);
    }
}
