//! A private swarm end to end: `murmur keys init` and `murmur keys issue`
//! make the certificates, `murmur agent --private` joins with mutual TLS
//! only, and a coordinator holding a certificate of the swarm's authority
//! drives it; a peer over plain TCP, one without a certificate and one
//! whose certificate comes from another authority get nothing through and
//! hear nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::atomic::AtomicBool;

use murmur::export::{export_onnx, VerifySettings};
use murmur::hw::coordinator::{HilOptions, Pacing};
use murmur::hw::session::{run_hil, HilRun, SpawnAgents};
use murmur::runtime::swarm::{zenoh_config, PrivateSwarm, ZenohOptions};
use murmur::runtime::wire::{ActionMsg, ActionSource, ObservationMsg, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur::runtime::ActorSpec;
use murmur::runtime::ModelFormat;
use murmur::train::actor::{Actor, ActorOptions};
use murmur::train::checkpoint::{self, CheckpointMeta};
use murmur::train::config::EnvConfig;
use zenoh::Wait;

mod common;
use common::{free_port, murmur_command, spawn_agent};

const SPEC: ActorSpec = ActorSpec { obs_dim: 6, n_actions: 4, n_agents: 2, hidden: 16 };
/// A spread team of 3 (for hardware-in-the-loop episodes).
const SPREAD: ActorSpec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 16 };

fn exported(dir: &Path) -> PathBuf {
    exported_as(dir, SPEC)
}

fn exported_as(dir: &Path, spec: ActorSpec) -> PathBuf {
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let options = ActorOptions { input_layer_norm: false, orthogonal_init: false };
    let _actor = Actor::new(&vs.root(), spec, options);
    let ckpt = checkpoint::save(&dir.join("ckpt"), &vs, &[], CheckpointMeta::untrained(spec, options, "t")).unwrap();
    let model = dir.join("actor.onnx");
    export_onnx(&ckpt, &model, VerifySettings { sequences: 4, ..Default::default() }).unwrap();
    model
}

fn keys(dir: &Path, members: &[&str]) {
    let out = murmur_command().args(["keys", "init"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = murmur_command().args(["keys", "issue"]).arg(dir).args(members).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A session connecting to `endpoint` with `private` (or none).
fn session(endpoint: &str, private: Option<PrivateSwarm>) -> zenoh::Session {
    let options = ZenohOptions { connect: vec![endpoint.to_string()], private, ..Default::default() };
    zenoh::open(zenoh_config(&options).unwrap()).wait().unwrap()
}

/// Sends robot 0 an episode start `episode` and waits `patience` for its
/// answer (resending every 300 ms while links come up).
fn drive(session: &zenoh::Session, swarm: &str, episode: u64, patience: Duration) -> Option<ActionMsg> {
    let base = format!("murmur/{swarm}/agent/0");
    let publisher = session.declare_publisher(format!("{base}/obs")).wait().unwrap();
    let answers = session.declare_subscriber(format!("{base}/act")).wait().unwrap();
    let msg = ObservationMsg {
        version: WIRE_VERSION,
        session: episode,
        episode,
        step: 0,
        reset: true,
        obs: heapless::Vec::from_slice(&[0.2; 6]).unwrap(),
        avail: heapless::Vec::from_slice(&[1.0; 4]).unwrap(),
    };
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    let start = Instant::now();
    while start.elapsed() < patience {
        publisher.put(msg.encode(&mut buf).unwrap().to_vec()).wait().unwrap();
        if let Ok(Some(sample)) = answers.recv_timeout(Duration::from_millis(300)) {
            let reply = ActionMsg::decode(&sample.payload().to_bytes(), &SPEC).unwrap();
            if reply.source == ActionSource::Policy {
                return Some(reply);
            }
        }
    }
    None
}

#[test]
fn only_members_with_the_swarms_certificates_reach_its_robots() {
    let dir = tempfile::tempdir().unwrap();
    let model = exported(dir.path());
    let (ours, theirs) = (dir.path().join("keys"), dir.path().join("other-keys"));
    keys(&ours, &["coordinator", "robot-0"]);
    keys(&theirs, &["coordinator"]);
    let port = free_port();
    let swarm = format!("private{}", std::process::id());
    let listen = format!("tcp/127.0.0.1:{port}");
    let keys_dir = ours.to_str().unwrap();
    let _agent = spawn_agent(
        &model,
        &swarm,
        "0",
        &["--stale-after", "5000", "--listen", &listen, "--private", keys_dir, "--member", "robot-0"],
    );
    let tls = format!("tls/127.0.0.1:{port}");

    // The coordinator, with the swarm's certificate: answered.
    let member = PrivateSwarm { dir: ours.clone(), member: "coordinator".into() };
    let coordinator = session(&tls, Some(member));
    let reply = drive(&coordinator, &swarm, 1, Duration::from_secs(30)).expect("the member was not answered");
    assert_eq!((reply.episode, reply.source), (1, ActionSource::Policy));

    // Strangers: plain TCP, TLS without a client certificate, and a
    // certificate from another authority. None is answered, and none sees
    // the robot's liveliness token.
    let plain = session(&listen, None);
    let no_certificate = {
        let mut cfg = zenoh_config(&ZenohOptions { connect: vec![tls.clone()], ..Default::default() }).unwrap();
        let ca = format!("{:?}", ours.join("ca.pem").display().to_string());
        cfg.insert_json5("transport/link/tls/root_ca_certificate", &ca).unwrap();
        zenoh::open(cfg).wait().unwrap()
    };
    let foreign = session(&tls, Some(PrivateSwarm { dir: theirs.clone(), member: "coordinator".into() }));
    for (name, stranger) in
        [("plain TCP", &plain), ("no certificate", &no_certificate), ("another authority", &foreign)]
    {
        assert!(drive(stranger, &swarm, 100, Duration::from_secs(3)).is_none(), "{name}: answered");
        let tokens = stranger.liveliness().get(format!("murmur/{swarm}/agent/*")).wait().unwrap();
        let seen = std::iter::from_fn(|| tokens.recv_timeout(Duration::from_millis(500)).ok().flatten()).count();
        assert_eq!(seen, 0, "{name}: saw the robot's token");
    }
    // The member is still served.
    assert!(drive(&coordinator, &swarm, 2, Duration::from_secs(10)).is_some());
    for s in [coordinator, plain, no_certificate, foreign] {
        let _ = s.close().wait();
    }
}

#[test]
fn hil_episodes_run_on_a_private_swarm_of_spawned_agents() {
    let dir = tempfile::tempdir().unwrap();
    let model = exported_as(dir.path(), SPREAD);
    let keys_dir = dir.path().join("keys");
    keys(&keys_dir, &["coordinator", "robot-0", "robot-1", "robot-2"]);
    let hil = HilRun {
        env: EnvConfig::parse("spread", &[]).unwrap(),
        swarm: format!("private-hil{}", std::process::id()),
        options: HilOptions {
            episodes: 2,
            pacing: Pacing::Lockstep,
            step_timeout: Duration::from_secs(5),
            join_timeout: Duration::from_secs(60),
            ..Default::default()
        },
        record: None,
        critic: None,
        spawn: Some(SpawnAgents {
            exe: PathBuf::from(env!("CARGO_BIN_EXE_murmur")),
            model,
            format: ModelFormat::Onnx,
            stale_after_ms: 5000,
        }),
        zenoh: ZenohOptions {
            private: Some(PrivateSwarm { dir: keys_dir, member: "coordinator".into() }),
            ..Default::default()
        },
    };
    let summary = run_hil(&hil, &AtomicBool::new(false), |_| {}).unwrap();
    println!("{summary}");
    assert_eq!(summary.episodes.len(), 2);
    assert!(summary.episodes.iter().all(|e| e.steps == 25 && e.incomplete_reason.is_none()), "{summary:?}");
    assert_eq!(summary.deadline_misses(), [0, 0, 0]);
}
