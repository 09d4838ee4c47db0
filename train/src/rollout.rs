//! Batched rollouts: step many environments in lock-step and run the shared
//! actor for every agent of every environment as one batch per step.

use murmur_runtime::ActorSpec;
use rand::{Rng, RngCore, SeedableRng};
use rand_pcg::Pcg64;
use tch::{Kind, Tensor};

use crate::actor::{epsilon_floor, masked_probs, Actor};
use crate::buffer::EpisodeBatch;
use crate::env::{Environment, VecEnv};
use crate::Result;

/// How the actor picks actions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActionSelection {
    /// Sample from the policy, mixed with an exploration floor `epsilon`
    /// (0 = the plain policy).
    Sample {
        /// Weight of the uniform distribution over available actions.
        epsilon: f64,
    },
    /// Take the most probable available action (evaluation).
    Greedy,
}

/// Collects whole episodes from a batch of environments.
///
/// Host-side buffers are allocated once for the longest possible episode and
/// reused; environment seeds and action samples come from one seeded RNG, so
/// a rollout is reproducible.
pub struct Rollout<E: Environment> {
    envs: VecEnv<E>,
    spec: ActorSpec,
    rng: Pcg64,
    /// The environment seed of each episode of the last batch.
    seeds: Vec<u64>,
    device: tch::Device,
    // Host buffers for one batch, time-major; sized for T = episode_limit.
    inputs: Vec<f32>,
    probs_host: Vec<f32>,
    actions: Vec<i64>,
    step_actions: Vec<usize>,
    reward: Vec<f32>,
    /// `[T, B, n]` when the environments define per-agent rewards.
    agent_reward: Option<Vec<f32>>,
    terminated: Vec<f32>,
    mask: Vec<f32>,
    obs: Vec<f32>,
    state: Vec<f32>,
    avail: Vec<f32>,
}

impl<E: Environment> Rollout<E> {
    /// A rollout over `envs` for an actor of `spec`, seeded with `seed`.
    pub fn new(envs: VecEnv<E>, spec: ActorSpec, seed: u64, device: tch::Device) -> Result<Self> {
        let d = envs.dims();
        let expected =
            ActorSpec { obs_dim: d.obs_dim, n_actions: d.n_actions, n_agents: d.n_agents, hidden: spec.hidden };
        if expected != spec {
            return Err(crate::EnvProblem::OtherActor { actor: spec, env: expected }.into());
        }
        let (b, n, l) = (envs.len(), d.n_agents, d.episode_limit + 1);
        Ok(Self {
            inputs: vec![0.0; l * b * n * spec.input_dim()],
            probs_host: vec![0.0; b * n * d.n_actions],
            actions: vec![0; l * b * n],
            step_actions: vec![0; b * n],
            reward: vec![0.0; l * b],
            agent_reward: envs.agent_rewards().map(|_| vec![0.0; l * b * n]),
            terminated: vec![0.0; l * b],
            mask: vec![0.0; l * b],
            obs: vec![0.0; l * b * n * d.obs_dim],
            state: vec![0.0; l * b * d.state_dim],
            avail: vec![0.0; l * b * n * d.n_actions],
            envs,
            spec,
            rng: Pcg64::seed_from_u64(seed),
            seeds: Vec::with_capacity(b),
            device,
        })
    }

    /// Restarts the random stream (environment seeds and action samples).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = Pcg64::seed_from_u64(seed);
    }

    /// The environment seed of each episode of the last batch collected.
    pub fn episode_seeds(&self) -> &[u64] {
        &self.seeds
    }

    /// The environments.
    pub fn envs(&self) -> &VecEnv<E> {
        &self.envs
    }

    /// Runs one episode in every environment with `actor` and returns them
    /// as a batch on the rollout's device.
    pub fn collect(&mut self, actor: &Actor, selection: ActionSelection) -> EpisodeBatch {
        tch::no_grad(|| self.collect_inner(actor, selection))
    }

    fn collect_inner(&mut self, actor: &Actor, selection: ActionSelection) -> EpisodeBatch {
        let d = self.envs.dims();
        let (b, n, a_dim, in_dim) = (self.envs.len(), d.n_agents, d.n_actions, self.spec.input_dim());
        let rows = (b * n) as i64;
        let (rng, seeds) = (&mut self.rng, &mut self.seeds);
        seeds.clear();
        self.envs.reset(|_| {
            let seed = rng.next_u64();
            seeds.push(seed);
            seed
        });
        self.mask.fill(0.0);
        self.reward.fill(0.0);
        if let Some(r) = &mut self.agent_reward {
            r.fill(0.0);
        }
        self.terminated.fill(0.0);
        let mut returns = vec![0.0; b];
        let mut lengths = vec![0usize; b];
        let mut h = actor.initial_hidden(rows, self.device);
        let mut hidden = Vec::with_capacity(d.episode_limit + 1);
        let mut probs_t = Vec::with_capacity(d.episode_limit + 1);
        let mut t = 0;
        loop {
            self.record_observation(t);
            let x_slot = &self.inputs[t * b * n * in_dim..(t + 1) * b * n * in_dim];
            let x = Tensor::from_slice(x_slot).view([rows, in_dim as i64]).to_device(self.device);
            let avail_slot = &self.avail[t * b * n * a_dim..(t + 1) * b * n * a_dim];
            let avail = Tensor::from_slice(avail_slot).view([rows, a_dim as i64]).to_device(self.device);
            let (logits, h_next) = actor.step(&x, &h);
            let mut probs = masked_probs(&logits, &avail);
            if let ActionSelection::Sample { epsilon } = selection {
                probs = epsilon_floor(&probs, &avail, epsilon);
            }
            let probs_cpu = probs.to_device(tch::Device::Cpu).to_kind(Kind::Float);
            probs_cpu.copy_data(&mut self.probs_host, (rows * a_dim as i64) as usize);
            hidden.push(std::mem::replace(&mut h, h_next));
            probs_t.push(probs);
            for r in 0..b * n {
                let p = &self.probs_host[r * a_dim..(r + 1) * a_dim];
                let u = match selection {
                    ActionSelection::Greedy => argmax(p),
                    ActionSelection::Sample { .. } => sample(p, &mut self.rng),
                };
                self.step_actions[r] = u;
                self.actions[t * b * n + r] = u as i64;
            }
            if self.envs.all_done() {
                break; // slot t holds the bootstrap step
            }
            for e in 0..b {
                self.mask[t * b + e] = f32::from(u8::from(self.envs.active()[e]));
            }
            self.envs.step(&self.step_actions);
            for e in 0..b {
                if self.mask[t * b + e] > 0.0 {
                    let r = self.envs.rewards()[e];
                    self.reward[t * b + e] = r as f32;
                    if let (Some(dst), Some(src)) = (&mut self.agent_reward, self.envs.agent_rewards()) {
                        for i in 0..n {
                            dst[(t * b + e) * n + i] = src[e * n + i] as f32;
                        }
                    }
                    self.terminated[t * b + e] = f32::from(u8::from(self.envs.terminated()[e]));
                    returns[e] += r;
                    lengths[e] += 1;
                }
            }
            t += 1;
        }
        self.to_batch(t, hidden, probs_t, returns, lengths)
    }

    /// Copies the environments' current outputs into slot `t` and builds
    /// the actor inputs there (previous action from slot `t - 1`).
    fn record_observation(&mut self, t: usize) {
        let d = self.envs.dims();
        let (b, n, in_dim) = (self.envs.len(), d.n_agents, self.spec.input_dim());
        let copy = |dst: &mut Vec<f32>, src: &[f32]| {
            let len = src.len();
            dst[t * len..(t + 1) * len].copy_from_slice(src);
        };
        copy(&mut self.obs, self.envs.obs());
        copy(&mut self.state, self.envs.state());
        copy(&mut self.avail, self.envs.avail());
        for e in 0..b {
            for i in 0..n {
                let r = e * n + i;
                let prev = (t > 0).then(|| self.actions[(t - 1) * b * n + r] as usize);
                let obs = &self.envs.obs()[r * d.obs_dim..(r + 1) * d.obs_dim];
                let out = &mut self.inputs[(t * b * n + r) * in_dim..(t * b * n + r + 1) * in_dim];
                // Dimensions were checked against the spec in `new`.
                self.spec.write_input(obs, prev, i, out).expect("rollout buffers match the actor spec");
            }
        }
    }

    fn to_batch(
        &self,
        t_len: usize,
        hidden: Vec<Tensor>,
        probs: Vec<Tensor>,
        returns: Vec<f64>,
        lengths: Vec<usize>,
    ) -> EpisodeBatch {
        let d = self.envs.dims();
        let (b, n) = (self.envs.len() as i64, d.n_agents as i64);
        let (t, t1) = (t_len as i64, t_len as i64 + 1);
        let dev = self.device;
        let take = |buf: &[f32], steps: i64, shape: &[i64]| {
            let per: i64 = shape.iter().product();
            let mut full = vec![steps];
            full.extend_from_slice(shape);
            Tensor::from_slice(&buf[..(steps * per) as usize]).view(full.as_slice()).to_device(dev)
        };
        let in_dim = self.spec.input_dim() as i64;
        EpisodeBatch {
            inputs: take(&self.inputs, t1, &[b, n, in_dim]),
            hidden: Tensor::stack(&hidden, 0).view([t1, b, n, -1]),
            obs: take(&self.obs, t1, &[b, n, d.obs_dim as i64]),
            state: take(&self.state, t1, &[b, d.state_dim as i64]),
            avail: take(&self.avail, t1, &[b, n, d.n_actions as i64]),
            actions: Tensor::from_slice(&self.actions[..(t1 * b * n) as usize]).view([t1, b, n]).to_device(dev),
            probs: Tensor::stack(&probs, 0).view([t1, b, n, -1]),
            reward: take(&self.reward, t, &[b]),
            agent_reward: self.agent_reward.as_deref().map(|r| take(r, t, &[b, n])),
            terminated: take(&self.terminated, t, &[b]),
            mask: take(&self.mask, t1, &[b]),
            wins: self.envs.won().map(<[bool]>::to_vec).unwrap_or_default(),
            returns,
            lengths,
            first_step: 0,
        }
    }
}

/// Index of the largest probability (first on ties).
fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}

/// Draws an index with probability proportional to `p`.
fn sample(p: &[f32], rng: &mut impl Rng) -> usize {
    let total: f32 = p.iter().sum();
    let mut u = rng.random::<f32>() * total;
    for (i, &v) in p.iter().enumerate() {
        if u < v {
            return i;
        }
        u -= v;
    }
    // Rounding left u just above the last positive entry.
    p.iter().rposition(|&v| v > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::ActorOptions;
    use crate::env::{PredatorPrey, PredatorPreyConfig, Spread, SpreadConfig};
    use tch::nn;

    fn actor_for(env: &impl Environment, vs: &nn::VarStore) -> Actor {
        let spec =
            ActorSpec { obs_dim: env.obs_dim(), n_actions: env.n_actions(), n_agents: env.n_agents(), hidden: 16 };
        Actor::new(
            &vs.root(),
            spec,
            ActorOptions {
                input_layer_norm: false,
                orthogonal_init: false,
                head_layer: false,
                observation_only: false,
            },
        )
    }

    #[test]
    fn sampling_follows_the_probabilities() {
        let mut rng = Pcg64::seed_from_u64(3);
        let p = [0.1f32, 0.0, 0.6, 0.3];
        let mut counts = [0usize; 4];
        for _ in 0..20_000 {
            counts[sample(&p, &mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        for (c, want) in counts.iter().zip(p) {
            assert!((*c as f32 / 20_000.0 - want).abs() < 0.015, "{counts:?}");
        }
        assert_eq!(argmax(&p), 2);
    }

    #[test]
    fn hidden_state_is_reset_at_every_episode_start() {
        tch::manual_seed(1);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let envs = VecEnv::new(vec![Spread::new(SpreadConfig::default()); 4]).unwrap();
        let actor = actor_for(&envs.envs()[0], &vs);
        let mut rollout = Rollout::new(envs, actor.spec(), 9, tch::Device::Cpu).unwrap();
        let first = rollout.collect(&actor, ActionSelection::Sample { epsilon: 0.0 });
        let second = rollout.collect(&actor, ActionSelection::Sample { epsilon: 0.0 });
        // The state fed at t = 0 is zero in both batches, though the first
        // batch ended with a non-zero state.
        assert_eq!(f64::try_from(second.hidden.get(0).abs().max()).unwrap(), 0.0);
        assert!(f64::try_from(first.hidden.get(25).abs().max()).unwrap() > 1e-3);
        // And the recorded policy at t = 0 is the policy of a fresh state.
        let x0 = second.inputs.get(0).view([12, -1]);
        let (logits, _) = actor.step(&x0, &actor.initial_hidden(12, tch::Device::Cpu));
        let fresh = masked_probs(&logits, &second.avail.get(0).view([12, -1]));
        let diff = f64::try_from((fresh - second.probs.get(0).view([12, -1])).abs().max()).unwrap();
        assert!(diff < 1e-6, "t = 0 policy differs from a fresh-state policy by {diff}");
    }

    #[test]
    fn training_unroll_reproduces_the_rollout_policy() {
        tch::manual_seed(2);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let envs = VecEnv::new(vec![Spread::new(SpreadConfig::default()); 3]).unwrap();
        let actor = actor_for(&envs.envs()[0], &vs);
        let mut rollout = Rollout::new(envs, actor.spec(), 4, tch::Device::Cpu).unwrap();
        let batch = rollout.collect(&actor, ActionSelection::Sample { epsilon: 0.0 });
        let (t1, rows) = (batch.max_len() + 1, 9);
        let logits =
            actor.unroll(&batch.inputs.view([t1, rows, -1]), &actor.initial_hidden(rows, tch::Device::Cpu), None);
        let probs = masked_probs(&logits, &batch.avail.view([t1, rows, -1]));
        let diff = f64::try_from((probs - batch.probs.view([t1, rows, -1])).abs().max()).unwrap();
        assert!(diff < 1e-5, "unroll differs from the rollout by {diff}");
        // Previous actions in the inputs are the actions taken one step earlier.
        let prev = batch.inputs.get(1).narrow(-1, 18, 5).argmax(-1, false);
        assert!(prev.equal(&batch.actions.get(0)));
        assert_eq!(batch.env_steps(), 75);
        assert_eq!(f64::try_from(batch.mask.sum(Kind::Float)).unwrap(), 75.0);
    }

    #[test]
    fn early_terminations_are_padded_and_masked() {
        tch::manual_seed(3);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let cfg = PredatorPreyConfig { episode_limit: 60, ..Default::default() };
        let envs = VecEnv::new(vec![PredatorPrey::new(cfg); 16]).unwrap();
        let actor = actor_for(&envs.envs()[0], &vs);
        let mut rollout = Rollout::new(envs, actor.spec(), 5, tch::Device::Cpu).unwrap();
        let batch = rollout.collect(&actor, ActionSelection::Sample { epsilon: 0.5 });
        let mask = Vec::<f32>::try_from(batch.mask.tr().contiguous().view([-1])).unwrap();
        let term = Vec::<f32>::try_from(batch.terminated.tr().contiguous().view([-1])).unwrap();
        let t = batch.max_len() as usize;
        let early = batch.lengths.iter().filter(|&&len| len < 60).count();
        assert!(early > 0, "no episode ended early: {:?}", batch.lengths);
        for (e, &len) in batch.lengths.iter().enumerate() {
            let m = &mask[e * (t + 1)..(e + 1) * (t + 1)];
            assert!(m[..len].iter().all(|&v| v == 1.0) && m[len..].iter().all(|&v| v == 0.0));
            // An episode cut short must carry the termination flag on its
            // last step and nowhere else; one that ran the full 60 steps may
            // or may not have ended in a capture on that very step (the
            // limit is a truncation, not a termination), but never earlier.
            let tm = &term[e * t..(e + 1) * t];
            let flags = tm.iter().sum::<f32>();
            if len < 60 {
                assert_eq!(flags, 1.0, "episode {e} ended at step {len} without a termination flag");
            } else {
                assert!(flags <= 1.0, "episode {e}: {flags} termination flags");
            }
            if flags > 0.0 {
                assert_eq!(tm[len - 1], 1.0, "episode {e}: termination flag not on its last step");
            }
        }
    }
}
