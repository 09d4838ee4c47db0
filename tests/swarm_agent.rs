//! End to end: `murmur agent` as a separate process over real Zenoh on
//! loopback. It declares its liveliness token, answers observations with
//! the policy's action (the same as running the file locally), answers a
//! malformed payload and a replay with nothing and silence with the safe
//! action, and after being killed and restarted it serves again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use murmur::runtime::policy::OnnxPolicy;
use murmur::runtime::wire::{ActionMsg, ActionSource, ObservationMsg, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur::runtime::{ActorSpec, Policy};
use zenoh::Wait;

mod common;
use common::{free_port, murmur_command, session_to, Running};

const SPEC: ActorSpec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 64 };

fn exported(dir: &Path) -> PathBuf {
    common::untrained_onnx(dir, "actor", SPEC, 1, 8)
}

/// Robot 1 of `swarm` on the Zenoh config file `config`.
fn spawn_agent(model: &Path, config: &Path, swarm: &str) -> Running {
    let config = config.to_str().expect("a UTF-8 temporary path");
    common::spawn_agent(model, swarm, "1", &["--stale-after", "300", "--safe-action", "0", "--zenoh-config", config])
}

/// Waits until the agent's liveliness token is (or is no longer) visible.
fn wait_liveliness(session: &zenoh::Session, key: &str, alive: bool) -> Duration {
    let start = Instant::now();
    loop {
        let replies = session.liveliness().get(key).timeout(Duration::from_millis(500)).wait().unwrap();
        let seen = replies.recv_timeout(Duration::from_millis(600)).ok().flatten().is_some();
        if seen == alive {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "liveliness of {key} never became {alive}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn observation(episode: u64, step: u32, k: usize) -> (ObservationMsg, Vec<f32>) {
    let obs: Vec<f32> = (0..SPEC.obs_dim).map(|i| ((k * 13 + i * 5) % 11) as f32 * 0.25 - 1.2).collect();
    let avail = [1.0, 1.0, 0.0, 1.0, 1.0];
    let msg = ObservationMsg {
        version: WIRE_VERSION,
        session: 1,
        episode,
        step,
        reset: step == 0,
        obs: heapless::Vec::from_slice(&obs).unwrap(),
        avail: heapless::Vec::from_slice(&avail).unwrap(),
    };
    (msg, avail.to_vec())
}

fn next_action(
    sub: &zenoh::pubsub::Subscriber<zenoh::handlers::FifoChannelHandler<zenoh::sample::Sample>>,
) -> ActionMsg {
    let sample = sub.recv_timeout(Duration::from_secs(5)).unwrap().expect("no action within 5 s");
    ActionMsg::decode(&sample.payload().to_bytes(), &SPEC).expect("a well-formed action message")
}

#[test]
fn agent_process_serves_fails_safe_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let model = exported(dir.path());
    let port = free_port();
    let agent_config = dir.path().join("agent.json5");
    std::fs::write(
        &agent_config,
        format!(r#"{{ mode: "peer", listen: {{ endpoints: ["tcp/127.0.0.1:{port}"] }}, scouting: {{ multicast: {{ enabled: false }} }} }}"#),
    )
    .unwrap();
    let swarm = format!("test{}", std::process::id());
    let mut agent = spawn_agent(&model, &agent_config, &swarm);

    let session = session_to(&format!("tcp/127.0.0.1:{port}"));
    let base = format!("murmur/{swarm}/agent/1");
    let up = wait_liveliness(&session, &base, true);
    println!("agent up after {up:?}");
    let publisher = session.declare_publisher(format!("{base}/obs")).wait().unwrap();
    let sub = session.declare_subscriber(format!("{base}/act")).wait().unwrap();

    // The policy's actions, as the same file computes them here.
    let mut local = OnnxPolicy::load(&model, 1).unwrap();
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    for step in 0..10u32 {
        let (msg, avail) = observation(1, step, step as usize);
        publisher.put(msg.encode(&mut buf).unwrap().to_vec()).wait().unwrap();
        // Before its first observation the agent may already have sent the
        // safe action, flagged stale (the coordinator was silent): skip it.
        let mut reply = next_action(&sub);
        while reply.source == ActionSource::Stale && step == 0 {
            reply = next_action(&sub);
        }
        let expected = local.step(&msg.obs, &avail).unwrap();
        assert_eq!((reply.episode, reply.step, reply.source), (1, step, ActionSource::Policy));
        assert_eq!(usize::from(reply.action), expected.action);
        for (a, b) in reply.probs.iter().zip(expected.probs) {
            assert!((a - b).abs() < 1e-6, "remote {:?} vs local {:?}", reply.probs, expected.probs);
        }
        assert_eq!(reply.probs[2], 0.0, "probability on an unavailable action");
    }

    // A malformed payload and a replay of the last step get no answer; the
    // next message is the safe action, flagged stale, once the silence of
    // good observations reaches --stale-after (300 ms).
    let quiet_since = Instant::now();
    publisher.put(b"\x02garbage".to_vec()).wait().unwrap();
    let (replay, _) = observation(1, 9, 9);
    publisher.put(replay.encode(&mut buf).unwrap().to_vec()).wait().unwrap();
    let reply = next_action(&sub);
    assert_eq!((reply.source, reply.action, reply.step), (ActionSource::Stale, 0, 9));
    assert!(quiet_since.elapsed() >= Duration::from_millis(250), "answered junk after {:?}", quiet_since.elapsed());

    // Kill it: the token goes; restart it: it serves again.
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    let down = wait_liveliness(&session, &base, false);
    println!("token gone {down:?} after the kill");
    let mut agent = spawn_agent(&model, &agent_config, &swarm);
    let up = wait_liveliness(&session, &base, true);
    println!("agent back after {up:?}");
    let (msg, _) = observation(2, 0, 3);
    // The link may need a moment after the token: retry the first message.
    let mut reply = None;
    for _ in 0..10 {
        publisher.put(msg.encode(&mut buf).unwrap().to_vec()).wait().unwrap();
        if let Ok(Some(sample)) = sub.recv_timeout(Duration::from_millis(500)) {
            reply = Some(ActionMsg::decode(&sample.payload().to_bytes(), &SPEC).unwrap());
            break;
        }
    }
    let reply = reply.expect("the restarted agent never answered");
    assert_eq!((reply.episode, reply.source), (2, ActionSource::Policy));
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
}

/// A coordinator-side session listening on `port`.
fn coordinator_session(port: u16) -> zenoh::Session {
    let mut cfg = zenoh::Config::default();
    cfg.insert_json5("listen/endpoints", &format!(r#"["tcp/127.0.0.1:{port}"]"#)).unwrap();
    cfg.insert_json5("scouting/multicast/enabled", "false").unwrap();
    zenoh::open(cfg).wait().unwrap()
}

/// One observation for episode `episode`, answered within `patience`
/// (resent every 500 ms while the link comes up).
fn answer_within(session: &zenoh::Session, base: &str, episode: u64, patience: Duration) -> Option<ActionMsg> {
    let publisher = session.declare_publisher(format!("{base}/obs")).wait().unwrap();
    let sub = session.declare_subscriber(format!("{base}/act")).wait().unwrap();
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    let (msg, _) = observation(episode, 0, 1);
    let start = Instant::now();
    while start.elapsed() < patience {
        publisher.put(msg.encode(&mut buf).unwrap().to_vec()).wait().unwrap();
        let deadline = Instant::now() + Duration::from_millis(500);
        while let Ok(Some(sample)) = sub.recv_deadline(deadline) {
            let reply = ActionMsg::decode(&sample.payload().to_bytes(), &SPEC).unwrap();
            if reply.source == ActionSource::Policy && reply.episode == episode {
                return Some(reply);
            }
        }
    }
    None
}

#[test]
fn agent_reconnects_after_losing_its_coordinator_and_sends_the_safe_action_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let model = exported(dir.path());
    let port = free_port();
    let swarm = format!("reconnect{}", std::process::id());
    let base = format!("murmur/{swarm}/agent/1");
    let coordinator = coordinator_session(port);
    let mut agent = murmur_command()
        .args(["agent", "--model"])
        .arg(&model)
        .args(["--swarm", &swarm, "--id", "1", "--stale-after", "300", "--exit-with-stdin", "--connect"])
        .arg(format!("tcp/127.0.0.1:{port}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let reply = answer_within(&coordinator, &base, 1, Duration::from_secs(30)).expect("the agent never answered");
    assert_eq!(reply.episode, 1);

    // The coordinator goes away: the agent's link drops and it goes silent.
    let _ = coordinator.close().wait();
    drop(coordinator);
    std::thread::sleep(Duration::from_secs(2));
    assert!(agent.try_wait().unwrap().is_none(), "the agent died with its link");

    // A coordinator comes back on the same endpoint: Zenoh's connect retry
    // finds it and the agent serves again.
    let coordinator = coordinator_session(port);
    let started = Instant::now();
    let reply = answer_within(&coordinator, &base, 2, Duration::from_secs(30)).expect("the agent never reconnected");
    println!("reconnected and answered after {:?}", started.elapsed());
    assert_eq!((reply.episode, reply.source), (2, ActionSource::Policy));
    let _ = coordinator.close().wait();

    // A clean stop reports the silences: at least one safe action, flagged stale.
    drop(agent.stdin.take());
    let out = agent.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(out.status.success());
    let stale: u64 = report
        .split("stale: ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("the agent's summary line");
    assert!(stale >= 1, "no stale safe action while the coordinator was gone: {report}");
}
