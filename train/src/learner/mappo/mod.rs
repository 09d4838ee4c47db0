//! MAPPO: PPO with a centralised state-value function (Yu et al. 2022;
//! docs/algorithms.md section 2).
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
//!
//! With `advantage = "nstep"` it runs as EPyMARL's MAPPO does: the critic
//! regresses on n-step returns bootstrapped from a target copy of itself,
//! and each epoch's advantage is that return minus the critic's current
//! value. Departure: the critic is V(s), not EPyMARL's V(s, agent id); with
//! one team reward the two estimate the same thing.

mod config;
pub use config::*;

use tch::nn;
use tch::{Kind, Tensor};

use crate::actor::Actor;
use crate::buffer::EpisodeBatch;
use crate::critic::target::{TargetNetwork, TargetUpdate, TARGET_CHECKPOINT};
use crate::critic::StateValue;
use crate::env::batch::Dims;
use crate::learner::ppo::{chunked_policy, huber, normalise_if, value_stops, PpoClip, PpoSamples};
use crate::learner::returns::{gae, nstep_returns};
use crate::learner::value_targets::ValueTargets;
use crate::learner::{masked_mean, scalar, CriticReadout, Learner, UpdateStats, ValueNorm};
use crate::optim::{descend, Optimizer, Rule};
use crate::state::TrainingState;
use crate::Result;

/// The MAPPO learner.
pub struct Mappo {
    cfg: MappoConfig,
    critic_vs: nn::VarStore,
    critic: StateValue,
    values: ValueTargets,
    critic_opt: Optimizer,
    actor_opt: Optimizer,
    /// The target critic of n-step advantages.
    target: Option<TargetNetwork<StateValue>>,
    /// Running statistics of rewards, when they are standardised.
    reward_norm: Option<ValueNorm>,
}

impl Mappo {
    /// A MAPPO learner for an actor whose parameters are `actor_vs`.
    pub fn new(cfg: &MappoConfig, actor_vs: &nn::VarStore, dims: Dims, device: tch::Device) -> Result<Self> {
        let critic_vs = nn::VarStore::new(device);
        let ids = if cfg.agent_rewards { dims.n_agents } else { 0 };
        let input = dims.state_dim + usize::from(cfg.critic_time_feature) + ids;
        let value_net = |root: &nn::Path| {
            StateValue::new(
                &(root / "value"),
                input,
                cfg.critic_hidden,
                cfg.critic_layer_norm,
                cfg.critic_orthogonal_init,
            )
        };
        let critic = value_net(&critic_vs.root());
        let values = ValueTargets::new(&critic_vs.root(), cfg.value_norm, cfg.critic_time_feature, dims.episode_limit);
        let reward_norm = cfg.reward_norm.then(|| ValueNorm::new(&(critic_vs.root() / "reward_norm")));
        let target = (cfg.advantage == AdvantageEstimator::Nstep)
            .then(|| {
                let update = TargetUpdate::interval_or_tau(cfg.target_update);
                TargetNetwork::new(&critic_vs, |p| value_net(p), update)
            })
            .transpose()?;
        let adam = Rule::adam(cfg.adam_eps);
        Ok(Self {
            actor_opt: Optimizer::new(actor_vs, adam, cfg.lr)?,
            critic_opt: Optimizer::new(&critic_vs, adam, cfg.critic_lr.unwrap_or(cfg.lr))?,
            cfg: cfg.clone(),
            critic_vs,
            critic,
            values,
            target,
            reward_norm,
        })
    }

    /// The critic's input `[T+1, B, state_dim (+1)]`: the state, and the
    /// time step t / episode_limit when configured (episodes start at row
    /// 0). With `agent_rewards`, one row per agent with its one-hot id
    /// appended: `[T+1, B, n, state_dim (+1) + n]`.
    fn critic_input(&self, batch: &EpisodeBatch) -> Tensor {
        let x = self.values.input(&batch.state, batch.first_step);
        if !self.cfg.agent_rewards {
            return x;
        }
        let (s, n) = (x.size(), batch.actions.size()[2]);
        let x = x.unsqueeze(2).expand([s[0], s[1], n, s[2]], true);
        let ids = Tensor::eye(n, (x.kind(), x.device())).expand([s[0], s[1], n, n], true);
        Tensor::cat(&[x, ids], -1)
    }

    /// The rewards the values follow `[T, B]`, or `[T, B, n]` with
    /// `agent_rewards`.
    fn rewards(&self, batch: &EpisodeBatch) -> Result<Tensor> {
        if !self.cfg.agent_rewards {
            return Ok(batch.reward.shallow_clone());
        }
        batch.agent_reward.as_ref().map(Tensor::shallow_clone).ok_or_else(|| crate::Error::ConfigValue {
            key: "mappo.agent_rewards".into(),
            expected: "false on a task without per-agent rewards".into(),
            got: "true".into(),
        })
    }

    /// Moves the target critic towards the critic after an update (see
    /// [`MappoConfig::target_update`]).
    fn follow_critic(&mut self) -> Result<()> {
        match &mut self.target {
            Some(target) => target.follow(&self.critic_vs),
            None => Ok(()),
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
        let team_mask = batch.mask.narrow(0, 0, t); // [T, B]
        let agent_mask = team_mask.unsqueeze(-1).expand([t, b, n], true);
        // Where values and returns live: [T, B], or [T, B, n] per agent.
        let mask = if c.agent_rewards { agent_mask.shallow_clone() } else { team_mask.shallow_clone() };

        // Targets from the values before this update.
        let critic_in = self.critic_input(batch);
        let stops = value_stops(batch, c.bootstrap_truncation);
        let rewards = self.rewards(batch)?;
        let reward = match &mut self.reward_norm {
            Some(norm) => {
                norm.update(&rewards, &mask);
                norm.normalize(&rewards)
            }
            None => rewards,
        };
        // n-step advantages: the return minus the critic's value.
        let advantage_of = |returns: &Tensor, v: &Tensor| (returns - v) * &mask;
        let (old_values, advantages, returns) = tch::no_grad(|| {
            let v_norm = self.critic.forward(&critic_in); // [T+1, B]
            let v = self.values.denormalize(&v_norm);
            let (adv, ret) = match &self.target {
                None => {
                    let adv = gae(&reward, &stops, &batch.mask, &v, c.gamma, c.gae_lambda);
                    let ret = &adv + v.narrow(0, 0, t);
                    (adv, ret)
                }
                Some(target) => {
                    let bootstrap = self.values.denormalize(&target.net.forward(&critic_in));
                    let ret = nstep_returns(&reward, &stops, &batch.mask, &bootstrap, c.gamma, c.nstep);
                    (advantage_of(&ret, &v.narrow(0, 0, t)), ret)
                }
            };
            (v_norm.narrow(0, 0, t), adv, ret)
        });
        let targets = self.values.fit(&returns, &mask);
        // Shared by the agents (one team reward, one state value) unless
        // each has its own.
        let per_agent = |adv: &Tensor| {
            let adv = if c.agent_rewards { adv.shallow_clone() } else { adv.unsqueeze(-1).expand([t, b, n], true) };
            normalise_if(c.advantage_norm, &adv, &agent_mask)
        };
        let actions = batch.actions.narrow(0, 0, t);
        let mut samples = PpoSamples { actions, advantage: per_agent(&advantages), mask: agent_mask.shallow_clone() };
        let ppo = PpoClip::new(c.epochs, c.minibatches, c.clip, c.entropy_coef, c.grad_clip)
            .shuffled(c.shuffle_minibatches)
            .minibatch_advantage_norm(c.minibatch_advantage_norm);
        let (critic, values, target) = (&self.critic, &self.values, &self.target);
        let critic_opt = &mut self.critic_opt;
        let critic_steps = critic_in.narrow(0, 0, t);
        let stats = ppo.run(
            &mut self.actor_opt,
            b,
            &mut samples,
            |epoch, adv| {
                if target.is_some() && epoch > 0 {
                    // EPyMARL's advantage: the n-step return minus the value
                    // the critic gives after the previous epochs' steps.
                    let v = tch::no_grad(|| values.denormalize(&critic.forward(&critic_steps)));
                    *adv = per_agent(&advantage_of(&returns, &v));
                }
            },
            |minibatch| chunked_policy(actor, batch, minibatch, c.chunk_len),
            |minibatch| {
                let mb = |x: &Tensor| minibatch.take(x);
                let v = critic.forward(&mb(&critic_steps));
                let target = mb(&targets);
                let mut v_loss = huber(&(&target - &v), c.huber_delta);
                if c.value_clip {
                    let old = mb(&old_values);
                    let clipped = &old + (&v - &old).clamp(-c.clip, c.clip);
                    v_loss = v_loss.max_other(&huber(&(&target - clipped), c.huber_delta));
                }
                let value_loss = masked_mean(&v_loss, &mb(&mask));
                descend(critic_opt, &value_loss, c.grad_clip)?;
                Ok([scalar(&value_loss)])
            },
        )?;
        self.follow_critic()?;
        let ([pl, ent, clip, ratio], [vl]) = (stats.actor, stats.learner);
        Ok(vec![
            ("policy_loss", pl),
            ("value_loss", vl),
            ("entropy", ent),
            ("clip_fraction", clip),
            ("ratio_mean", ratio),
            ("value_mean", scalar(&masked_mean(&self.values.denormalize(&old_values), &mask))),
        ])
    }

    fn var_stores(&self) -> Vec<(&'static str, &nn::VarStore)> {
        let mut stores = vec![("critic", &self.critic_vs)];
        stores.extend(self.target.as_ref().map(|target| (TARGET_CHECKPOINT, target.var_store())));
        stores
    }

    fn var_stores_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        let mut stores = vec![("critic", &mut self.critic_vs)];
        stores.extend(self.target.as_mut().map(|target| (TARGET_CHECKPOINT, target.var_store_mut())));
        stores
    }

    fn optimizers_mut(&mut self) -> Vec<&mut Optimizer> {
        vec![&mut self.actor_opt, &mut self.critic_opt]
    }

    fn save_state(&self, state: &mut TrainingState) {
        self.actor_opt.save_state("actor_optimizer", state);
        self.critic_opt.save_state("critic_optimizer", state);
        if let Some(target) = &self.target {
            target.save_state(TARGET_CHECKPOINT, state);
        }
    }

    fn load_state(&mut self, state: &TrainingState) -> Result<()> {
        self.actor_opt.load_state("actor_optimizer", state)?;
        self.critic_opt.load_state("critic_optimizer", state)?;
        match &mut self.target {
            Some(target) => target.load_state(TARGET_CHECKPOINT, state),
            None => Ok(()),
        }
    }

    fn critic_readout(&self, batch: &EpisodeBatch) -> Option<CriticReadout> {
        let value = tch::no_grad(|| self.values.denormalize(&self.critic.forward(&self.critic_input(batch))));
        // The team's reward is the sum of the agents': so is its value.
        let value = if self.cfg.agent_rewards { value.sum_dim_intlist(-1, false, Kind::Float) } else { value };
        Some(CriticReadout { value, advantage: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::ActorOptions;
    use crate::env::{Spread, SpreadConfig, VecEnv};
    use crate::rollout::{ActionSelection, Rollout};
    use murmur_runtime::ActorSpec;

    /// A small actor (hidden 8) and one batch of two spread episodes of
    /// `max_cycles` steps sampled from it.
    fn spread_rollout(max_cycles: usize) -> (Dims, nn::VarStore, Actor, EpisodeBatch) {
        let envs = VecEnv::new(vec![Spread::new(SpreadConfig { max_cycles, ..Default::default() }); 2]).unwrap();
        let dims = envs.dims();
        let actor_vs = nn::VarStore::new(tch::Device::Cpu);
        let spec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 8 };
        let actor = Actor::new(
            &actor_vs.root(),
            spec,
            ActorOptions { input_layer_norm: true, orthogonal_init: true, head_layer: false, observation_only: false },
        );
        let batch = Rollout::new(envs, spec, 1, tch::Device::Cpu)
            .unwrap()
            .collect(&actor, ActionSelection::Sample { epsilon: 0.0 });
        (dims, actor_vs, actor, batch)
    }

    #[test]
    fn time_limit_cut_is_terminal_unless_bootstrapping_and_time_reaches_the_critic() {
        let (dims, actor_vs, _actor, batch) = spread_rollout(3);
        let mappo = Mappo::new(&MappoConfig::default(), &actor_vs, dims, tch::Device::Cpu).unwrap();
        let stops = Vec::<f32>::try_from(value_stops(&batch, mappo.cfg.bootstrap_truncation).view([-1])).unwrap();
        assert_eq!(stops, vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        let time = Vec::<f32>::try_from(mappo.critic_input(&batch).select(-1, 54).contiguous().view([-1])).unwrap();
        assert_eq!(time, vec![0.0, 0.0, 1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 1.0, 1.0]);
        let cfg = MappoConfig { bootstrap_truncation: true, critic_time_feature: false, ..Default::default() };
        let mappo = Mappo::new(&cfg, &actor_vs, dims, tch::Device::Cpu).unwrap();
        assert_eq!(f64::try_from(value_stops(&batch, mappo.cfg.bootstrap_truncation).sum(Kind::Float)).unwrap(), 0.0);
        assert_eq!(mappo.critic_input(&batch).size(), [4, 2, 54]);
    }

    /// The largest change of any of the variables in `before` since then.
    fn largest_step(vs: &nn::VarStore, before: &[(String, Tensor)]) -> f64 {
        let now = vs.variables();
        before.iter().map(|(name, old)| f64::try_from((&now[name] - old).abs().max()).unwrap()).fold(0.0, f64::max)
    }

    /// Copies of the trained variables of `vs` (not the running statistics).
    fn snapshot(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
        vs.variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .map(|(name, t)| (name, t.detach().copy()))
            .collect()
    }

    #[test]
    fn critic_learns_at_its_own_rate_when_given_one() {
        tch::manual_seed(4);
        let (dims, actor_vs, actor, batch) = spread_rollout(25);
        let cfg = MappoConfig { lr: 1e-3, critic_lr: Some(1e-5), epochs: 1, ..Default::default() };
        let mut mappo = Mappo::new(&cfg, &actor_vs, dims, tch::Device::Cpu).unwrap();
        let (actor_before, critic_before) = (snapshot(&actor_vs), snapshot(&mappo.critic_vs));
        mappo.update(&actor, &batch, 0).unwrap();
        // Adam's first step moves a weight by at most its learning rate, and
        // by about that much where the gradient is well above Adam's epsilon
        // (the bounds leave room for float32 rounding of the weights).
        let actor_step = largest_step(&actor_vs, &actor_before);
        let critic_step = largest_step(&mappo.critic_vs, &critic_before);
        assert!(actor_step > 0.5e-3 && actor_step < 1.05e-3, "actor moved {actor_step}");
        assert!(critic_step > 0.5e-5 && critic_step < 1.05e-5, "critic moved {critic_step}");
    }

    #[test]
    fn with_agent_rewards_each_agent_is_valued_by_its_own_return() {
        tch::manual_seed(5);
        let (dims, actor_vs, actor, batch) = spread_rollout(25);
        let cfg = MappoConfig {
            agent_rewards: true,
            lr: 1e-9,
            critic_lr: Some(3e-3),
            epochs: 300,
            gae_lambda: 1.0,
            value_norm: false,
            value_clip: false,
            ..Default::default()
        };
        let mut mappo = Mappo::new(&cfg, &actor_vs, dims, tch::Device::Cpu).unwrap();
        assert_eq!(mappo.critic_input(&batch).size(), [26, 2, 3, 54 + 1 + 3]);
        mappo.update(&actor, &batch, 0).unwrap();
        // Each agent's discounted return from every step: GAE with lambda 1
        // over zero values (the episodes end at their time limit).
        let reward = batch.agent_reward.as_ref().unwrap();
        let no_values = Tensor::zeros([26, 2, 3], (Kind::Float, tch::Device::Cpu));
        let returns = gae(reward, &value_stops(&batch, false), &batch.mask, &no_values, cfg.gamma, 1.0); // [25, 2, 3]
        let values = tch::no_grad(|| mappo.critic.forward(&mappo.critic_input(&batch))).narrow(0, 0, 25);
        // How each agent's return differs from its team mates' at the same
        // step (its own collisions), and whether its value tells the same.
        let own = |x: &Tensor| x - x.mean_dim(-1, true, Kind::Float);
        let (g, v) = (own(&returns).view([-1]), own(&values).view([-1]));
        let spread = f64::try_from(g.std(true)).unwrap();
        assert!(spread > 0.05, "the agents' returns barely differ ({spread}): nothing to tell apart");
        let corr =
            f64::try_from((&g - g.mean(Kind::Float)).dot(&(&v - v.mean(Kind::Float))) / (g.norm() * v.norm() + 1e-9))
                .unwrap();
        println!("spread {spread}, correlation {corr}");
        assert!(corr > 0.8, "per-agent values follow per-agent returns with correlation {corr}");
        // The readout stays the team's: the sum of the agents' values.
        let team = mappo.critic_readout(&batch).unwrap().value;
        assert_eq!(team.size(), [26, 2]);
        // A task without per-agent rewards is told so at the first update.
        let mut teamwork_only = batch;
        teamwork_only.agent_reward = None;
        let err = mappo.update(&actor, &teamwork_only, 0).unwrap_err().to_string();
        assert!(err.contains("mappo.agent_rewards") && err.contains("without per-agent rewards"), "{err}");
    }

    /// The first weight of the critic and of its target.
    fn first_weights(mappo: &Mappo) -> (f64, f64) {
        let read = |vs: &nn::VarStore| vs.variables()["value.fc1.weight"].double_value(&[0, 0]);
        (read(&mappo.critic_vs), read(mappo.target.as_ref().unwrap().var_store()))
    }

    fn nstep_mappo(target_update: f64) -> Mappo {
        let dims = VecEnv::new(vec![Spread::new(SpreadConfig::default())]).unwrap().dims();
        let actor_vs = nn::VarStore::new(tch::Device::Cpu);
        let cfg = MappoConfig { advantage: AdvantageEstimator::Nstep, target_update, ..Default::default() };
        let mappo = Mappo::new(&cfg, &actor_vs, dims, tch::Device::Cpu).unwrap();
        let (critic, target) = first_weights(&mappo);
        assert_eq!(critic, target, "the target starts as a copy of the critic");
        mappo
    }

    fn shift_critic(mappo: &Mappo, by: f64) {
        tch::no_grad(|| {
            let _ = mappo.critic_vs.variables()["value.fc1.weight"].get(0).get(0).g_add_scalar_(by);
        });
    }

    #[test]
    fn target_critic_moves_softly_or_is_copied_every_interval() {
        let mut soft = nstep_mappo(0.25);
        let (before, _) = first_weights(&soft);
        shift_critic(&soft, 1.0);
        soft.follow_critic().unwrap();
        let (critic, target) = first_weights(&soft);
        assert!((critic - (before + 1.0)).abs() < 1e-6);
        assert!((target - (before + 0.25)).abs() < 1e-6, "target {target}, critic before {before}");

        let mut hard = nstep_mappo(3.0);
        let (before, _) = first_weights(&hard);
        shift_critic(&hard, 1.0);
        for _ in 0..2 {
            hard.follow_critic().unwrap();
            assert_eq!(first_weights(&hard).1, before, "no copy before the third update");
        }
        hard.follow_critic().unwrap();
        let (critic, target) = first_weights(&hard);
        assert_eq!(target, critic);
        assert_eq!(hard.var_stores().iter().map(|(name, _)| *name).collect::<Vec<_>>(), ["critic", "target_critic"]);
    }
}
