//! LICA: learning implicit credit assignment (Zhou, Liu et al., NeurIPS
//! 2020; docs/algorithms.md section 3).
//!
//! A hypernetwork mixing critic learns Q(s, u) from one-hot joint actions;
//! the actor then climbs Q(s, pi_1, .., pi_n) by gradients through the
//! critic into the agents' probability vectors, with the adaptive entropy
//! bonus keeping the policies from collapsing early. The critic is trained
//! as the reference code trains it: TD(lambda) targets from a target
//! critic, one step per time step, last step first.

mod config;
pub use config::*;

use tch::nn;
use tch::Tensor;

use crate::actor::{entropy, masked_probs, Actor};
use crate::buffer::EpisodeBatch;
use crate::critic::td::TdCritic;
use crate::critic::{joint_one_hot, mixing_critic, mixing_readout, train_mixing_critic, MixingCritic};
use crate::env::batch::Dims;
use crate::learner::entropy::entropy_term;
use crate::learner::{masked_mean, scalar, unroll_episodes, CriticReadout, Learner, UpdateStats};
use crate::optim::{descend, Optimizer, Rule};
use crate::Result;

/// The LICA learner.
pub struct Lica {
    cfg: LicaConfig,
    n_actions: i64,
    critic: TdCritic<MixingCritic>,
    actor_opt: Optimizer,
}

impl Lica {
    /// A LICA learner for an actor whose parameters are `actor_vs`.
    pub fn new(cfg: &LicaConfig, actor_vs: &nn::VarStore, dims: Dims, device: tch::Device) -> Result<Self> {
        Ok(Self {
            cfg: cfg.clone(),
            n_actions: dims.n_actions as i64,
            critic: mixing_critic(&cfg.critic, dims, device)?,
            actor_opt: Optimizer::new(actor_vs, Rule::adam(1e-8), cfg.lr_actor)?,
        })
    }
}

/// Differentiable Gumbel-softmax samples over available actions:
/// `softmax((logits + g) / tau)` with `g ~ Gumbel(0, 1)`, unavailable
/// actions exactly 0. `logits`, `avail` `[.., A]`.
fn gumbel_softmax(logits: &Tensor, avail: &Tensor, tau: f64) -> Tensor {
    let u = logits.rand_like().clamp(1e-10, 1.0 - 1e-7);
    let g = -(-u.log()).log();
    masked_probs(&((logits + g) / tau), avail)
}

impl Learner for Lica {
    fn name(&self) -> &'static str {
        "lica"
    }

    fn update(&mut self, actor: &Actor, batch: &EpisodeBatch, _env_steps: u64) -> Result<UpdateStats> {
        let joint = joint_one_hot(&batch.actions, self.n_actions);
        let critic_loss = train_mixing_critic(&mut self.critic, batch, &joint)?;

        let t = batch.max_len();
        let b = batch.actions.size()[1];
        let logits = unroll_episodes(actor, &batch.inputs.narrow(0, 0, t));
        let avail = batch.avail.narrow(0, 0, t);
        let pi = masked_probs(&logits, &avail);
        let v = if self.cfg.gumbel_softmax {
            gumbel_softmax(&logits, &avail, self.cfg.gumbel_tau)
        } else {
            pi.shallow_clone()
        };
        let q = self.critic.net.forward(&batch.state.narrow(0, 0, t), &v.view([t, b, -1])); // [T, B]
        let mask = batch.mask.narrow(0, 0, t);
        let q_mean = masked_mean(&q, &mask);
        let h = masked_mean(&entropy(&pi), &mask.unsqueeze(-1));
        let actor_loss = -&q_mean + entropy_term(&h, self.cfg.entropy, self.cfg.entropy_coef);
        descend(&mut self.actor_opt, &actor_loss, self.cfg.grad_clip)?;

        Ok(vec![
            ("critic_loss", critic_loss),
            ("actor_loss", scalar(&actor_loss)),
            ("q_pi_mean", scalar(&q_mean)),
            ("entropy", scalar(&h)),
        ])
    }

    actor_and_td_critic_state!();

    fn critic_readout(&self, batch: &EpisodeBatch) -> Option<CriticReadout> {
        Some(mixing_readout(&self.critic.net, batch, self.n_actions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[test]
    fn gumbel_samples_avoid_unavailable_actions_and_sum_to_one() {
        tch::manual_seed(5);
        let logits = Tensor::randn([200, 4], (Kind::Float, tch::Device::Cpu)) * 5.0;
        let avail = Tensor::from_slice(&[1.0f32, 0.0, 1.0, 1.0]).view([1, 4]).expand([200, 4], false);
        let y = gumbel_softmax(&logits, &avail, 0.5);
        assert_eq!(y.select(1, 1).abs().max().double_value(&[]), 0.0);
        let sums = y.sum_dim_intlist(-1, false, Kind::Float);
        assert!((sums - 1.0).abs().max().double_value(&[]) < 1e-5);
    }
}
