//! Learners: each turns a batch of episodes into parameter updates of the
//! shared actor (and of its own critics). One module per learner, holding
//! the learner and its configuration table; [`registry::LEARNERS`] lists
//! them, and everything else (config parsing, the CLI, tests, scripts)
//! reads that table. Adding a learner is its module, one registry line and
//! its presets: the rollout, trainer and CLI stay as they are.

/// The checkpointed parts of a learner made of an actor optimiser
/// (`self.actor_opt`) and a [`TdCritic`](crate::critic::td::TdCritic)
/// (`self.critic`): the [`Learner`] methods for stores and state.
macro_rules! actor_and_td_critic_state {
    () => {
        fn var_stores(&self) -> Vec<(&'static str, &tch::nn::VarStore)> {
            self.critic.var_stores()
        }

        fn var_stores_mut(&mut self) -> Vec<(&'static str, &mut tch::nn::VarStore)> {
            self.critic.var_stores_mut()
        }

        fn optimizers_mut(&mut self) -> Vec<&mut crate::optim::Optimizer> {
            vec![&mut self.actor_opt, self.critic.optimizer_mut()]
        }

        fn save_state(&self, state: &mut crate::state::TrainingState) {
            self.actor_opt.save_state("actor_optimizer", state);
            self.critic.save_state(state);
        }

        fn load_state(&mut self, state: &crate::state::TrainingState) -> crate::Result<()> {
            self.actor_opt.load_state("actor_optimizer", state)?;
            self.critic.load_state(state)
        }
    };
}

/// The [`Learner`] hooks of an offline learner whose per-agent rewards
/// come from `self.rewards` (an [`offline::OfflineRewards`]): MACCA's
/// preparation on the dataset and its causal dimensions.
macro_rules! offline_reward_hooks {
    () => {
        fn prepare(
            &mut self,
            data: &crate::dataset::DatasetBatches,
            batch_episodes: usize,
            seed: u64,
        ) -> crate::Result<crate::learner::UpdateStats> {
            self.rewards.prepare(data, batch_episodes, seed)
        }

        fn causal_dims(&self, batch: Option<&crate::buffer::EpisodeBatch>) -> Option<crate::macca::CausalDims> {
            self.rewards.causal_dims(batch)
        }
    };
}

pub mod bc;
pub mod coma;
pub mod cql;
mod entropy;
pub mod icq;
pub mod lica;
pub mod maca;
pub mod mae;
pub mod mappo;
pub mod offline;
mod ppo;
pub mod registry;
pub mod returns;
pub mod seca;
mod value_norm;
mod value_targets;

pub use bc::{Bc, BcConfig};
pub use coma::{Coma, ComaConfig};
pub use cql::{Cql, CqlConfig};
pub use entropy::EntropyMode;
pub use icq::{Icq, IcqConfig};
pub use lica::{Lica, LicaConfig};
pub use maca::{Maca, MacaConfig};
pub use mae::{Mae, MaeConfig};
pub use mappo::{Mappo, MappoConfig};
pub use registry::{LearnerChoice, LearnerConfig, LEARNERS};
pub use seca::{Seca, SecaConfig};
pub use value_norm::ValueNorm;

use tch::{nn, Kind, Tensor};

use crate::actor::Actor;
use crate::buffer::EpisodeBatch;
use crate::config::Config;
use crate::dataset::DatasetBatches;
use crate::env::batch::Dims;
use crate::state::TrainingState;
use crate::Result;

/// Named scalar diagnostics of one update (columns of `metrics.csv`).
pub type UpdateStats = Vec<(&'static str, f64)>;

/// What a learner's centralised critic says about every slot of a batch:
/// the server-side critic of hardware-in-the-loop episodes reads it live.
#[derive(Debug)]
pub struct CriticReadout {
    /// The critic's estimate of the return from each slot `[T+1, B]`, in
    /// reward units: V(s_t) for MAPPO; Q(s_t, u_t) of the joint action
    /// taken for COMA and MAE (mean over the agents' heads) and for LICA
    /// and SeCA (the mixing critic's Q_tot); EQ(s_t, pi_t) for MACA.
    pub value: Tensor,
    /// Each agent's advantage `[T+1, B, n]` where the learner's critic
    /// defines one per step (COMA and MAE: the counterfactual advantage
    /// against the batch's probabilities).
    pub advantage: Option<Tensor>,
}

/// A training algorithm for the shared actor.
pub trait Learner: Send {
    /// The learner's config name (`coma`, `mappo`, ...).
    fn name(&self) -> &'static str;

    /// The exploration floor rollouts mix into the policy after `env_steps`
    /// environment steps (0 = sample the plain policy).
    fn exploration(&self, _env_steps: u64) -> f64 {
        0.0
    }

    /// Learns from `batch`, collected with the current `actor`, and steps the
    /// actor's parameters. `env_steps` counts steps before this batch.
    fn update(&mut self, actor: &Actor, batch: &EpisodeBatch, env_steps: u64) -> Result<UpdateStats>;

    /// The learner's own parameters (critics, targets, normalisers) by name,
    /// for checkpoints.
    fn var_stores(&self) -> Vec<(&'static str, &nn::VarStore)>;

    /// Mutable access to the same stores, for loading a checkpoint.
    fn var_stores_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)>;

    /// Every optimiser of the learner, actor's and critics', whose rate
    /// the run's [`LrSchedule`](crate::optim::LrSchedule) scales (see
    /// [`schedule_learning_rates`]). A learned reward model trained before
    /// the first update (MACCA's) is not among them.
    fn optimizers_mut(&mut self) -> Vec<&mut crate::optim::Optimizer>;

    /// Saves what the learner needs beyond its var stores to continue
    /// exactly where it stopped (optimiser moments, target-update counters,
    /// search states).
    fn save_state(&self, state: &mut TrainingState);

    /// Restores what [`save_state`](Self::save_state) saved.
    fn load_state(&mut self, state: &TrainingState) -> Result<()>;

    /// The critic's readout of `batch` (no gradients), or `None` for a
    /// learner whose critic has no per-step readout yet.
    fn critic_readout(&self, _batch: &EpisodeBatch) -> Option<CriticReadout> {
        None
    }

    /// Runs once before the first update of an offline run, with the
    /// dataset (MACCA's reward model trains there); `batch_episodes` and
    /// `seed` as the run's. Returns figures to report.
    fn prepare(&mut self, _data: &DatasetBatches, _batch_episodes: usize, _seed: u64) -> Result<UpdateStats> {
        Ok(Vec::new())
    }

    /// The input dimensions a learned credit model found each agent's
    /// reward to depend on (MACCA's masks; dynamic masks averaged over
    /// `batch`), or `None`.
    fn causal_dims(&self, _batch: Option<&EpisodeBatch>) -> Option<crate::macca::CausalDims> {
        None
    }
}

/// Sets every optimiser of `learner` to `factor` times its configured
/// learning rate: the run's [`LrSchedule`](crate::optim::LrSchedule) at
/// this point of the budget, the same for every learner.
pub fn schedule_learning_rates(learner: &mut dyn Learner, factor: f64) {
    for opt in learner.optimizers_mut() {
        opt.schedule(factor);
    }
}

/// Builds the configured learner (`cfg.learner`) for an actor whose
/// parameters live in `actor_vs`, on environments of `dims`.
/// `actor_vs` holds the actor's parameters already (a learner may copy
/// them, as a Q-learner's target network does).
pub fn build(cfg: &Config, actor_vs: &nn::VarStore, dims: Dims, device: tch::Device) -> Result<Box<dyn Learner>> {
    let actor = murmur_runtime::ActorSpec {
        obs_dim: dims.obs_dim,
        n_actions: dims.n_actions,
        n_agents: dims.n_agents,
        hidden: cfg.actor.hidden,
    };
    cfg.learner.config().build(registry::BuildContext {
        actor_vs,
        dims,
        device,
        seed: cfg.seed,
        t_max: cfg.t_max,
        actor,
        actor_options: cfg.actor_options(),
        offline: cfg.offline.as_ref(),
    })
}

/// A trained run's learner, loaded without a trainer (see [`load`]).
pub struct LoadedLearner {
    /// The learner, its networks as checkpointed.
    pub learner: Box<dyn Learner>,
    /// The team's dimensions (from the run's simulator).
    pub dims: Dims,
    /// The actor the learner trained.
    pub spec: murmur_runtime::ActorSpec,
}

/// The learner of run configuration `cfg` with the networks of the newest
/// checkpoint under `checkpoints` (a run's `checkpoints/` directory), on
/// `device`: for reading its critic (the server-side critic of
/// hardware-in-the-loop episodes) without building rollouts, actors or
/// evaluation simulators.
pub fn load(cfg: &Config, checkpoints: &std::path::Path, device: tch::Device) -> Result<LoadedLearner> {
    use crate::checkpoint;
    use crate::CheckpointProblem;
    let dir = checkpoint::latest(checkpoints)?
        .ok_or_else(|| crate::Error::checkpoint(checkpoints, CheckpointProblem::NoneYet))?;
    let meta = checkpoint::read_meta(&dir)?;
    let dims = Dims::of(&cfg.env.build());
    if (meta.spec.n_agents, meta.spec.obs_dim, meta.spec.n_actions) != (dims.n_agents, dims.obs_dim, dims.n_actions) {
        let config = murmur_runtime::ActorSpec {
            obs_dim: dims.obs_dim,
            n_actions: dims.n_actions,
            n_agents: dims.n_agents,
            hidden: meta.spec.hidden,
        };
        return Err(crate::Error::checkpoint(&dir, CheckpointProblem::OtherActor { found: meta.spec, config }));
    }
    // The learner's actor optimiser is built over this store and never steps.
    let actor_vs = nn::VarStore::new(device);
    let _actor = Actor::new(&actor_vs.root(), meta.spec, cfg.actor_options());
    let mut learner = build(cfg, &actor_vs, dims, device)?;
    load_networks(learner.as_mut(), &dir, &meta)?;
    Ok(LoadedLearner { learner, dims, spec: meta.spec })
}

/// Loads `learner`'s networks from checkpoint `dir` (sidecar `meta`),
/// refusing a checkpoint another learner made.
pub(crate) fn load_networks(
    learner: &mut dyn Learner,
    dir: &std::path::Path,
    meta: &crate::checkpoint::CheckpointMeta,
) -> Result<()> {
    use crate::checkpoint;
    if meta.learner != learner.name() {
        let problem =
            crate::CheckpointProblem::OtherLearner { found: meta.learner.clone(), config: learner.name().to_string() };
        return Err(crate::Error::checkpoint(dir, problem));
    }
    for (name, store) in learner.var_stores_mut() {
        checkpoint::load_store(&checkpoint::store_path(dir, name), store)?;
    }
    Ok(())
}

/// Mean of `x` over entries where `mask` is 1 (`mask` broadcasts to `x`).
pub(crate) fn masked_mean(x: &Tensor, mask: &Tensor) -> Tensor {
    let m = mask.expand_as(x);
    (x * &m).sum(Kind::Float) / m.sum(Kind::Float).clamp_min(1.0)
}

/// The scalar value of a one-element tensor.
pub(crate) fn scalar(t: &Tensor) -> f64 {
    t.double_value(&[])
}

/// Logits of the actor over whole episodes, backpropagating through every
/// step from a zero hidden state: `inputs` `[T, B, n, input_dim]` ->
/// `[T, B, n, A]`.
pub(crate) fn unroll_episodes(actor: &Actor, inputs: &Tensor) -> Tensor {
    let size = inputs.size();
    let (t, rows) = (size[0], size[1] * size[2]);
    let x = inputs.contiguous().view([t, rows, -1]);
    actor.unroll(&x, &actor.initial_hidden(rows, x.device()), None).view([t, size[1], size[2], -1])
}

/// Probability of the taken action: `probs` `[.., A]`, `actions` `[..]` -> `[..]`.
pub(crate) fn taken(probs: &Tensor, actions: &Tensor) -> Tensor {
    probs.gather(-1, &actions.unsqueeze(-1), false).squeeze_dim(-1)
}
