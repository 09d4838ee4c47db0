//! What a payload the agent must refuse costs it: decoding and refusing
//! junk bytes, a truncated observation, the largest observation the wire
//! carries for another team, a replay of the last step and an observation
//! of an earlier coordinator session. None of them is answered; each
//! costs one bounded decode (payloads longer than the wire's largest
//! message fail at their first oversized length).
//!
//! `cargo bench --bench junk_refusal` (see docs/benchmarks.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use murmur::export::{export, ModelFormat, VerifySettings};
use murmur::runtime::agent::{Agent, AgentConfig, NoActuator};
use murmur::runtime::policy::NanoPolicy;
use murmur::runtime::wire::{ObservationMsg, MAX_MESSAGE_BYTES, MAX_OBS, WIRE_VERSION};
use murmur::runtime::ActorSpec;
use murmur::train::actor::{Actor, ActorOptions};
use murmur::train::checkpoint::{self, CheckpointMeta};

const SPEC: ActorSpec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 64 };

fn nano_blob() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    tch::manual_seed(1);
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let options =
        ActorOptions { input_layer_norm: false, orthogonal_init: false, head_layer: false, observation_only: false };
    let _actor = Actor::new(&vs.root(), SPEC, options);
    let meta = CheckpointMeta::untrained(SPEC, options, "spread");
    let ckpt = checkpoint::save(&dir.path().join("checkpoints"), &vs, &[], meta).expect("checkpoint");
    let nano = dir.path().join("actor.nano");
    export(&ckpt, &nano, ModelFormat::Nano, VerifySettings::default()).expect("nano export");
    std::fs::read(nano).expect("nano blob")
}

fn observation(session: u64, episode: u64, step: u32, obs_dim: usize) -> Vec<u8> {
    let msg = ObservationMsg {
        version: WIRE_VERSION,
        session,
        episode,
        step,
        reset: step == 0,
        obs: heapless::Vec::from_slice(&vec![0.25; obs_dim]).expect("fits"),
        avail: heapless::Vec::from_slice(&[1.0; 5]).expect("fits"),
    };
    msg.encode(&mut [0u8; MAX_MESSAGE_BYTES]).expect("encodes").to_vec()
}

fn main() {
    let blob = nano_blob();
    let policy = NanoPolicy::new(&blob, 0).expect("nano policy");
    let cfg = AgentConfig { safe_action: 0, stale_after: Duration::from_millis(500) };
    let mut agent = Agent::new(policy, NoActuator, cfg, [0; 32]).expect("agent");
    let now = Instant::now();
    // The agent is in session 5, episode 1, step 3.
    for step in 0..4 {
        assert!(agent.on_observation(&observation(5, 1, step, SPEC.obs_dim), now).is_some());
    }
    let good = observation(5, 1, 4, SPEC.obs_dim);
    let mut junk = vec![0u8; 64];
    for (i, b) in junk.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151).wrapping_add(7);
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random bytes (64 B)", junk),
        ("truncated observation", good[..good.len() / 2].to_vec()),
        ("another team's largest observation (1024 values)", observation(5, 1, 9, MAX_OBS)),
        ("replay of the last step", observation(5, 1, 3, SPEC.obs_dim)),
        ("earlier session", observation(4, 9, 0, SPEC.obs_dim)),
        ("one megabyte of junk", vec![0xff; 1 << 20]),
    ];
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("junk_refusal");
    for (name, payload) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                let answer = agent.on_observation(black_box(payload), now);
                assert!(answer.is_none(), "{name} was answered");
            })
        });
    }
    group.finish();
    c.final_summary();
    let e = agent.errors();
    println!(
        "refused: {} malformed, {} replayed, {} out of order, {} wrong session; none answered",
        e.malformed, e.replayed, e.out_of_order, e.wrong_session
    );
}
