//! The server-side critic: a training run's centralised critic, loaded in
//! the coordinator's process (it never leaves it), reading every step of a
//! hardware-in-the-loop episode as it happens.
//!
//! Each step is appended to a one-episode [`EpisodeBatch`] and the learner's
//! [`critic_readout`](murmur_train::trainer::Trainer::critic_readout) is
//! taken at the newest slot, so the critic sees exactly the inputs it was
//! trained on (time step, previous joint action) without a second copy of
//! any critic's input layout here. The actor's hidden states are not known
//! on the server (they live on the robots) and are left at zero: no critic
//! reads them.

use std::path::Path;

use murmur_train::buffer::EpisodeBatch;
use murmur_train::checkpoint;
use murmur_train::config::Config;
use murmur_train::env::batch::Dims;
use murmur_train::trainer::Trainer;
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

/// A run's critic and the episode it is reading.
pub struct ServerCritic {
    trainer: Trainer,
    dims: Dims,
    input_dim: usize,
    state: Vec<f32>,
    obs: Vec<f32>,
    avail: Vec<f32>,
    actions: Vec<i64>,
    probs: Vec<f32>,
    rewards: Vec<f32>,
    terminated: Vec<f32>,
}

impl ServerCritic {
    /// Loads the newest checkpoint of run directory `run` on the CPU.
    pub fn load(run: &Path) -> Result<Self, HwError> {
        let train_err = |source| HwError::CriticLoad { run: run.to_path_buf(), source };
        let cfg = Config::load(&run.join("config.toml"), &["device=\"cpu\"".to_string()]).map_err(train_err)?;
        let latest = checkpoint::latest(&run.join("checkpoints")).map_err(train_err)?.ok_or_else(|| {
            train_err(murmur_train::Error::checkpoint(
                run.join("checkpoints"),
                murmur_train::CheckpointProblem::NoneYet,
            ))
        })?;
        let mut trainer = Trainer::new(cfg).map_err(train_err)?;
        trainer.load_checkpoint(&latest).map_err(train_err)?;
        let dims = trainer.dims();
        let input_dim = trainer.actor().spec().input_dim();
        Ok(Self {
            trainer,
            dims,
            input_dim,
            state: Vec::new(),
            obs: Vec::new(),
            avail: Vec::new(),
            actions: Vec::new(),
            probs: Vec::new(),
            rewards: Vec::new(),
            terminated: Vec::new(),
        })
    }

    /// The learner that trained the critic.
    pub fn learner(&self) -> &'static str {
        self.trainer.learner_name()
    }

    /// The team dimensions the critic was trained for.
    pub fn dims(&self) -> Dims {
        self.dims
    }

    /// Forgets the episode read so far.
    pub fn begin_episode(&mut self) {
        for v in [&mut self.state, &mut self.obs, &mut self.avail, &mut self.probs, &mut self.rewards] {
            v.clear();
        }
        self.actions.clear();
        self.terminated.clear();
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
        if state.len() != d.state_dim || obs.len() != d.n_agents * d.obs_dim || actions.len() != d.n_agents {
            return Err(HwError::Critic(format!(
                "step does not fit the critic's team {d:?}: state {}, obs {}, actions {}",
                state.len(),
                obs.len(),
                actions.len()
            )));
        }
        if self.rewards.len() + 1 > d.episode_limit {
            return Err(HwError::Critic(format!("episode longer than the critic's limit of {}", d.episode_limit)));
        }
        self.state.extend_from_slice(state);
        self.obs.extend_from_slice(obs);
        self.avail.extend_from_slice(avail);
        for (i, &a) in actions.iter().enumerate() {
            self.actions.push(a as i64);
            match probs.get(i).filter(|p| p.len() == d.n_actions) {
                Some(p) => self.probs.extend_from_slice(p),
                None => self.probs.extend((0..d.n_actions).map(|k| if k == a { 1.0 } else { 0.0 })),
            }
        }
        let last = self.rewards.len() as i64;
        let readout = self.trainer.critic_readout(&self.batch());
        // The step's reward is unknown until it is applied; slots before the
        // newest are complete steps, which is all a readout reads.
        self.rewards.push(0.0);
        self.terminated.push(0.0);
        Ok(readout.map(|r| CriticReading {
            value: r.value.get(last).get(0).double_value(&[]) as f32,
            advantage: r.advantage.map(|a| {
                Vec::<f32>::try_from(a.get(last).get(0).to_kind(Kind::Float).contiguous().view([-1]))
                    .unwrap_or_default()
            }),
        }))
    }

    /// The episode so far as a one-episode batch whose newest slot is the
    /// step being read (`T` = steps before it).
    fn batch(&self) -> EpisodeBatch {
        let d = self.dims;
        let t = self.rewards.len() as i64;
        let (n, a) = (d.n_agents as i64, d.n_actions as i64);
        let f = |v: &[f32], shape: &[i64]| Tensor::from_slice(v).view(shape);
        let mut mask = vec![1.0f32; t as usize];
        mask.push(0.0);
        EpisodeBatch {
            inputs: Tensor::zeros([t + 1, 1, n, self.input_dim as i64], (Kind::Float, tch::Device::Cpu)),
            hidden: Tensor::zeros([t + 1, 1, n, 1], (Kind::Float, tch::Device::Cpu)),
            obs: f(&self.obs, &[t + 1, 1, n, d.obs_dim as i64]),
            state: f(&self.state, &[t + 1, 1, d.state_dim as i64]),
            avail: f(&self.avail, &[t + 1, 1, n, a]),
            actions: Tensor::from_slice(&self.actions).view([t + 1, 1, n]),
            probs: f(&self.probs, &[t + 1, 1, n, a]),
            reward: f(&self.rewards, &[t, 1]),
            terminated: f(&self.terminated, &[t, 1]),
            mask: f(&mask, &[t + 1, 1]),
            returns: vec![0.0],
            lengths: vec![t as usize],
        }
    }
}
