//! A counting global allocator proves the hot path allocation-free: after
//! warm-up, nano policy steps (with episode resets) and wire-message
//! encoding and decoding make zero heap allocations.

use murmur_alloc_probe::{allocations_in, CountingAllocator};
use murmur_runtime::policy::nano::{FORMAT_VERSION, MAGIC};
use murmur_runtime::policy::NanoPolicy;
use murmur_runtime::wire::{ActionMsg, ActionSource, ObservationMsg, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur_runtime::{ActorSpec, Policy};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const SPEC: ActorSpec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 64 };

/// A nano blob for SPEC with small pseudo-random weights.
fn blob() -> Vec<u8> {
    let mut out = Vec::from(MAGIC);
    for v in [FORMAT_VERSION, 18, 5, 3, 64, 0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let len = murmur_runtime::policy::nano::blob_len(&SPEC, 0);
    let mut k = 1u32;
    while out.len() < len - 4 {
        k = k.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        out.extend_from_slice(&((k >> 8) as f32 / (1u32 << 24) as f32 * 0.4 - 0.2).to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn steady_state_steps_and_messages_allocate_nothing() {
    let bytes = blob();
    let mut policy = NanoPolicy::new(&bytes, 1).unwrap();
    let obs: Vec<Vec<f32>> = (0..16).map(|k| (0..18).map(|i| ((k * 7 + i) % 9) as f32 * 0.3 - 1.0).collect()).collect();
    let avail = [1.0f32, 1.0, 0.0, 1.0, 1.0];
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    let mut obs_msg = ObservationMsg {
        version: WIRE_VERSION,
        session: 1,
        episode: 0,
        step: 0,
        reset: true,
        obs: heapless::Vec::from_slice(&obs[0]).unwrap(),
        avail: heapless::Vec::from_slice(&avail).unwrap(),
    };
    let mut act_msg = ActionMsg {
        version: WIRE_VERSION,
        session: 1,
        episode: 0,
        step: 0,
        action: 0,
        source: ActionSource::Policy,
        probs: heapless::Vec::new(),
        inference_us: 0,
        model_sha256: [0; 32],
    };
    let mut round = |t: usize| {
        if t.is_multiple_of(25) {
            policy.reset();
        }
        obs_msg.step = t as u32;
        obs_msg.obs.clear();
        obs_msg.obs.extend_from_slice(&obs[t % obs.len()]).unwrap();
        let wire_len = obs_msg.encode(&mut buf).unwrap().len();
        let received = ObservationMsg::decode(&buf[..wire_len], &SPEC).unwrap();
        let d = policy.step(&received.obs, &received.avail).unwrap();
        act_msg.step = received.step;
        act_msg.action = d.action as u16;
        act_msg.probs.clear();
        act_msg.probs.extend_from_slice(d.probs).unwrap();
        let wire_len = act_msg.encode(&mut buf).unwrap().len();
        let back = ActionMsg::decode(&buf[..wire_len], &SPEC).unwrap();
        assert_eq!(usize::from(back.action), d.action);
    };
    for t in 0..50 {
        round(t); // warm-up
    }
    let n = allocations_in(|| {
        for t in 50..1_050 {
            round(t);
        }
    });
    assert_eq!(n, 0, "{n} heap allocations in 1,000 steady-state rounds");
}
