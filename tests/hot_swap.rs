//! Model hot swap end to end: `murmur deploy` sends a new model to a
//! running `murmur agent` process over Zenoh; the agent finishes the episode
//! on the old model and starts the next one on the new; models with a wrong
//! hash, another team's dimensions or unreadable bytes are refused and the
//! running model stays. An agent that trusts an operator's key runs only
//! models that operator signed, each issued after the last.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use murmur::export::{export, VerifySettings};
use murmur::runtime::keys;
use murmur::runtime::model_signing::ModelSigner;
use murmur::runtime::model_update::model_message;
use murmur::runtime::policy::OnnxPolicy;
use murmur::runtime::wire::{ActionMsg, ModelFormat, ModelMsg, ObservationMsg, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur::runtime::{ActorSpec, Policy};
use murmur::train::actor::{Actor, ActorOptions};
use murmur::train::checkpoint::{self, CheckpointMeta};
use sha2::{Digest, Sha256};
use zenoh::Wait;

mod common;
use common::{free_endpoint, murmur_command, session_to, spawn_agent, Running};

const SPEC: ActorSpec = ActorSpec { obs_dim: 6, n_actions: 4, n_agents: 2, hidden: 16 };

fn exported(dir: &Path, name: &str, spec: ActorSpec, seed: i64) -> PathBuf {
    tch::manual_seed(seed);
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let options =
        ActorOptions { input_layer_norm: false, orthogonal_init: false, head_layer: false, observation_only: false };
    let _actor = Actor::new(&vs.root(), spec, options);
    let ckpt = checkpoint::save(&dir.join(name), &vs, &[], CheckpointMeta::untrained(spec, options, "test")).unwrap();
    let out = dir.join(format!("{name}.onnx"));
    export(&ckpt, &out, ModelFormat::Onnx, VerifySettings { sequences: 4, ..Default::default() }).unwrap();
    out
}

fn sha(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// A `murmur agent` process running `model` as robot `id` of `swarm`,
/// with `network` (its --listen / --connect arguments).
fn agent(model: &Path, swarm: &str, id: &str, network: &[&str]) -> Running {
    let mut args = vec!["--stale-after", "5000"];
    args.extend_from_slice(network);
    spawn_agent(model, swarm, id, &args)
}

/// Waits (60 s at most) until a liveliness token is declared on `key`.
fn wait_for_token(session: &zenoh::Session, key: &str) {
    let start = Instant::now();
    while session.liveliness().get(key).wait().unwrap().recv_timeout(Duration::from_secs(1)).ok().flatten().is_none() {
        assert!(start.elapsed() < Duration::from_secs(60), "the agent never came up");
    }
}

#[test]
fn a_deployed_model_takes_over_at_the_next_episode_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model_a = exported(dir.path(), "a", SPEC, 1);
    let model_b = exported(dir.path(), "b", SPEC, 2);
    let other_team = exported(dir.path(), "c", ActorSpec { obs_dim: 7, ..SPEC }, 3);
    let endpoint = free_endpoint();
    let swarm = format!("swap{}", std::process::id());
    let _agent = agent(&model_a, &swarm, "1", &["--listen", &endpoint]);
    let session = session_to(&endpoint);
    let base = format!("murmur/{swarm}/agent/1");
    wait_for_token(&session, &base);
    let observations = session.declare_publisher(format!("{base}/obs")).wait().unwrap();
    let actions = session.declare_subscriber(format!("{base}/act")).wait().unwrap();
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    let mut ask = |episode: u64, step: u32| -> ActionMsg {
        let obs: Vec<f32> = (0..SPEC.obs_dim).map(|i| ((i as u32 * 7 + step * 3) % 5) as f32 * 0.4 - 0.8).collect();
        let msg = ObservationMsg {
            version: WIRE_VERSION,
            session: 1,
            episode,
            step,
            reset: step == 0,
            obs: heapless::Vec::from_slice(&obs).unwrap(),
            avail: heapless::Vec::from_slice(&[1.0; 4]).unwrap(),
        };
        observations.put(msg.encode(&mut buf).unwrap().to_vec()).wait().unwrap();
        let sample = actions.recv_timeout(Duration::from_secs(10)).unwrap().expect("an answer");
        ActionMsg::decode(&sample.payload().to_bytes(), &SPEC).unwrap()
    };
    let obs_of = |step: u32| -> Vec<f32> {
        (0..SPEC.obs_dim).map(|i| ((i as u32 * 7 + step * 3) % 5) as f32 * 0.4 - 0.8).collect()
    };
    let mut local_a = OnnxPolicy::load(&model_a, 1).unwrap();
    for step in 0..3 {
        let reply = ask(1, step);
        let expected = local_a.step(&obs_of(step), &[1.0; 4]).unwrap();
        assert_eq!(reply.model_sha256, sha(&model_a));
        assert!(reply.probs.iter().zip(expected.probs).all(|(x, y)| (x - y).abs() < 1e-6));
    }

    let deploy = |model: &Path| {
        let out = murmur_command()
            .args(["deploy", "--model"])
            .arg(model)
            .args(["--swarm", &swarm, "--connect", &endpoint])
            .output()
            .unwrap();
        assert!(out.status.success(), "deploy failed: {}", String::from_utf8_lossy(&out.stderr));
        println!("{}", String::from_utf8_lossy(&out.stdout).trim());
    };
    // Deploy B with the CLI, mid-episode.
    deploy(&model_b);
    std::thread::sleep(Duration::from_millis(3000)); // loading happens beside the running model

    // The episode finishes on A...
    let reply = ask(1, 3);
    let expected = local_a.step(&obs_of(3), &[1.0; 4]).unwrap();
    assert_eq!(reply.model_sha256, sha(&model_a), "switched mid-episode");
    assert!(reply.probs.iter().zip(expected.probs).all(|(x, y)| (x - y).abs() < 1e-6));
    // ...and the next one starts on B.
    let mut local_b = OnnxPolicy::load(&model_b, 1).unwrap();
    let reply = ask(2, 0);
    let expected = local_b.step(&obs_of(0), &[1.0; 4]).unwrap();
    assert_eq!(reply.model_sha256, sha(&model_b), "the new model did not take over");
    assert!(reply.probs.iter().zip(expected.probs).all(|(x, y)| (x - y).abs() < 1e-6));

    // Refused: another team's model, a wrong hash, bytes that are no model.
    deploy(&other_team);
    let bytes = std::fs::read(&model_a).unwrap();
    let unsigned = |sha256: [u8; 32], model: &'static [u8]| ModelMsg {
        version: WIRE_VERSION,
        sha256,
        spec: SPEC,
        format: ModelFormat::Onnx,
        issued: 1,
        signer: [0; 32],
        signature: &[],
        model,
    };
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let tampered = unsigned([0; 32], bytes);
    let garbage = b"not an onnx file at all";
    let garbage_msg = unsigned(Sha256::digest(garbage).into(), garbage);
    for msg in [tampered, garbage_msg] {
        let mut out = vec![0u8; ModelMsg::max_encoded_len(msg.model.len())];
        let payload = msg.encode(&mut out).unwrap().to_vec();
        session.put(keys::model(&swarm), payload).wait().unwrap();
    }
    std::thread::sleep(Duration::from_millis(3000));
    let reply = ask(3, 0);
    assert_eq!(reply.model_sha256, sha(&model_b), "a bad model replaced the running one");
    let _ = session.close().wait();
}

#[test]
fn an_agent_that_starts_after_a_held_deploy_runs_the_deployed_model() {
    let dir = tempfile::tempdir().unwrap();
    let model_a = exported(dir.path(), "a", SPEC, 1);
    let model_b = exported(dir.path(), "b", SPEC, 2);
    let (holder_endpoint, agent_endpoint) = (free_endpoint(), free_endpoint());
    let swarm = format!("hold{}", std::process::id());
    // B is deployed and held while no agent runs...
    let _holder = Running(
        murmur_command()
            .args(["deploy", "--hold", "--wait", "0", "--model"])
            .arg(&model_b)
            .args(["--swarm", &swarm, "--listen", &holder_endpoint])
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    // ...then a robot starts with the old file, A.
    let _agent = agent(&model_a, &swarm, "0", &["--listen", &agent_endpoint, "--connect", &holder_endpoint]);
    let session = session_to(&agent_endpoint);
    let base = format!("murmur/{swarm}/agent/0");
    let observations = session.declare_publisher(format!("{base}/obs")).wait().unwrap();
    let actions = session.declare_subscriber(format!("{base}/act")).wait().unwrap();
    let obs: Vec<f32> = (0..SPEC.obs_dim).map(|i| (i % 5) as f32 * 0.4 - 0.8).collect();
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    // Episode starts until the agent answers on B (it stages B when the
    // holder sees its token, and switches at the next episode start).
    let start = Instant::now();
    let reply = loop {
        assert!(start.elapsed() < Duration::from_secs(60), "the agent never switched to the held model");
        let episode = start.elapsed().as_millis() as u64;
        let msg = ObservationMsg {
            version: WIRE_VERSION,
            session: 1,
            episode,
            step: 0,
            reset: true,
            obs: heapless::Vec::from_slice(&obs).unwrap(),
            avail: heapless::Vec::from_slice(&[1.0; 4]).unwrap(),
        };
        observations.put(msg.encode(&mut buf).unwrap().to_vec()).wait().unwrap();
        match actions.recv_timeout(Duration::from_millis(500)) {
            Ok(Some(sample)) => {
                let reply = ActionMsg::decode(&sample.payload().to_bytes(), &SPEC).unwrap();
                if reply.model_sha256 == sha(&model_b) {
                    break reply;
                }
                assert_eq!(reply.model_sha256, sha(&model_a), "an answer from neither model");
            }
            _ => continue, // the agent is not up yet
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let expected = OnnxPolicy::load(&model_b, 0).unwrap().step(&obs, &[1.0; 4]).unwrap().probs.to_vec();
    assert!(reply.probs.iter().zip(&expected).all(|(x, y)| (x - y).abs() < 1e-6), "{:?} vs {expected:?}", reply.probs);
    let _ = session.close().wait();
}

#[test]
fn a_trusting_agent_runs_only_models_its_operator_signed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let model_a = exported(dir.path(), "a", SPEC, 1);
    let model_b = exported(dir.path(), "b", SPEC, 2);
    let model_c = exported(dir.path(), "c", SPEC, 4);
    let keys_dir = dir.path().join("keys");
    for name in ["operator", "stranger"] {
        let out = murmur_command().args(["keys", "signer"]).arg(&keys_dir).args(["--name", name]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = murmur_command().args(["keys", "signer"]).arg(&keys_dir).output().unwrap();
    assert!(!out.status.success(), "a signing key was overwritten");
    let endpoint = free_endpoint();
    let swarm = format!("signed{}", std::process::id());
    let trusted = keys_dir.join("operator.pub");
    let _agent = agent(&model_a, &swarm, "0", &["--listen", &endpoint, "--trust-model-key", trusted.to_str().unwrap()]);
    let session = session_to(&endpoint);
    let base = format!("murmur/{swarm}/agent/0");
    wait_for_token(&session, &base);
    let observations = session.declare_publisher(format!("{base}/obs")).wait().unwrap();
    let actions = session.declare_subscriber(format!("{base}/act")).wait().unwrap();
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    // The model that answers an episode start.
    let mut model_at = |episode: u64| -> [u8; 32] {
        let msg = ObservationMsg {
            version: WIRE_VERSION,
            session: 1,
            episode,
            step: 0,
            reset: true,
            obs: heapless::Vec::from_slice(&[0.1; 6]).unwrap(),
            avail: heapless::Vec::from_slice(&[1.0; 4]).unwrap(),
        };
        observations.put(msg.encode(&mut buf).unwrap().to_vec()).wait().unwrap();
        let sample = actions.recv_timeout(Duration::from_secs(10)).unwrap().expect("an answer");
        ActionMsg::decode(&sample.payload().to_bytes(), &SPEC).unwrap().model_sha256
    };
    assert_eq!(model_at(1), sha(&model_a));
    let deploy = |model: &Path, sign: Option<&str>| {
        let mut cmd = murmur_command();
        cmd.args(["deploy", "--model"]).arg(model).args(["--swarm", &swarm, "--connect", &endpoint]);
        if let Some(key) = sign {
            cmd.arg("--sign").arg(keys_dir.join(key));
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "deploy failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    let put = |payload: Vec<u8>| session.put(keys::model(&swarm), payload).wait().unwrap();
    let operator = ModelSigner::load(&keys_dir.join("operator.key")).unwrap();

    // Refused: unsigned, signed by a stranger, and the operator's signed
    // model with one bit of the file flipped and its hash recomputed.
    deploy(&model_b, None);
    deploy(&model_b, Some("stranger.key"));
    let (payload, _) = model_message(&model_b, ModelFormat::Onnx, &swarm, 5, Some(&operator)).unwrap();
    let msg = ModelMsg::decode(&payload).unwrap();
    let mut flipped = msg.model.to_vec();
    let k = flipped.len() / 2;
    flipped[k] ^= 0x10;
    let forged = ModelMsg { sha256: Sha256::digest(&flipped).into(), model: &flipped, ..msg.clone() };
    put(forged.encode(&mut vec![0u8; ModelMsg::max_encoded_len(flipped.len())]).unwrap().to_vec());
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(model_at(2), sha(&model_a), "a model the operator did not sign was run");

    // Signed by the operator: taken at an episode start once loaded (the
    // agent loads it beside the running model; a loaded machine takes a
    // while).
    deploy(&model_b, Some("operator.key"));
    let mut episode = 3;
    let start = Instant::now();
    while model_at(episode) != sha(&model_b) {
        assert!(start.elapsed() < Duration::from_secs(60), "the operator's model did not take over");
        episode += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    // An older signed model (issued before B), replayed: refused.
    let (older, _) = model_message(&model_c, ModelFormat::Onnx, &swarm, 5, Some(&operator)).unwrap();
    put(older);
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(model_at(episode + 1), sha(&model_b), "a replayed older model was run");
    let _ = session.close().wait();
}
