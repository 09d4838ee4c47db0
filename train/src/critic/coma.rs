//! COMA's centralised critic Q_i(s, (., u_-i)) (docs/algorithms.md section 1):
//! for agent i, the values of each of its A actions with everyone else's
//! actions held fixed.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::td::{TdCritic, TdSettings};
use crate::buffer::EpisodeBatch;
use crate::env::batch::Dims;
use crate::learner::{taken, CriticReadout};
use crate::optim::Rule;
use crate::Result;

/// Input features per agent and step:
/// `[s, o_i, one_hot(u) with agent i's slot zeroed (nA), one_hot(u_{t-1}) (nA; zeros at t = 0), one_hot(i) (n)]`.
pub struct ComaInputs;

impl ComaInputs {
    /// Feature length for the given dimensions.
    pub fn dim(state_dim: usize, obs_dim: usize, n_agents: usize, n_actions: usize) -> usize {
        state_dim + obs_dim + 2 * n_agents * n_actions + n_agents
    }

    /// Builds the features for every slot of `batch`: `[T+1, B, n, dim]`.
    pub fn build(batch: &EpisodeBatch, n_actions: i64) -> Tensor {
        Self::build_with_joint(batch, &batch.actions, n_actions)
    }

    /// Like [`build`](Self::build) with the joint action of each step
    /// replaced by `joint` `[T+1, B, n]` (i64); the previous joint action
    /// stays the batch's own. MAE feeds sampled partner actions this way.
    pub fn build_with_joint(batch: &EpisodeBatch, joint: &Tensor, n_actions: i64) -> Tensor {
        let size = batch.actions.size();
        let (t1, b, n) = (size[0], size[1], size[2]);
        let opts = (Kind::Float, batch.state.device());
        let onehot = batch.actions.one_hot(n_actions).to_kind(Kind::Float); // [T+1, B, n, A]
        let joint = joint.one_hot(n_actions).to_kind(Kind::Float).view([t1, b, 1, n * n_actions]);
        let joint = joint.expand([t1, b, n, n * n_actions], false);
        // Agent i's own block zeroed: mask [n, nA] = 1 - eye(n) repeated over A.
        let others: Tensor = Tensor::eye(n, opts).neg() + 1.0;
        let others = others.repeat_interleave_self_int(n_actions, Some(1), None);
        let joint_others = joint * others.view([1, 1, n, n * n_actions]);
        let prev = Tensor::cat(&[onehot.narrow(0, 0, 1).zeros_like(), onehot.narrow(0, 0, t1 - 1)], 0)
            .view([t1, b, 1, n * n_actions])
            .expand([t1, b, n, n * n_actions], false);
        let state = batch.state.unsqueeze(2).expand([t1, b, n, -1], false);
        let ids = Tensor::eye(n, opts).view([1, 1, n, n]).expand([t1, b, n, n], false);
        Tensor::cat(&[state, batch.obs.shallow_clone(), joint_others, prev, ids], -1)
    }
}

/// `features -> Linear(h) -> ReLU -> Linear(h) -> ReLU -> Linear(A)`.
#[derive(Debug)]
pub struct ComaCritic {
    fc1: nn::Linear,
    fc2: nn::Linear,
    out: nn::Linear,
}

impl ComaCritic {
    /// A critic taking `input_dim` features, with `hidden` units per layer.
    pub fn new(vs: &nn::Path, input_dim: usize, hidden: usize, n_actions: usize) -> Self {
        let (i, h) = (input_dim as i64, hidden as i64);
        Self {
            fc1: super::linear(vs / "fc1", i, h, None),
            fc2: super::linear(vs / "fc2", h, h, None),
            out: super::linear(vs / "out", h, n_actions as i64, None),
        }
    }

    /// Q-values of each of the agent's actions: `[.., input_dim]` -> `[.., A]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.out.forward(&self.fc2.forward(&self.fc1.forward(x).relu()).relu())
    }
}

/// COMA's critic Q_i(s, (., u_-i)) and its target (COMA and MAE).
pub(crate) fn coma_critic(
    dims: Dims,
    hidden: usize,
    device: tch::Device,
    rule: Rule,
    lr: f64,
    settings: TdSettings,
) -> Result<TdCritic<ComaCritic>> {
    let input = ComaInputs::dim(dims.state_dim, dims.obs_dim, dims.n_agents, dims.n_actions);
    let build = |p: &nn::Path| ComaCritic::new(p, input, hidden, dims.n_actions);
    TdCritic::new(device, build, rule, lr, settings)
}

/// Trains a COMA critic on the batch's taken actions with TD(lambda),
/// backwards through time; `features` from [`ComaInputs::build`]. Returns
/// the mean loss.
pub(crate) fn train_coma_critic(
    critic: &mut TdCritic<ComaCritic>,
    batch: &EpisodeBatch,
    features: &Tensor,
) -> Result<f64> {
    let g = tch::no_grad(|| taken(&critic.target.net.forward(features), &batch.actions));
    let targets = critic.targets(batch, &g);
    critic.train_backwards(batch, &targets, |net, t| taken(&net.forward(&features.get(t)), &batch.actions.get(t)))
}

/// COMA's counterfactual advantage `Q(s, u)[u_i] - sum_a pi_i(a) Q(s, (a, u_-i))`:
/// `q` `[.., A]` (agent i's action values with the others' actions held),
/// `pi` `[.., A]`, `actions` `[..]` -> `[..]`.
pub(crate) fn counterfactual_advantage(q: &Tensor, pi: &Tensor, actions: &Tensor) -> Tensor {
    taken(q, actions) - (pi * q).sum_dim_intlist(-1, false, Kind::Float)
}

/// The readout of a COMA critic (COMA and MAE): Q of the taken joint action
/// and the counterfactual advantage under the batch's probabilities.
pub(crate) fn coma_readout(critic: &ComaCritic, batch: &EpisodeBatch, n_actions: i64) -> CriticReadout {
    tch::no_grad(|| {
        let q = critic.forward(&ComaInputs::build(batch, n_actions)); // [T+1, B, n, A]
        let value = taken(&q, &batch.actions).mean_dim(-1, false, Kind::Float);
        let advantage = counterfactual_advantage(&q, &batch.probs, &batch.actions);
        CriticReadout { value, advantage: Some(advantage) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_follow_the_documented_layout() {
        // T = 1 (two slots), B = 1, n = 2 agents, A = 3, obs 1, state 1.
        let f = |v: &[f32], s: &[i64]| Tensor::from_slice(v).view(s);
        let batch = EpisodeBatch {
            inputs: Tensor::zeros([2, 1, 2, 1], (Kind::Float, tch::Device::Cpu)),
            hidden: Tensor::zeros([2, 1, 2, 1], (Kind::Float, tch::Device::Cpu)),
            obs: f(&[0.1, 0.2, 0.3, 0.4], &[2, 1, 2, 1]),
            state: f(&[7.0, 8.0], &[2, 1, 1]),
            avail: Tensor::ones([2, 1, 2, 3], (Kind::Float, tch::Device::Cpu)),
            actions: Tensor::from_slice(&[2i64, 0, 1, 1]).view([2, 1, 2]),
            probs: Tensor::ones([2, 1, 2, 3], (Kind::Float, tch::Device::Cpu)),
            reward: Tensor::zeros([1, 1], (Kind::Float, tch::Device::Cpu)),
            agent_reward: None,
            terminated: Tensor::zeros([1, 1], (Kind::Float, tch::Device::Cpu)),
            mask: f(&[1.0, 0.0], &[2, 1]),
            returns: vec![0.0],
            wins: Vec::new(),
            lengths: vec![1],
            first_step: 0,
        };
        let x = ComaInputs::build(&batch, 3);
        assert_eq!(x.size(), [2, 1, 2, ComaInputs::dim(1, 1, 2, 3) as i64]);
        let row = |t: i64, i: i64| Vec::<f32>::try_from(x.get(t).get(0).get(i)).unwrap();
        #[rustfmt::skip]
        assert_eq!(row(1, 0), vec![
            8.0, 0.3,                      // state, own observation
            0.0, 0.0, 0.0, 0.0, 1.0, 0.0,  // joint action (agent 0's slot zeroed, agent 1 took 1)
            0.0, 0.0, 1.0, 1.0, 0.0, 0.0,  // previous joint action (2, 0)
            1.0, 0.0,                      // agent id
        ]);
        #[rustfmt::skip]
        assert_eq!(row(0, 1), vec![
            7.0, 0.2,
            0.0, 0.0, 1.0, 0.0, 0.0, 0.0,  // agent 0 took 2; agent 1's slot zeroed
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0,  // no previous action at t = 0
            0.0, 1.0,
        ]);
    }
}
