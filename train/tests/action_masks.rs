//! No learner ever samples or credits an unavailable action: on a task whose
//! masks change every step and forbid the action that would pay most, every
//! learner's rollouts never take a masked action, its policy puts exactly 0
//! on masked actions before and after its updates, and so no update can
//! assign a masked action probability (the credit an advantage would give);
//! and every learner's updates still move its greedy policy towards the
//! best allowed action. (Online learners: offline ones learn from a
//! dataset, and their masking is tested beside them.)

use murmur_runtime::ActorSpec;
use murmur_train::actor::{Actor, ActorOptions};
use murmur_train::config::Config;
use murmur_train::env::{Environment, StepOutcome, VecEnv};
use murmur_train::learner::{self, registry};
use murmur_train::rollout::{ActionSelection, Rollout};
use tch::{nn, Kind};

const AGENTS: usize = 3;
const ACTIONS: usize = 4;
const STEPS: usize = 6;

/// Each step, agent i may not take action `(t + i) % 4`; the team earns 1
/// per agent on action 3 and would earn 5 for a masked action (it panics
/// instead, so a violation cannot pass unnoticed).
#[derive(Clone, Default)]
struct ShiftingMasks {
    t: usize,
}

impl ShiftingMasks {
    fn forbidden(&self, agent: usize) -> usize {
        (self.t + agent) % ACTIONS
    }
}

impl Environment for ShiftingMasks {
    fn n_agents(&self) -> usize {
        AGENTS
    }
    fn obs_dim(&self) -> usize {
        ACTIONS
    }
    fn state_dim(&self) -> usize {
        1
    }
    fn n_actions(&self) -> usize {
        ACTIONS
    }
    fn episode_limit(&self) -> usize {
        STEPS
    }
    fn reset(&mut self, _seed: u64) {
        self.t = 0;
    }
    fn step(&mut self, actions: &[usize]) -> StepOutcome {
        let mut reward = 0.0;
        for (i, &a) in actions.iter().enumerate() {
            assert_ne!(a, self.forbidden(i), "agent {i} took masked action {a} at step {}", self.t);
            reward += f64::from(u8::from(a == 3));
        }
        self.t += 1;
        StepOutcome { reward, terminated: false, truncated: self.t == STEPS }
    }
    fn write_obs(&self, agent: usize, out: &mut [f32]) {
        out.fill(0.0);
        out[self.forbidden(agent)] = 1.0;
    }
    fn write_state(&self, out: &mut [f32]) {
        out[0] = self.t as f32 / STEPS as f32;
    }
    fn write_avail_actions(&self, agent: usize, out: &mut [f32]) {
        out.fill(1.0);
        out[self.forbidden(agent)] = 0.0;
    }
}

#[test]
fn no_learner_samples_or_credits_a_masked_action() {
    tch::manual_seed(3);
    let (mut shares, mut least_gain) = (vec![], 1.0f64);
    for name in registry::online().map(|k| k.name) {
        let cfg = Config::parse(&format!("learner = \"{name}\"\nbatch_episodes = 8"), "test", &[]).unwrap();
        let envs = VecEnv::new(vec![ShiftingMasks::default(); cfg.batch_episodes]).unwrap();
        let dims = envs.dims();
        let spec = ActorSpec { obs_dim: ACTIONS, n_actions: ACTIONS, n_agents: AGENTS, hidden: 16 };
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let options = ActorOptions {
            input_layer_norm: cfg.actor.input_layer_norm.unwrap_or(false),
            orthogonal_init: cfg.actor.orthogonal_init.unwrap_or(false),
            head_layer: false,
            observation_only: false,
        };
        let actor = Actor::new(&vs.root(), spec, options);
        let mut learner = learner::build(&cfg, &vs, dims, tch::Device::Cpu).unwrap();
        let mut rollout = Rollout::new(envs, spec, 7, tch::Device::Cpu).unwrap();
        let greedy_share_of_3 = |rollout: &mut Rollout<ShiftingMasks>| {
            let batch = rollout.collect(&actor, ActionSelection::Greedy);
            let takes_3 = batch.actions.narrow(0, 0, STEPS as i64).eq(3).to_kind(Kind::Float).mean(Kind::Float);
            takes_3.double_value(&[])
        };
        let before = greedy_share_of_3(&mut rollout);
        let mut steps = 0;
        for update in 0..15 {
            let epsilon = learner.exploration(steps);
            let batch = rollout.collect(&actor, ActionSelection::Sample { epsilon }); // the env panics on a violation
            let t = batch.max_len();
            let masked = (batch.avail.narrow(0, 0, t).neg() + 1.0) * batch.mask.narrow(0, 0, t).view([t, -1, 1, 1]);
            let on_masked = (batch.probs.narrow(0, 0, t) * &masked).abs().sum(Kind::Double).double_value(&[]);
            assert_eq!(on_masked, 0.0, "{name}, update {update}: probability on masked actions");
            learner.update(&actor, &batch, steps).unwrap();
            steps += batch.env_steps();
        }
        // The updates moved the policy towards action 3 wherever it is
        // allowed (14 of an episode's 18 agent-steps; the environment
        // panics on the other 4).
        let after = greedy_share_of_3(&mut rollout);
        eprintln!("{name}: greedy share of action 3: {before:.2} before, {after:.2} after 15 updates");
        shares.push(format!("{name} {before:.2} -> {after:.2}"));
        least_gain = least_gain.min(after - before);
    }
    // Measured (seed 3): coma 0.44 -> 0.78, mappo 0.00 -> 0.78, lica 0.17 ->
    // 0.78, seca 0.28 -> 0.78, maca 0.39 -> 0.78, mae 0.28 -> 0.44 (its
    // actor's learning rate is 5e-5); 0.78 is the most there is.
    eprintln!("greedy share of action 3 before -> after 15 updates: {}", shares.join(", "));
    assert!(
        least_gain >= 0.1,
        "a learner's greedy share of action 3 rose by only {least_gain:.2}: {}",
        shares.join(", ")
    );
}
