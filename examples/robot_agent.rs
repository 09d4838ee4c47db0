//! Embed murmur's runtime in your robot's program: your sensors in, your
//! motor driver out, the exported actor and the failsafes in between.
//!
//! ```text
//! cargo run --release --example robot_agent -- actor.onnx 0     # an exported actor, agent 0
//! cargo run --release --example robot_agent                     # a demo actor (random weights)
//! ```
//!
//! The loop below is what a robot does every control period: read its
//! sensors into an observation message (here built locally; on a swarm the
//! coordinator publishes it over Zenoh), hand the bytes to the agent, and
//! let the `Actuator` drive the motors. A corrupt message is not answered
//! at all; a silent coordinator (or one drowned in junk) makes the agent
//! send the safe action.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use murmur::runtime::agent::{Actuator, Agent, AgentConfig, Command};
use murmur::runtime::policy::OnnxPolicy;
use murmur::runtime::wire::{ObservationMsg, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur::runtime::Policy;

/// Your motor driver. Here it prints what it would do.
struct Wheels;

impl Actuator for Wheels {
    fn command(&mut self, c: &Command) {
        let motion = ["stay", "left", "right", "down", "up"].get(c.action).unwrap_or(&"?");
        println!("  step {:2}: {motion:5} ({:?})", c.step, c.source);
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (model, agent_id) = match args.get(1) {
        Some(path) => (PathBuf::from(path), args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(0)),
        None => (demo_actor()?, 0),
    };

    // The few lines an integrator writes:
    let policy = OnnxPolicy::load(&model, agent_id)?;
    let spec = policy.spec();
    let failsafe = AgentConfig { safe_action: 0, stale_after: Duration::from_millis(200) };
    let mut agent = Agent::new(policy, Wheels, failsafe, [0; 32])?;

    println!("{} (agent {agent_id}, {} observations, {} actions):", model.display(), spec.obs_dim, spec.n_actions);
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    for step in 0..8u32 {
        let obs: Vec<f32> = (0..spec.obs_dim).map(|i| ((step as usize * 3 + i) % 7) as f32 * 0.2 - 0.6).collect();
        let msg = ObservationMsg {
            version: WIRE_VERSION,
            session: 1,
            episode: 1,
            step,
            reset: step == 0,
            obs: heapless::Vec::from_slice(&obs).map_err(|_| anyhow::anyhow!("observation too long"))?,
            avail: heapless::Vec::from_slice(&vec![1.0; spec.n_actions])
                .map_err(|_| anyhow::anyhow!("too many actions"))?,
        };
        let mut bytes = msg.encode(&mut buf)?.to_vec();
        if step == 5 {
            bytes.truncate(bytes.len() / 2); // a corrupted message: not answered, not acted on
        }
        agent.on_observation(&bytes, Instant::now());
    }
    // The coordinator goes silent: after `stale_after` the safe action, once.
    let silent_since = Instant::now();
    while agent.on_tick(Instant::now()).is_none() && silent_since.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("errors counted: {:?}", agent.errors());
    Ok(())
}

/// A randomly initialised spread-sized actor, exported to a temporary file.
fn demo_actor() -> anyhow::Result<PathBuf> {
    use murmur::train::actor::{Actor, ActorOptions};
    use murmur::train::checkpoint::{self, CheckpointMeta};

    let spec = murmur::runtime::ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 64 };
    let options =
        ActorOptions { input_layer_norm: false, orthogonal_init: false, head_layer: false, observation_only: false };
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let _actor = Actor::new(&vs.root(), spec, options);
    let dir = std::env::temp_dir().join(format!("murmur-robot-agent-{}", std::process::id()));
    let meta = CheckpointMeta::untrained(spec, options, "spread");
    let ckpt = checkpoint::save(&dir.join("checkpoints"), &vs, &[], meta)?;
    let out = dir.join("demo_actor.onnx");
    murmur::export::export_onnx(&ckpt, &out, Default::default())?;
    println!("(no model given: exported a demo actor with random weights)");
    Ok(out)
}
