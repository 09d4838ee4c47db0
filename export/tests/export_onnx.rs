//! Export round trips: random and trained actors to ONNX, verified against
//! the tch actor through the runtime's ONNX policy; gate order; bad
//! checkpoints; a client we did not write (Python onnxruntime).

use std::path::{Path, PathBuf};

use murmur_export::{export_onnx, graph, verify, ActorSpec, ExportError, VerifySettings};
use murmur_train::actor::{Actor, ActorOptions};
use murmur_train::checkpoint::{self, CheckpointMeta};
use tch::nn;

const SPEC: ActorSpec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 64 };

/// A checkpoint of a randomly initialised actor under `dir`.
fn random_checkpoint(dir: &Path, options: ActorOptions, seed: i64) -> PathBuf {
    // libtorch's generator is global: hold it while drawing so tests running
    // in parallel do not interleave draws and every run sees the same weights.
    static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _rng = TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(tch::Device::Cpu);
    let _actor = Actor::new(&vs.root(), SPEC, options);
    if options.input_layer_norm {
        // LayerNorm starts as the identity; make its parameters matter.
        tch::no_grad(|| {
            for (name, mut t) in vs.variables() {
                if name.starts_with("input_norm") {
                    t.copy_(&(t.randn_like() * 0.5 + 1.0));
                }
            }
        });
    }
    let meta = CheckpointMeta::untrained(SPEC, options, "random");
    checkpoint::save(&dir.join("checkpoints"), &vs, &[], meta).unwrap()
}

#[test]
fn random_actors_export_and_match_to_1e5() {
    let dir = tempfile::tempdir().unwrap();
    for (k, options) in [
        ActorOptions { input_layer_norm: false, orthogonal_init: false, head_layer: false, observation_only: false },
        ActorOptions { input_layer_norm: true, orthogonal_init: true, head_layer: false, observation_only: false },
        // JaxMARL's actor: a ReLU layer after the GRU, the observation only.
        ActorOptions { input_layer_norm: false, orthogonal_init: true, head_layer: true, observation_only: true },
    ]
    .into_iter()
    .enumerate()
    {
        let ckpt = random_checkpoint(&dir.path().join(format!("run{k}")), options, 7 + k as i64);
        let out = dir.path().join(format!("actor{k}.onnx"));
        let report = export_onnx(&ckpt, &out, VerifySettings::default()).unwrap();
        let v = report.verification;
        println!(
            "{options:?}: {} bytes, {} steps, max |dp| {:.2e}, max |dh| {:.2e}, {:.2} s",
            report.bytes, v.steps, v.max_prob_error, v.max_hidden_error, report.seconds
        );
        assert_eq!(v.steps, 64 * 50);
        assert!(v.max_prob_error <= 1e-5 && v.max_hidden_error <= 1e-5, "{v:?}");
        assert_eq!(v.masked_mass_violations, 0);
        assert_eq!(std::fs::metadata(&out).unwrap().len(), report.bytes);
    }
}

#[test]
fn a_gate_order_swap_fails_verification_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = random_checkpoint(
        dir.path(),
        ActorOptions { input_layer_norm: false, orthogonal_init: false, head_layer: false, observation_only: false },
        3,
    );
    let (vs, actor, meta) = checkpoint::load_actor(&ckpt).unwrap();
    let mut weights = murmur_export::actor_weights(&vs, SPEC, &ckpt).unwrap();
    // Swap PyTorch's r and z blocks: the file then computes z where r belongs.
    let h = SPEC.hidden;
    for p in weights.gru.iter_mut() {
        let row = p.values.len() / (3 * h);
        let swapped = graph::reorder_gates(&p.values, h, row);
        p.values = swapped;
    }
    let model = graph::actor_model(&weights, &murmur_export::metadata(&meta));
    let path = dir.path().join("swapped.onnx");
    std::fs::write(&path, prost::Message::encode_to_vec(&model)).unwrap();
    let err = verify::verify(&actor, &path, VerifySettings::default()).unwrap_err();
    assert!(matches!(err, ExportError::Mismatch(_)), "{err}");
    println!("{err}");
}

#[test]
fn corrupt_or_missing_checkpoints_are_clear_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = random_checkpoint(
        dir.path(),
        ActorOptions { input_layer_norm: false, orthogonal_init: false, head_layer: false, observation_only: false },
        5,
    );
    let out = dir.path().join("actor.onnx");
    std::fs::write(ckpt.join("actor.safetensors"), b"not a tensor file").unwrap();
    let err = export_onnx(&ckpt, &out, VerifySettings::default()).unwrap_err().to_string();
    assert!(err.contains("actor.safetensors") && err.contains("does not match"), "{err}");
    assert!(!out.exists());

    // A sidecar that does not match the weights (another network's dims).
    let other = random_checkpoint(
        &dir.path().join("other"),
        ActorOptions { input_layer_norm: false, orthogonal_init: false, head_layer: false, observation_only: false },
        6,
    );
    let sidecar = other.join("checkpoint.json");
    let text = std::fs::read_to_string(&sidecar).unwrap().replace("\"hidden\": 64", "\"hidden\": 32");
    std::fs::write(&sidecar, text).unwrap();
    let err = export_onnx(&other, &out, VerifySettings::default()).unwrap_err().to_string();
    assert!(err.contains("actor.safetensors") && err.contains("has shape"), "{err}");
    assert!(!out.exists());

    let err = murmur_export::resolve_checkpoint(&dir.path().join("nowhere"), None).unwrap_err().to_string();
    assert!(err.contains("nowhere") && err.contains("no checkpoint yet"), "{err}");
    let err = murmur_export::resolve_checkpoint(dir.path(), Some(Path::new("step_42"))).unwrap_err().to_string();
    assert!(err.contains("step_42") && err.contains("not a checkpoint directory"), "{err}");
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(leftovers.iter().all(|f| !f.contains("onnx")), "{leftovers:?}");
}

#[test]
fn a_trained_actor_exports_and_matches() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = murmur_train::config::Config::parse(
        "learner = \"mappo\"\nt_max = 5_000\nbatch_episodes = 8\neval_interval = 0\nsave_interval = 0\n[env]\nname = \"spread\"\n",
        "test",
        &[],
    )
    .unwrap();
    let mut trainer = murmur_train::trainer::Trainer::new(cfg).unwrap();
    trainer.attach_run_dir(dir.path(), false).unwrap();
    trainer.train(|_| {}).unwrap();
    let ckpt = murmur_export::resolve_checkpoint(dir.path(), None).unwrap();
    let out = dir.path().join("actor.onnx");
    let report = export_onnx(&ckpt, &out, VerifySettings::default()).unwrap();
    assert_eq!(report.meta.learner, "mappo");
    assert!(report.meta.env_steps >= 5_000, "{}", report.meta.env_steps);
    let v = report.verification;
    println!(
        "trained MAPPO actor: {} bytes, max |dp| {:.2e}, max |dh| {:.2e}",
        report.bytes, v.max_prob_error, v.max_hidden_error
    );
    assert!(v.max_prob_error <= 1e-5 && v.max_hidden_error <= 1e-5, "{v:?}");
}

#[test]
fn nano_blobs_match_the_actor_and_agree_with_the_onnx_file() {
    use murmur_runtime::policy::{NanoPolicy, OnnxPolicy};
    use murmur_runtime::Policy;
    use rand::{Rng, SeedableRng};

    let dir = tempfile::tempdir().unwrap();
    for (k, options) in [
        ActorOptions { input_layer_norm: false, orthogonal_init: false, head_layer: false, observation_only: false },
        ActorOptions { input_layer_norm: true, orthogonal_init: true, head_layer: false, observation_only: false },
        // JaxMARL's actor: a ReLU layer after the GRU, the observation only.
        ActorOptions { input_layer_norm: false, orthogonal_init: true, head_layer: true, observation_only: true },
    ]
    .into_iter()
    .enumerate()
    {
        let ckpt = random_checkpoint(&dir.path().join(format!("run{k}")), options, 40 + k as i64);
        let nano = dir.path().join(format!("actor{k}.nano"));
        let report = murmur_export::export_nano(&ckpt, &nano, VerifySettings::default()).unwrap();
        let v = report.verification;
        println!(
            "nano {options:?}: {} bytes, max |dp| {:.2e}, max |dh| {:.2e}, {:.2} s",
            report.bytes, v.max_prob_error, v.max_hidden_error, report.seconds
        );
        assert!(v.max_prob_error <= 1e-5 && v.max_hidden_error <= 1e-5, "{v:?}");
        use murmur_runtime::policy::nano::{blob_len, FLAG_HEAD_LAYER, FLAG_INPUT_LAYER_NORM};
        let flags = [(options.input_layer_norm, FLAG_INPUT_LAYER_NORM), (options.head_layer, FLAG_HEAD_LAYER)]
            .iter()
            .filter(|(on, _)| *on)
            .fold(0, |f, (_, bit)| f | bit);
        assert_eq!(report.bytes as usize, blob_len(&SPEC, flags));

        // The two runtimes side by side on the same random sequences.
        let onnx = dir.path().join(format!("actor{k}.onnx"));
        export_onnx(&ckpt, &onnx, VerifySettings::default()).unwrap();
        let blob = std::fs::read(&nano).unwrap();
        let mut rng = rand_pcg::Pcg64::seed_from_u64(k as u64);
        let (mut dp, mut dh) = (0f32, 0f32);
        for _ in 0..64 {
            let agent = rng.random_range(0..SPEC.n_agents);
            let mut a = OnnxPolicy::load(&onnx, agent).unwrap();
            let mut b = NanoPolicy::new(&blob, agent).unwrap();
            for step in 0..50 {
                if step > 0 && rng.random_bool(0.1) {
                    a.reset();
                    b.reset();
                }
                let obs: Vec<f32> = (0..SPEC.obs_dim).map(|_| rng.random_range(-3.0..3.0)).collect();
                let mut avail: Vec<f32> =
                    (0..SPEC.n_actions).map(|_| f32::from(u8::from(rng.random_bool(0.7)))).collect();
                avail[rng.random_range(0..SPEC.n_actions)] = 1.0;
                let (pa, act_a) = {
                    let d = a.step(&obs, &avail).unwrap();
                    (d.probs.to_vec(), d.action)
                };
                let d = b.step(&obs, &avail).unwrap();
                for (x, y) in pa.iter().zip(d.probs) {
                    dp = dp.max((x - y).abs());
                }
                assert_eq!(act_a, d.action, "the two runtimes chose different actions");
                for (x, y) in a.hidden().iter().zip(b.hidden()) {
                    dh = dh.max((x - y).abs());
                }
            }
        }
        println!("onnx vs nano {options:?}: max |dp| {dp:.2e}, max |dh| {dh:.2e}");
        assert!(dp <= 1e-5 && dh <= 1e-5, "onnx and nano differ by {dp:e} (probs), {dh:e} (hidden)");
    }
}
