//! A private swarm end to end: `murmur keys init` and `murmur keys issue`
//! make the certificates, `murmur agent --private` joins with mutual TLS
//! only, and a coordinator holding a certificate of the swarm's authority
//! drives it; a peer over plain TCP, one without a certificate and one
//! whose certificate comes from another authority get nothing through and
//! hear nothing. Inside the swarm, a robot's certificate reaches only its
//! own keys, whatever its holder's Zenoh runs: access control is enforced
//! by the honest members.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::atomic::AtomicBool;

use murmur::hw::coordinator::{HilOptions, Pacing};
use murmur::hw::session::{run_hil, HilRun, SpawnAgents};
use murmur::runtime::swarm::{zenoh_config, PrivateSwarm, ZenohOptions};
use murmur::runtime::wire::{ActionMsg, ActionSource, ObservationMsg, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur::runtime::ActorSpec;
use murmur::runtime::ModelFormat;
use murmur::train::config::EnvConfig;
use sha2::{Digest, Sha256};
use zenoh::Wait;

mod common;
use common::{free_port, murmur_command, spawn_agent};

const SPEC: ActorSpec = ActorSpec { obs_dim: 6, n_actions: 4, n_agents: 2, hidden: 16 };
/// A spread team of 3 (for hardware-in-the-loop episodes).
const SPREAD: ActorSpec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 16 };

fn exported(dir: &Path, seed: i64) -> PathBuf {
    exported_as(dir, SPEC, seed)
}

fn exported_as(dir: &Path, spec: ActorSpec, seed: i64) -> PathBuf {
    common::untrained_onnx(dir, "actor", spec, seed, 4)
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
    let model = exported(dir.path(), 1);
    let (ours, theirs) = (dir.path().join("keys"), dir.path().join("other-keys"));
    keys(&ours, &["coordinator", "robot-0", "operator-ana"]);
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
    let member = PrivateSwarm::coordinator(ours.clone(), 1);
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
    let foreign = session(&tls, Some(PrivateSwarm::coordinator(theirs.clone(), 1)));
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

    // An operator of the swarm deploys a new model over mutual TLS: the
    // robot takes it at its next episode start.
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let model_b = exported(&dir.path().join("b"), 2);
    let sha_b: [u8; 32] = Sha256::digest(std::fs::read(&model_b).unwrap()).into();
    assert_ne!(reply.model_sha256, sha_b);
    let out = murmur_command()
        .args(["deploy", "--model"])
        .arg(&model_b)
        .args(["--swarm", &swarm, "--connect", &tls, "--private", keys_dir, "--member", "operator-ana"])
        .output()
        .unwrap();
    assert!(out.status.success(), "deploy failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut episode = 3;
    while drive(&coordinator, &swarm, episode, Duration::from_secs(10)).expect("no answer").model_sha256 != sha_b {
        assert!(episode < 100, "the operator's model never took over");
        episode += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    for s in [coordinator, plain, no_certificate, foreign] {
        let _ = s.close().wait();
    }
}

#[test]
fn hil_episodes_run_on_a_private_swarm_of_spawned_agents() {
    let dir = tempfile::tempdir().unwrap();
    let model = exported_as(dir.path(), SPREAD, 1);
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
            trusted_model_keys: vec![],
        }),
        zenoh: ZenohOptions { private: Some(PrivateSwarm::new(keys_dir, "coordinator".into())), ..Default::default() },
        ros2_world: None,
    };
    let summary = run_hil(&hil, &AtomicBool::new(false), |_| {}).unwrap();
    println!("{summary}");
    assert_eq!(summary.episodes.len(), 2);
    assert!(summary.episodes.iter().all(|e| e.steps == 25 && e.incomplete_reason.is_none()), "{summary:?}");
    assert_eq!(summary.deadline_misses(), [0, 0, 0]);
}

/// Puts a fresh tag on `key` from `from` every 100 ms for `window`, and
/// counts the tagged samples `to` receives there (older ones are ignored).
fn deliveries(from: &zenoh::Session, key: &str, to: &Subscriber, window: Duration) -> usize {
    static TAG: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tag = TAG.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_le_bytes();
    let start = Instant::now();
    let mut received = 0;
    while start.elapsed() < window {
        from.put(key, tag.to_vec()).wait().unwrap();
        while let Ok(Some(sample)) = to.recv_timeout(Duration::from_millis(100)) {
            received += usize::from(sample.key_expr().as_str() == key && *sample.payload().to_bytes() == tag);
        }
    }
    received
}

/// Whether `to` receives a fresh tag put on `key` by `from` within
/// `patience` (links and subscriptions may take a while to come up on a
/// loaded machine): the allowed counterpart of each refusal.
fn delivered(from: &zenoh::Session, key: &str, to: &Subscriber, patience: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < patience {
        if deliveries(from, key, to, Duration::from_millis(500)) > 0 {
            return true;
        }
    }
    false
}

type Subscriber = zenoh::pubsub::Subscriber<zenoh::handlers::FifoChannelHandler<zenoh::sample::Sample>>;

#[test]
fn a_robots_certificate_reaches_only_that_robots_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys");
    keys(&keys_dir, &["coordinator", "robot-2", "robot-3", "operator-ana"]);
    let swarm = format!("acl{}", std::process::id());
    let key = |rest: &str| format!("murmur/{swarm}/{rest}");
    let (coordinator_port, robot_port) = (free_port(), free_port());
    let listening = |port: u16, member: PrivateSwarm| {
        let options = ZenohOptions {
            listen: vec![format!("tls/127.0.0.1:{port}")],
            connect: if port == coordinator_port { vec![] } else { vec![format!("tls/127.0.0.1:{coordinator_port}")] },
            private: Some(member),
            ..Default::default()
        };
        zenoh::open(zenoh_config(&options).unwrap()).wait().unwrap()
    };
    // Honest members, enforcing the swarm's rules: the coordinator of
    // robots 0..4, robot 3 and an operator.
    let coordinator = listening(coordinator_port, PrivateSwarm::coordinator(keys_dir.clone(), 4));
    let robot3 = listening(robot_port, PrivateSwarm::new(keys_dir.clone(), "robot-3".into()));
    let operator = session(
        &format!("tls/127.0.0.1:{coordinator_port}"),
        Some(PrivateSwarm::new(keys_dir.clone(), "operator-ana".into())),
    );
    // Robot 2's certificate in the hands of someone whose Zenoh enforces
    // nothing, linked to both the coordinator and robot 3.
    let rogue = {
        let options = ZenohOptions {
            connect: vec![format!("tls/127.0.0.1:{coordinator_port}"), format!("tls/127.0.0.1:{robot_port}")],
            private: Some(PrivateSwarm::new(keys_dir.clone(), "robot-2".into())),
            ..Default::default()
        };
        let mut cfg = zenoh_config(&options).unwrap();
        cfg.insert_json5("access_control", r#"{"enabled":false}"#).unwrap();
        zenoh::open(cfg).wait().unwrap()
    };
    let (window, patience) = (Duration::from_secs(3), Duration::from_secs(20));
    let subscribe = |s: &zenoh::Session, k: String| s.declare_subscriber(k).wait().unwrap();

    // Observations: each robot hears its own, the rogue not robot 3's.
    let (obs2, obs3) = (key("agent/2/obs"), key("agent/3/obs"));
    let robot3_obs = subscribe(&robot3, obs3.clone());
    let rogue_hears = subscribe(&rogue, key("**"));
    assert!(delivered(&coordinator, &obs3, &robot3_obs, patience), "robot 3 never heard its observations");
    let rogue_own = subscribe(&rogue, obs2.clone());
    assert!(delivered(&coordinator, &obs2, &rogue_own, patience), "robot 2 never heard its own observations");
    assert_eq!(deliveries(&coordinator, &obs3, &rogue_hears, window), 0, "robot 2 read robot 3's observations");
    // ... and only the coordinator's reach robot 3, though robot 2 holds a
    // link to it (mutual TLS lets any member's certificate in).
    let robot3_id = robot3.info().zid().wait();
    let start = Instant::now();
    while !rogue.info().peers_zid().wait().any(|z| z == robot3_id) {
        assert!(start.elapsed() < patience, "robot 2 never linked to robot 3");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(deliveries(&rogue, &obs3, &robot3_obs, window), 0, "robot 2 sent robot 3 observations");

    // Answers: the coordinator takes robot 2's own, never robot 2's for robot 3.
    let answers = subscribe(&coordinator, key("agent/*/act"));
    assert!(delivered(&rogue, &key("agent/2/act"), &answers, patience), "robot 2's own answers were lost");
    assert_eq!(deliveries(&rogue, &key("agent/3/act"), &answers, window), 0, "robot 2 answered for robot 3");

    // Models: the operator's reach robot 3; a robot's or the coordinator's do not.
    let models = subscribe(&robot3, key("model"));
    assert!(delivered(&operator, &key("model"), &models, patience), "the operator's model never arrived");
    assert_eq!(deliveries(&rogue, &key("model"), &models, window), 0, "robot 2 deployed a model");
    assert_eq!(deliveries(&coordinator, &key("model"), &models, window), 0, "the coordinator deployed a model");

    // Liveliness: robot 2's own token counts, one it declares for robot 1 does not.
    let _own = rogue.liveliness().declare_token(key("agent/2")).wait().unwrap();
    let _forged = rogue.liveliness().declare_token(key("agent/1")).wait().unwrap();
    let _robot3 = robot3.liveliness().declare_token(key("agent/3")).wait().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let replies = coordinator.liveliness().get(key("agent/*")).wait().unwrap();
    let mut seen: Vec<String> = std::iter::from_fn(|| replies.recv_timeout(Duration::from_secs(1)).ok().flatten())
        .filter_map(|r| r.into_result().ok().map(|s| s.key_expr().to_string()))
        .collect();
    seen.sort();
    assert_eq!(seen, [key("agent/2"), key("agent/3")], "the coordinator's view of the team");
    for s in [coordinator, robot3, operator, rogue] {
        let _ = s.close().wait();
    }
}
