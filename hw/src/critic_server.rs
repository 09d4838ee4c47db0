//! The server-side critic: a training run's centralised critic, loaded in
//! the coordinator's process (it never leaves it), reading every step of a
//! hardware-in-the-loop episode as it happens.
//!
//! Only the learner is loaded from the run (no trainer, no simulators
//! beyond reading the team's dimensions). Every critic murmur trains reads
//! a step from that step and the one before it (the previous joint action;
//! the time step enters as a feature), so each step is read from a
//! two-step window of the episode, [`EpisodeBatch::first_step`] saying
//! where the window starts: the learner's own
//! [`critic_readout`](murmur_train::learner::Learner::critic_readout) sees
//! exactly the inputs it was trained on, at a cost that does not grow with
//! the episode. The actor's hidden states are not known on the server
//! (they live on the robots) and are left at zero: no critic reads them.

use std::path::Path;

use murmur_train::buffer::EpisodeBatch;
use murmur_train::config::Config;
use murmur_train::env::batch::Dims;
use murmur_train::learner::{self, Learner};
use tch::{Kind, Tensor};

use crate::HwError;

/// One step's reading.
#[derive(Debug, Clone, PartialEq)]
pub struct CriticReading {
    /// The critic's value of the step (V(s) or Q(s, u); see the learner).
    pub value: f32,
    /// Each robot's advantage, when the learner's critic has one.
    pub advantage: Option<Vec<f32>>,
}

/// Why the server-side critic cannot read a team's steps.
#[derive(Debug, thiserror::Error)]
pub enum CriticProblem {
    /// The critic was trained on another team than the bridge's.
    #[error("the critic was trained on a team of {critic:?}, the bridge `{bridge}` has {team:?}")]
    OtherTeam {
        /// The critic's team.
        critic: Dims,
        /// The bridge's name.
        bridge: String,
        /// The bridge's team.
        team: Dims,
    },
    /// A step's vectors do not have the team's lengths.
    #[error(
        "step does not fit the critic's team {dims:?}: state {state}, obs {obs}, avail {avail}, actions {actions}"
    )]
    Step {
        /// The critic's team.
        dims: Dims,
        /// Values in the state given.
        state: usize,
        /// Values in the observations given.
        obs: usize,
        /// Values in the masks given.
        avail: usize,
        /// Actions given.
        actions: usize,
    },
    /// The episode ran past the critic's episode limit.
    #[error("episode longer than the critic's limit of {limit} steps")]
    TooLong {
        /// The limit, steps.
        limit: usize,
    },
}

/// One step as the critic reads it (lengths as in
/// [`ServerCritic::read_step`]).
#[derive(Debug, Clone, Default)]
struct StepRow {
    state: Vec<f32>,
    obs: Vec<f32>,
    avail: Vec<f32>,
    actions: Vec<i64>,
    probs: Vec<f32>,
}

/// A run's critic and the episode it is reading.
pub struct ServerCritic {
    learner: Box<dyn Learner>,
    dims: Dims,
    input_dim: usize,
    /// The step before the newest, once there is one.
    previous: Option<StepRow>,
    /// Steps read in this episode.
    steps: usize,
}

impl ServerCritic {
    /// Loads the critic of the newest checkpoint of run directory `run` on
    /// the CPU.
    pub fn load(run: &Path) -> Result<Self, HwError> {
        let train_err = |source| HwError::CriticLoad { run: run.to_path_buf(), source };
        let cfg = Config::load(&run.join("config.toml"), &["device=\"cpu\"".to_string()]).map_err(train_err)?;
        let loaded = learner::load(&cfg, &run.join("checkpoints"), tch::Device::Cpu).map_err(train_err)?;
        Ok(Self {
            learner: loaded.learner,
            dims: loaded.dims,
            input_dim: loaded.spec.input_dim(),
            previous: None,
            steps: 0,
        })
    }

    /// The learner that trained the critic.
    pub fn learner(&self) -> &'static str {
        self.learner.name()
    }

    /// The team dimensions the critic was trained for.
    pub fn dims(&self) -> Dims {
        self.dims
    }

    /// Forgets the episode read so far.
    pub fn begin_episode(&mut self) {
        self.previous = None;
        self.steps = 0;
    }

    /// Reads the next step of the episode: the state before it
    /// (`state_dim`), the observations and masks sent (`n·obs_dim`,
    /// `n·A`), the actions applied (`n`) and the probabilities they were
    /// drawn from (`n·A`; a robot that reported none counts as certain of
    /// its action). Returns `None` when the learner has no readout.
    pub fn read_step(
        &mut self,
        state: &[f32],
        obs: &[f32],
        avail: &[f32],
        actions: &[usize],
        probs: &[Vec<f32>],
    ) -> Result<Option<CriticReading>, HwError> {
        let d = self.dims;
        if state.len() != d.state_dim
            || obs.len() != d.n_agents * d.obs_dim
            || avail.len() != d.n_agents * d.n_actions
            || actions.len() != d.n_agents
        {
            let (state, obs, avail, actions) = (state.len(), obs.len(), avail.len(), actions.len());
            return Err(CriticProblem::Step { dims: d, state, obs, avail, actions }.into());
        }
        if self.steps + 1 > d.episode_limit {
            return Err(CriticProblem::TooLong { limit: d.episode_limit }.into());
        }
        let mut row = StepRow {
            state: state.to_vec(),
            obs: obs.to_vec(),
            avail: avail.to_vec(),
            actions: actions.iter().map(|&a| a as i64).collect(),
            probs: Vec::with_capacity(d.n_agents * d.n_actions),
        };
        for (i, &a) in actions.iter().enumerate() {
            match probs.get(i).filter(|p| p.len() == d.n_actions) {
                Some(p) => row.probs.extend_from_slice(p),
                None => row.probs.extend((0..d.n_actions).map(|k| if k == a { 1.0 } else { 0.0 })),
            }
        }
        let window = self.window(&row);
        let newest = window.max_len();
        let readout = self.learner.critic_readout(&window);
        self.previous = Some(row);
        self.steps += 1;
        Ok(readout.map(|r| CriticReading {
            value: r.value.get(newest).get(0).double_value(&[]) as f32,
            advantage: r.advantage.map(|a| {
                Vec::<f32>::try_from(a.get(newest).get(0).to_kind(Kind::Float).contiguous().view([-1]))
                    .unwrap_or_default()
            }),
        }))
    }

    /// The previous step (when there is one) and `newest` as a one-episode
    /// batch whose last slot is the step being read.
    fn window(&self, newest: &StepRow) -> EpisodeBatch {
        let d = self.dims;
        let rows: Vec<&StepRow> = self.previous.iter().chain([newest]).collect();
        let t = rows.len() as i64 - 1;
        let (n, a) = (d.n_agents as i64, d.n_actions as i64);
        let cat = |f: &dyn Fn(&StepRow) -> &[f32], shape: &[i64]| {
            let v: Vec<f32> = rows.iter().flat_map(|r| f(r).iter().copied()).collect();
            Tensor::from_slice(&v).view(shape)
        };
        let actions: Vec<i64> = rows.iter().flat_map(|r| r.actions.iter().copied()).collect();
        let mut mask = vec![1.0f32; t as usize];
        mask.push(0.0);
        let zeros = |shape: &[i64]| Tensor::zeros(shape, (Kind::Float, tch::Device::Cpu));
        EpisodeBatch {
            inputs: zeros(&[t + 1, 1, n, self.input_dim as i64]),
            hidden: zeros(&[t + 1, 1, n, 1]),
            obs: cat(&|r| &r.obs, &[t + 1, 1, n, d.obs_dim as i64]),
            state: cat(&|r| &r.state, &[t + 1, 1, d.state_dim as i64]),
            avail: cat(&|r| &r.avail, &[t + 1, 1, n, a]),
            actions: Tensor::from_slice(&actions).view([t + 1, 1, n]),
            probs: cat(&|r| &r.probs, &[t + 1, 1, n, a]),
            // The newest step's reward is unknown until it is applied; no
            // readout reads rewards.
            reward: zeros(&[t, 1]),
            agent_reward: None,
            terminated: zeros(&[t, 1]),
            mask: Tensor::from_slice(&mask).view([t + 1, 1]),
            returns: vec![0.0],
            wins: Vec::new(),
            lengths: vec![t as usize],
            first_step: self.steps as i64 - t,
        }
    }
}
