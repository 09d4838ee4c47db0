//! MAPPO: PPO with a centralised state-value function (Yu et al. 2022;
//! algorithms.md section 2).
//!
//! Advantages come from GAE on de-normalised values and are shared by all
//! agents of a step (one team reward, one state value).
//!
//! Departure from the spec's plain V(s), on by default and switchable: the
//! critic also sees the time step, and the time-limit cut ends the value
//! (as in the MAPPO authors' code). Bootstrapping at the cut with a critic
//! blind to time (EPyMARL's way) asked for values near -230 on spread whose
//! errors swamped per-step advantages near 1; see docs/results.md. The recurrent actor
//! is re-run over each whole episode with truncated backpropagation in
//! chunks of `chunk_len` steps, restarting each chunk from the hidden state
//! the rollout recorded.

use tch::nn::{self, OptimizerConfig};
use tch::{Kind, Tensor};

use super::returns::gae;
use super::{descend, masked_mean, scalar, taken, Learner, UpdateStats, ValueNorm};
use crate::actor::{entropy, masked_probs, Actor};
use crate::buffer::EpisodeBatch;
use crate::config::MappoConfig;
use crate::critic::StateValue;
use crate::env::batch::Dims;
use crate::Result;

/// The MAPPO learner.
pub struct Mappo {
    cfg: MappoConfig,
    episode_limit: usize,
    critic_vs: nn::VarStore,
    critic: StateValue,
    value_norm: ValueNorm,
    critic_opt: nn::Optimizer,
    actor_opt: nn::Optimizer,
}

/// Huber loss of `e`, elementwise, with threshold `delta`.
fn huber(e: &Tensor, delta: f64) -> Tensor {
    let a = e.abs();
    let quadratic = a.clamp_max(delta);
    &quadratic * &quadratic * 0.5 + (a - &quadratic) * delta
}

impl Mappo {
    /// A MAPPO learner for an actor whose parameters are `actor_vs`.
    pub fn new(cfg: &MappoConfig, actor_vs: &nn::VarStore, dims: Dims, device: tch::Device) -> Result<Self> {
        let critic_vs = nn::VarStore::new(device);
        let input = dims.state_dim + usize::from(cfg.critic_time_feature);
        let critic = StateValue::new(&(critic_vs.root() / "value"), input, cfg.critic_hidden);
        let value_norm = ValueNorm::new(&(critic_vs.root() / "value_norm"));
        let adam = nn::Adam { eps: cfg.adam_eps, ..Default::default() };
        Ok(Self {
            actor_opt: adam.build(actor_vs, cfg.lr)?,
            critic_opt: adam.build(&critic_vs, cfg.lr)?,
            cfg: cfg.clone(),
            episode_limit: dims.episode_limit,
            critic_vs,
            critic,
            value_norm,
        })
    }

    /// The critic's input `[T+1, B, state_dim (+1)]`: the state, and the
    /// time step t / episode_limit when configured (episodes start at row 0).
    fn critic_input(&self, batch: &EpisodeBatch) -> Tensor {
        if !self.cfg.critic_time_feature {
            return batch.state.shallow_clone();
        }
        let size = batch.state.size();
        let opts = (Kind::Float, batch.state.device());
        let time = (Tensor::arange(size[0], opts) / self.episode_limit as f64).view([size[0], 1, 1]);
        Tensor::cat(&[batch.state.shallow_clone(), time.expand([size[0], size[1], 1], false)], -1)
    }

    /// Where episodes stop bootstrapping `[T, B]`: terminal states, and the
    /// time-limit cut too unless `bootstrap_truncation`.
    fn stops(&self, batch: &EpisodeBatch) -> Tensor {
        if self.cfg.bootstrap_truncation {
            return batch.terminated.shallow_clone();
        }
        let t = batch.max_len();
        let ended = batch.mask.narrow(0, 0, t) * (1.0 - batch.mask.narrow(0, 1, t));
        batch.terminated.maximum(&ended)
    }

    fn denormalized(&self, v: &Tensor) -> Tensor {
        if self.cfg.value_norm {
            self.value_norm.denormalize(v)
        } else {
            v.shallow_clone()
        }
    }
}

impl Learner for Mappo {
    fn name(&self) -> &'static str {
        "mappo"
    }

    fn update(&mut self, actor: &Actor, batch: &EpisodeBatch, _env_steps: u64) -> Result<UpdateStats> {
        let c = self.cfg.clone();
        let t = batch.max_len();
        let size = batch.actions.size();
        let (b, n) = (size[1], size[2]);
        let mask = batch.mask.narrow(0, 0, t); // [T, B]

        // Targets from the values before this update.
        let critic_in = self.critic_input(batch);
        let (old_values, advantages, returns) = tch::no_grad(|| {
            let v_norm = self.critic.forward(&critic_in); // [T+1, B]
            let v = self.denormalized(&v_norm);
            let adv = gae(&batch.reward, &self.stops(batch), &batch.mask, &v, c.gamma, c.gae_lambda);
            let ret = &adv + v.narrow(0, 0, t);
            (v_norm.narrow(0, 0, t), adv, ret)
        });
        if c.value_norm {
            self.value_norm.update(&returns, &mask);
        }
        let targets = if c.value_norm { self.value_norm.normalize(&returns) } else { returns.shallow_clone() };
        let mut adv = advantages.unsqueeze(-1).expand([t, b, n], true); // shared by the agents
        let agent_mask = mask.unsqueeze(-1).expand([t, b, n], true);
        if c.advantage_norm {
            let mean = masked_mean(&adv, &agent_mask);
            let var = masked_mean(&(&adv - &mean).square(), &agent_mask);
            adv = (&adv - mean) / (var.sqrt() + 1e-5);
        }
        let actions = batch.actions.narrow(0, 0, t);
        let old_log_p = taken(&batch.probs.narrow(0, 0, t), &actions).clamp_min(1e-10).log();

        let per_mb = (b / c.minibatches as i64).max(1);
        let mut stats = [0.0f64; 5]; // policy loss, value loss, entropy, clip fraction, ratio
        let mut count = 0.0;
        for _ in 0..c.epochs {
            for k in 0..c.minibatches as i64 {
                let (start, len) = (k * per_mb, if k + 1 == c.minibatches as i64 { b - k * per_mb } else { per_mb });
                let mb = |x: &Tensor| x.narrow(1, start, len);
                let (m, am) = (mb(&mask), mb(&agent_mask));
                let rows = len * n;
                let x = mb(&batch.inputs.narrow(0, 0, t)).contiguous().view([t, rows, -1]);
                let h_rec = mb(&batch.hidden.narrow(0, 0, t)).contiguous().view([t, rows, -1]);
                let logits = actor.unroll(&x, &actor.initial_hidden(rows, x.device()), Some((&h_rec, c.chunk_len)));
                let probs = masked_probs(&logits.view([t, len, n, -1]), &mb(&batch.avail.narrow(0, 0, t)));
                let log_p = taken(&probs, &mb(&actions)).clamp_min(1e-10).log();
                let ratio = (log_p - mb(&old_log_p)).exp();
                let a = mb(&adv);
                let surrogate = (&ratio * &a).min_other(&(ratio.clamp(1.0 - c.clip, 1.0 + c.clip) * &a));
                let policy_loss = -masked_mean(&surrogate, &am);
                let ent = masked_mean(&entropy(&probs), &am);
                let actor_loss = &policy_loss - c.entropy_coef * &ent;
                descend(&mut self.actor_opt, &actor_loss, c.grad_clip);

                let v = self.critic.forward(&mb(&critic_in.narrow(0, 0, t)));
                let target = mb(&targets);
                let mut v_loss = huber(&(&target - &v), c.huber_delta);
                if c.value_clip {
                    let old = mb(&old_values);
                    let clipped = &old + (&v - &old).clamp(-c.clip, c.clip);
                    v_loss = v_loss.max_other(&huber(&(&target - clipped), c.huber_delta));
                }
                let value_loss = masked_mean(&v_loss, &m);
                descend(&mut self.critic_opt, &value_loss, c.grad_clip);

                let clipped_frac = masked_mean(&(&ratio - 1.0).abs().gt(c.clip).to_kind(Kind::Float), &am);
                for (s, v) in
                    stats.iter_mut().zip([&policy_loss, &value_loss, &ent, &clipped_frac, &masked_mean(&ratio, &am)])
                {
                    *s += scalar(v);
                }
                count += 1.0;
            }
        }
        let [pl, vl, ent, clip, ratio] = stats.map(|s| s / count);
        Ok(vec![
            ("policy_loss", pl),
            ("value_loss", vl),
            ("entropy", ent),
            ("clip_fraction", clip),
            ("ratio_mean", ratio),
            ("value_mean", scalar(&masked_mean(&self.denormalized(&old_values), &mask))),
        ])
    }

    fn var_stores(&self) -> Vec<(&'static str, &nn::VarStore)> {
        vec![("critic", &self.critic_vs)]
    }

    fn var_stores_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        vec![("critic", &mut self.critic_vs)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::ActorOptions;
    use crate::env::{Spread, SpreadConfig, VecEnv};
    use crate::rollout::{ActionSelection, Rollout};
    use murmur_runtime::ActorSpec;

    #[test]
    fn time_limit_cut_is_terminal_unless_bootstrapping_and_time_reaches_the_critic() {
        let envs = VecEnv::new(vec![Spread::new(SpreadConfig { max_cycles: 3, ..Default::default() }); 2]).unwrap();
        let dims = envs.dims();
        let actor_vs = nn::VarStore::new(tch::Device::Cpu);
        let spec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 8 };
        let actor = Actor::new(&actor_vs.root(), spec, ActorOptions { input_layer_norm: true, orthogonal_init: true });
        let batch = Rollout::new(envs, spec, 1, tch::Device::Cpu)
            .unwrap()
            .collect(&actor, ActionSelection::Sample { epsilon: 0.0 });
        let mappo = Mappo::new(&MappoConfig::default(), &actor_vs, dims, tch::Device::Cpu).unwrap();
        let stops = Vec::<f32>::try_from(mappo.stops(&batch).view([-1])).unwrap();
        assert_eq!(stops, vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        let time = Vec::<f32>::try_from(mappo.critic_input(&batch).select(-1, 54).contiguous().view([-1])).unwrap();
        assert_eq!(time, vec![0.0, 0.0, 1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 1.0, 1.0]);
        let cfg = MappoConfig { bootstrap_truncation: true, critic_time_feature: false, ..Default::default() };
        let mappo = Mappo::new(&cfg, &actor_vs, dims, tch::Device::Cpu).unwrap();
        assert_eq!(f64::try_from(mappo.stops(&batch).sum(Kind::Float)).unwrap(), 0.0);
        assert_eq!(mappo.critic_input(&batch).size(), [4, 2, 54]);
    }

    #[test]
    fn huber_is_quadratic_then_linear() {
        let e = Tensor::from_slice(&[0.5f32, -2.0, 30.0]);
        let v = Vec::<f32>::try_from(huber(&e, 10.0)).unwrap();
        assert_eq!(v, vec![0.125, 2.0, 50.0 + 200.0]);
    }
}
