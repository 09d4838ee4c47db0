//! A batch of whole episodes as padded, time-major tensors.
//!
//! Shapes use `T` = the longest episode of the batch (steps), `B` = episodes,
//! `n` = agents, `A` = actions. Per-step tensors carry one extra slot at the
//! end (`T + 1` rows): the observation after an episode's last step, the
//! hidden state and policy there, and a sampled (never executed) action, so
//! critics can bootstrap truncated episodes. After an episode ends its rows
//! are padding: `mask` is 0 there and learners must ignore them.

use tch::Tensor;

/// Whole episodes collected by one rollout, on the training device.
#[derive(Debug)]
pub struct EpisodeBatch {
    /// Actor inputs fed at each step `[T+1, B, n, input_dim]` (layout of
    /// [`murmur_runtime::ActorSpec`]).
    pub inputs: Tensor,
    /// Hidden state fed to the actor at each step `[T+1, B, n, H]` (zeros at
    /// step 0: the state is reset at every episode start).
    pub hidden: Tensor,
    /// Observations `[T+1, B, n, obs_dim]`.
    pub obs: Tensor,
    /// Global states `[T+1, B, state_dim]`.
    pub state: Tensor,
    /// Action masks `[T+1, B, n, A]`, 1.0 = allowed.
    pub avail: Tensor,
    /// Actions taken `[T+1, B, n]` (i64). The slot after an episode's last
    /// step holds a bootstrap action sampled but not executed.
    pub actions: Tensor,
    /// The behaviour policy's probabilities `[T+1, B, n, A]`.
    pub probs: Tensor,
    /// Team rewards `[T, B]` (0 on padding).
    pub reward: Tensor,
    /// Each agent's own reward `[T, B, n]`, where the task defines one
    /// (ground truth for offline credit-assignment studies: learners read
    /// it only when told to).
    pub agent_reward: Option<Tensor>,
    /// 1.0 at the step where an episode reached a terminal state `[T, B]`.
    pub terminated: Tensor,
    /// 1.0 where a step was executed `[T+1, B]` (row `T` is always 0).
    pub mask: Tensor,
    /// Undiscounted return of each episode.
    pub returns: Vec<f64>,
    /// Whether each episode was won `[B]`, for tasks with a win condition
    /// (battles); empty for the others.
    pub wins: Vec<bool>,
    /// Length of each episode in steps.
    pub lengths: Vec<usize>,
    /// The episode step of row 0: 0 for whole episodes, later for a window
    /// of an episode (critics that see the time step count from here).
    pub first_step: i64,
}

impl EpisodeBatch {
    /// Number of episodes `B`.
    pub fn n_episodes(&self) -> usize {
        self.returns.len()
    }

    /// Longest episode `T`.
    pub fn max_len(&self) -> i64 {
        self.reward.size()[0]
    }

    /// Environment steps in the batch (sum of episode lengths).
    pub fn env_steps(&self) -> u64 {
        self.lengths.iter().map(|&l| l as u64).sum()
    }

    /// Mean episode return.
    pub fn mean_return(&self) -> f64 {
        mean(&self.returns)
    }

    /// The share of episodes won, for tasks with a win condition.
    pub fn win_rate(&self) -> Option<f64> {
        win_rate(&self.wins)
    }

    /// The actions episode `e` took, `[step][agent]`, for its
    /// `lengths[e]` steps (copied to the host).
    pub fn episode_actions(&self, e: usize) -> Vec<Vec<usize>> {
        let actions = self.actions.select(1, e as i64).to_device(tch::Device::Cpu).to_kind(tch::Kind::Int64);
        let (steps, n) = (actions.size()[0], actions.size()[1]);
        let mut flat = vec![0i64; (steps * n) as usize];
        let count = flat.len();
        actions.copy_data(&mut flat, count);
        let len = self.lengths.get(e).copied().unwrap_or(0).min(steps as usize);
        flat.chunks(n as usize).take(len).map(|row| row.iter().map(|&u| u.max(0) as usize).collect()).collect()
    }
}

/// The share of `wins` that are true; `None` when there are none to count
/// (a task without a win condition).
pub fn win_rate(wins: &[bool]) -> Option<f64> {
    (!wins.is_empty()).then(|| wins.iter().filter(|&&w| w).count() as f64 / wins.len() as f64)
}

/// Arithmetic mean (0 for an empty slice).
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Sample standard deviation (0 for fewer than two values).
pub fn std_dev(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}
