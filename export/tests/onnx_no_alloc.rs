//! The ONNX policy's steady-state step makes no heap allocation on the
//! Rust side (ONNX Runtime's own C++ buffers are bound once at load).

use murmur_alloc_probe::{allocations_in, CountingAllocator};
use murmur_export::{export_onnx, ActorSpec, VerifySettings};
use murmur_runtime::policy::OnnxPolicy;
use murmur_runtime::Policy;
use murmur_train::actor::{Actor, ActorOptions};
use murmur_train::checkpoint::{self, CheckpointMeta};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn onnx_steps_allocate_nothing_after_warm_up() {
    let spec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 64 };
    let dir = tempfile::tempdir().unwrap();
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let options =
        ActorOptions { input_layer_norm: true, orthogonal_init: true, head_layer: false, observation_only: false };
    let _actor = Actor::new(&vs.root(), spec, options);
    let meta = CheckpointMeta::untrained(spec, options, "random");
    let ckpt = checkpoint::save(&dir.path().join("checkpoints"), &vs, &[], meta).unwrap();
    let model = dir.path().join("actor.onnx");
    export_onnx(&ckpt, &model, VerifySettings { sequences: 4, ..Default::default() }).unwrap();
    let mut policy = OnnxPolicy::load(&model, 2).unwrap();
    let obs: Vec<Vec<f32>> = (0..8).map(|k| (0..18).map(|i| ((k * 5 + i) % 7) as f32 * 0.4 - 1.0).collect()).collect();
    let avail = [1.0f32, 0.0, 1.0, 1.0, 1.0];
    let mut steps = |from: usize, to: usize| {
        for t in from..to {
            if t % 25 == 0 {
                policy.reset();
            }
            std::hint::black_box(policy.step(&obs[t % obs.len()], &avail).unwrap().action);
        }
    };
    steps(0, 50);
    let n = allocations_in(|| steps(50, 1_050));
    assert_eq!(n, 0, "{n} heap allocations in 1,000 steady-state ONNX steps");
}
