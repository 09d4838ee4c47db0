//! End to end: hardware-in-the-loop episodes with real `murmur agent`
//! processes over real Zenoh on loopback. The robots' recorded actions must
//! be exactly what their on-board policy computes from the recorded
//! observations; Python reads the dataset with no murmur code; robots that
//! die mid-episode, a rogue publisher and a killed coordinator lose nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use murmur::export::{export_onnx, VerifySettings};
use murmur::hw::coordinator::{HilOptions, Pacing};
use murmur::hw::launcher::{AgentLaunch, Swarm};
use murmur::hw::recorder::{self, Origin};
use murmur::hw::session::{run_hil, HilRun, SpawnAgents};
use murmur::runtime::policy::OnnxPolicy;
use murmur::runtime::swarm::ZenohOptions;
use murmur::runtime::wire::{ActionMsg, ActionSource, CriticMsg, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur::runtime::{ModelFormat, Policy, WireDims};
use murmur::train::checkpoint;
use murmur::train::config::{Config, EnvConfig};
use murmur::train::trainer::Trainer;
use safetensors::SafeTensors;
use zenoh::Wait;

mod common;
use common::{free_port, session_to};

const READER: &str = r#"
import hashlib, json, pathlib, sys
import numpy as np
from safetensors.numpy import load_file

root = pathlib.Path(sys.argv[1])
m = json.loads((root / "manifest.json").read_text())
n, A, O = m["n_agents"], m["n_actions"], m["obs_dim"]
out = []
for e in m["episodes"]:
    blob = (root / e["file"]).read_bytes()
    assert hashlib.sha256(blob).hexdigest() == e["sha256"], "checksum"
    ep = load_file(str(root / e["file"]))
    T = e["steps"]
    assert ep["actions"].shape == (T, n) and ep["actions"].dtype == np.int64
    assert ep["obs"].shape == (T + 1, n, O) and ep["state"].shape == (T + 1, m["state_dim"])
    assert abs(float(ep["reward"].sum()) - e["return"]) < 1e-3, "return"
    policy = ep["action_source"] == 0
    sums = ep["probs"].sum(-1)[policy]
    assert np.abs(sums - 1).max() < 1e-5, "probabilities sum to one"
    assert (ep["probs"][ep["avail"][:T] == 0] == 0).all(), "no mass on unavailable actions"
    # spread's state is the concatenation of the observations
    assert np.abs(ep["state"] - ep["obs"].reshape(T + 1, -1)).max() == 0, "state = concat(obs)"
    assert ((ep["actions"] >= 0) & (ep["actions"] < A)).all()
    # each robot's reward sums to the team reward
    assert np.abs(ep["agent_rewards"].sum(-1) - ep["reward"]).max() < 1e-4, "agent rewards"
    out.append({"episode": e["episode"], "steps": T, "policy_share": float(policy.mean()),
                "critic_std": float(ep["critic_value"].std()) if "critic_value" in ep else None,
                "truncated_last": int(ep["truncated"][-1])})
print(json.dumps(out))
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A briefly trained MAPPO run on spread and its exported actor.
fn trained_run(dir: &Path) -> (PathBuf, PathBuf) {
    let overrides: Vec<String> =
        ["t_max=2000", "seed=3", "eval_interval=0", "save_interval=0", "device=\"cpu\""].map(String::from).to_vec();
    let cfg = Config::load(&root().join("configs/mappo_spread.toml"), &overrides).unwrap();
    let run = dir.join("run");
    let mut trainer = Trainer::new(cfg).unwrap();
    trainer.attach_run_dir(&run, false).unwrap();
    trainer.train(|_| {}).unwrap();
    let ckpt = checkpoint::latest(&run.join("checkpoints")).unwrap().unwrap();
    let model = dir.join("actor.onnx");
    export_onnx(&ckpt, &model, VerifySettings { sequences: 8, ..Default::default() }).unwrap();
    (run, model)
}

fn tensor<T: bytemuck::Pod>(st: &SafeTensors, name: &str) -> Vec<T> {
    bytemuck::pod_collect_to_vec(st.tensor(name).unwrap().data())
}

/// Replays every recorded episode through the on-board policy: each
/// policy-sourced action and its probabilities must match. Returns how many
/// policy decisions were checked.
fn replay_matches_policy(data: &Path, model: &Path) -> usize {
    let m = recorder::verify(data).unwrap();
    let (n, o, a) = (m.header.n_agents, m.header.obs_dim, m.header.n_actions);
    let mut checked = 0;
    for e in &m.episodes {
        let bytes = std::fs::read(data.join(&e.file)).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (obs, avail, probs) = (tensor::<f32>(&st, "obs"), tensor::<f32>(&st, "avail"), tensor::<f32>(&st, "probs"));
        let (actions, source) = (tensor::<i64>(&st, "actions"), tensor::<u8>(&st, "action_source"));
        for i in 0..n {
            let mut policy = OnnxPolicy::load(model, i).unwrap();
            for t in 0..e.steps {
                if source[t * n + i] != Origin::Policy as u8 {
                    // The robot was out of the team for the rest of the episode.
                    break;
                }
                let r = t * n + i;
                let d = policy.step(&obs[r * o..(r + 1) * o], &avail[r * a..(r + 1) * a]).unwrap();
                assert_eq!(d.action as i64, actions[r], "episode {} step {t} robot {i}", e.episode);
                for (x, y) in d.probs.iter().zip(&probs[r * a..(r + 1) * a]) {
                    assert!((x - y).abs() < 1e-6, "probabilities differ at episode {} step {t}", e.episode);
                }
                checked += 1;
            }
        }
    }
    checked
}

/// Replays each recorded 3m battle in the simulator from the episode's seed
/// with the recorded actions: the robots must have seen the simulator's
/// observations at every step. Returns how many battles the simulator says
/// were won.
fn battles_won_in_simulation(data: &Path) -> usize {
    let m = recorder::verify(data).unwrap();
    let (n, o) = (m.header.n_agents, m.header.obs_dim);
    let mut env = EnvConfig::parse("battle", &["map=\"3m\"".to_string()]).unwrap().build();
    let mut obs = vec![0.0f32; o];
    let mut won = 0;
    for e in &m.episodes {
        let bytes = std::fs::read(data.join(&e.file)).unwrap();
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let seed: u64 = meta.metadata().as_ref().unwrap()["seed"].parse().unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (recorded_obs, actions) = (tensor::<f32>(&st, "obs"), tensor::<i64>(&st, "actions"));
        env.reset(seed);
        for t in 0..e.steps {
            for i in 0..n {
                env.write_obs(i, &mut obs);
                let r = t * n + i;
                assert_eq!(obs, recorded_obs[r * o..(r + 1) * o], "episode {} step {t} robot {i}", e.episode);
            }
            let joint: Vec<usize> = actions[t * n..(t + 1) * n].iter().map(|&u| u as usize).collect();
            let outcome = env.step(&joint);
            assert_eq!(outcome.done(), t + 1 == e.steps, "episode {} ends where it was recorded to", e.episode);
        }
        won += usize::from(env.won() == Some(true));
    }
    won
}

#[test]
fn lockstep_episodes_are_recorded_with_the_critic_and_read_from_python() {
    let dir = tempfile::tempdir().unwrap();
    let (run, model) = trained_run(dir.path());
    let data = dir.path().join("data");
    let port = free_port();
    let swarm = format!("hil-lockstep-{}", std::process::id());
    // A monitor on the critic's key, subscribed before the run starts: it
    // listens and the coordinator connects to it, so the coordinator knows
    // of the subscription from its link's start (a monitor joining during
    // the run could miss all of it: the 75 steps take tens of ms).
    let run_over = std::sync::Arc::new(AtomicBool::new(false));
    let monitor_port = free_port();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let monitor = {
        let (run_over, key) = (run_over.clone(), format!("murmur/{swarm}/critic/**"));
        std::thread::spawn(move || {
            let mut cfg = zenoh::Config::default();
            cfg.insert_json5("listen/endpoints", &format!(r#"["tcp/127.0.0.1:{monitor_port}"]"#)).unwrap();
            cfg.insert_json5("scouting/multicast/enabled", "false").unwrap();
            let session = zenoh::open(cfg).wait().unwrap();
            let readings = session.declare_subscriber(key).wait().unwrap();
            ready_tx.send(()).unwrap();
            let mut got = Vec::new();
            while !run_over.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(Some(s)) = readings.recv_timeout(Duration::from_millis(50)) {
                    got.push(CriticMsg::decode(&s.payload().to_bytes()).unwrap());
                }
            }
            got.extend(
                std::iter::from_fn(|| readings.try_recv().ok().flatten())
                    .map(|s| CriticMsg::decode(&s.payload().to_bytes()).unwrap()),
            );
            let _ = session.close().wait();
            got
        })
    };
    ready.recv_timeout(Duration::from_secs(30)).expect("the critic monitor is up");
    let hil = HilRun {
        env: EnvConfig::parse("spread", &[]).unwrap(),
        swarm: swarm.clone(),
        options: HilOptions {
            episodes: 3,
            pacing: Pacing::Lockstep,
            step_timeout: Duration::from_secs(5),
            join_timeout: Duration::from_secs(60),
            ..Default::default()
        },
        record: Some(data.clone()),
        critic: Some(run),
        spawn: Some(SpawnAgents {
            exe: PathBuf::from(env!("CARGO_BIN_EXE_murmur")),
            model: model.clone(),
            format: ModelFormat::Onnx,
            stale_after_ms: 5000,
            trusted_model_keys: vec![],
        }),
        zenoh: ZenohOptions {
            listen: vec![format!("tcp/127.0.0.1:{port}")],
            connect: vec![format!("tcp/127.0.0.1:{monitor_port}")],
            ..Default::default()
        },
        ros2_world: None,
    };
    let summary = run_hil(&hil, &AtomicBool::new(false), |_| {}).unwrap();
    println!("{summary}");
    assert_eq!(summary.episodes.len(), 3);
    // The critic published every step it recorded (allowing for a few lost
    // while the link's declarations settle).
    std::thread::sleep(Duration::from_millis(200));
    run_over.store(true, std::sync::atomic::Ordering::Relaxed);
    let published = monitor.join().unwrap();
    assert!(summary.episodes.iter().all(|e| e.steps == 25 && e.incomplete_reason.is_none()), "{summary:?}");
    assert_eq!(summary.deadline_misses(), [0, 0, 0]);
    assert_eq!(summary.rejected.total(), 0);
    assert_eq!(summary.step_us.len(), 75);

    assert_eq!(replay_matches_policy(&data, &model), 3 * 25 * 3, "every decision was the robots' policy");
    assert!(published.len() >= 70, "{} critic readings published", published.len());
    let m = recorder::read_manifest(&data).unwrap();
    for msg in &published {
        let e = &m.episodes[(msg.episode - 1) as usize];
        let st_bytes = std::fs::read(data.join(&e.file)).unwrap();
        let st = SafeTensors::deserialize(&st_bytes).unwrap();
        let recorded = tensor::<f32>(&st, "critic_value")[msg.step as usize];
        assert_eq!(msg.value, recorded, "published and recorded critic values differ");
    }

    let python = root().join(".venv/bin/python");
    let out = Command::new(&python).arg("-c").arg(READER).arg(&data).output().expect("run the project's python");
    assert!(out.status.success(), "python reader failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("python: {report}");
    let episodes = report.as_array().unwrap();
    assert_eq!(episodes.len(), 3);
    for e in episodes {
        assert_eq!(
            (e["steps"].as_u64(), e["policy_share"].as_f64(), e["truncated_last"].as_u64()),
            (Some(25), Some(1.0), Some(1))
        );
        assert!(e["critic_std"].as_f64().unwrap() > 1e-3, "the critic's values vary over an episode: {e}");
    }

    // Recording again into the same directory continues the numbering.
    let again = HilRun { options: HilOptions { episodes: 1, ..hil.options.clone() }, critic: None, ..hil };
    run_hil(&again, &AtomicBool::new(false), |_| {}).unwrap();
    let m = recorder::verify(&data).unwrap();
    assert_eq!(m.episodes.iter().map(|e| e.episode).collect::<Vec<_>>(), [1, 2, 3, 4]);

    // The whole dataset, critic values and all, as one MCAP file.
    let mcap = dir.path().join("all.mcap");
    let out = common::murmur_command().args(["dataset", "mcap"]).arg(&data).arg("-o").arg(&mcap).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(common::mcap_matches_dataset(&data, &mcap), 4 * 25 * 4, "4 episodes of 25 steps, 3 robots and the team");
}

/// The wire dimensions of a spread team of 3.
const SPREAD_TEAM: WireDims = WireDims { obs_dim: 18, n_actions: 5, n_agents: 3 };

/// A rogue peer on the action keys: malformed bytes, well-formed answers for
/// another episode, robot 0's own answers replayed a few steps later, an
/// unknown robot id and aliases of robot 1's id (`01`, `+1`); and on the
/// liveliness keys, tokens declared and dropped on robot 2's key and on the
/// aliases.
fn rogue(port: u16, swarm: &str, stop: &AtomicBool) -> u64 {
    let session = session_to(&format!("tcp/127.0.0.1:{port}"));
    let own = session.declare_publisher(format!("murmur/{swarm}/agent/0/act")).wait().unwrap();
    let stranger = session.declare_publisher(format!("murmur/{swarm}/agent/77/act")).wait().unwrap();
    let aliases: Vec<_> = ["01", "+1"]
        .iter()
        .map(|id| session.declare_publisher(format!("murmur/{swarm}/agent/{id}/act")).wait().unwrap())
        .collect();
    let overheard = session.declare_subscriber(format!("murmur/{swarm}/agent/0/act")).wait().unwrap();
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    let out_of_turn = ActionMsg {
        version: WIRE_VERSION,
        session: 1,
        episode: 999,
        step: 3,
        action: 4,
        source: ActionSource::Policy,
        probs: heapless::Vec::new(),
        inference_us: 1,
        model_sha256: [0; 32],
    };
    let mut replays = std::collections::VecDeque::new();
    let mut heard = std::collections::HashSet::new();
    let mut sent = 0;
    let mut round = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        own.put(b"\x01\xff\xffgarbage".to_vec()).wait().unwrap();
        own.put(out_of_turn.encode(&mut buf).unwrap().to_vec()).wait().unwrap();
        stranger.put(out_of_turn.encode(&mut buf).unwrap().to_vec()).wait().unwrap();
        sent += 3;
        // Robot 0's real answers, sent again once they are a few steps old,
        // and under robot 1's aliases.
        while let Ok(Some(sample)) = overheard.try_recv() {
            // Each real answer once (the rogue hears its own puts too).
            let bytes = sample.payload().to_bytes().into_owned();
            let real = ActionMsg::decode(&bytes, &SPREAD_TEAM).is_ok_and(|m| m.session != out_of_turn.session);
            if real && heard.insert(bytes.clone()) {
                replays.push_back(bytes);
            }
        }
        while replays.len() > 3 {
            let old = replays.pop_front().unwrap();
            own.put(old.clone()).wait().unwrap();
            for alias in &aliases {
                alias.put(old.clone()).wait().unwrap();
            }
            sent += 1 + aliases.len() as u64;
        }
        // A token on robot 2's own key and on robot 1's aliases, dropped
        // again: none of it may make the coordinator think a robot left.
        if round.is_multiple_of(10) {
            let tokens: Vec<_> = [format!("murmur/{swarm}/agent/2"), format!("murmur/{swarm}/agent/01")]
                .into_iter()
                .map(|key| session.liveliness().declare_token(key).wait().unwrap())
                .collect();
            std::thread::sleep(Duration::from_millis(5));
            drop(tokens);
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = session.close().wait();
    sent
}

#[test]
fn a_dying_robot_and_a_rogue_publisher_are_survived_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (_, model) = trained_run(dir.path());
    let data = dir.path().join("data");
    let port = free_port();
    let swarm = format!("hil-faults-{}", std::process::id());
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let hil = HilRun {
        env: EnvConfig::parse("spread", &[]).unwrap(),
        swarm: swarm.clone(),
        options: HilOptions {
            episodes: 8,
            pacing: Pacing::Realtime { hz: 50.0 },
            join_timeout: Duration::from_secs(60),
            rejoin_wait: Duration::from_secs(10),
            ..Default::default()
        },
        record: Some(data.clone()),
        critic: None,
        spawn: None,
        zenoh: ZenohOptions { listen: vec![endpoint.clone()], ..Default::default() },
        ros2_world: None,
    };
    let launch = AgentLaunch {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_murmur")),
        model: model.clone(),
        format: ModelFormat::Onnx,
        swarm: swarm.clone(),
        connect: vec![endpoint],
        zenoh_config: None,
        private_keys: None,
        stale_after_ms: 5000,
        trusted_model_keys: vec![],
        safe_action: 0,
        low_latency: false,
    };
    let stop_rogue = AtomicBool::new(false);
    let (summary, rogue_sent) = std::thread::scope(|s| {
        let coordinator = s.spawn(|| {
            let episodes = std::sync::Mutex::new(Vec::new());
            let summary = run_hil(&hil, &AtomicBool::new(false), |e| episodes.lock().unwrap().push(e.episode));
            (summary, episodes)
        });
        let mut agents = Swarm::spawn(launch, 3).unwrap();
        // Kill robot 1 in the second episode (half a second at 50 Hz is one
        // episode), bring it back a second later.
        std::thread::sleep(Duration::from_millis(200));
        let start = Instant::now();
        while !data.join(recorder::episode_file(1)).exists() && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
        // The rogue comes once the team is up: before it, its token on
        // robot 2's key could stand in for robot 2's own at the start (an
        // open swarm admits anyone's token; docs/security.md).
        let rogue = s.spawn(|| rogue(port, &swarm, &stop_rogue));
        std::thread::sleep(Duration::from_millis(150));
        agents.kill(1);
        std::thread::sleep(Duration::from_millis(1000));
        agents.start(1).unwrap();
        let (summary, _) = coordinator.join().unwrap();
        stop_rogue.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = rogue.join().unwrap();
        agents.stop(Duration::from_secs(5));
        (summary.unwrap(), sent)
    });
    println!("{summary}\nrogue payloads sent: {rogue_sent}");
    assert_eq!(summary.episodes.len(), 8, "the run went on");
    let incomplete: Vec<_> = summary.episodes.iter().filter(|e| e.incomplete_reason.is_some()).collect();
    assert!(!incomplete.is_empty(), "the killed robot's episode was not flagged");
    assert!(
        incomplete[0].incomplete_reason.as_deref().unwrap().contains("robot 1"),
        "{:?}",
        incomplete[0].incomplete_reason
    );
    let last = summary.episodes.last().unwrap();
    assert!(last.incomplete_reason.is_none(), "robot 1 rejoined: {:?}", last.incomplete_reason);
    // The rogue's dropped tokens on robot 2's key did not remove robot 2.
    for e in &summary.episodes {
        let reason = e.incomplete_reason.as_deref().unwrap_or("");
        assert!(!reason.contains("robot 0") && !reason.contains("robot 2"), "episode {}: {reason}", e.episode);
    }
    let r = summary.rejected;
    assert!(r.malformed > 0 && r.out_of_turn > 0 && r.unknown_agent > 0, "{r:?}");

    // Nothing rogue was applied: every policy-sourced action is the policy's,
    // every other one is the safe action, and the dataset's checksums hold.
    // (A replay stops at a robot's first non-policy step of an episode: a
    // late answer's action is not known. Loaded machines miss more steps.)
    let checked = replay_matches_policy(&data, &model);
    assert!(checked >= 100, "only {checked} decisions replayed");
    let m = recorder::verify(&data).unwrap();
    for e in &m.episodes {
        let bytes = std::fs::read(data.join(&e.file)).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (actions, source) = (tensor::<i64>(&st, "actions"), tensor::<u8>(&st, "action_source"));
        for (a, s) in actions.iter().zip(&source) {
            assert!(*s == Origin::Policy as u8 || *a == 0, "a non-policy action other than the safe one");
        }
    }
}

#[test]
fn killing_the_coordinator_loses_no_recorded_episode_and_takes_its_agents_along() {
    let dir = tempfile::tempdir().unwrap();
    let (_, model) = trained_run(dir.path());
    let data = dir.path().join("data");
    let swarm = format!("hil-kill-{}", std::process::id());
    let mut coordinator = common::murmur_command()
        .args(["hil", "--env", "spread", "--swarm", &swarm, "--episodes", "100000", "--spawn-agents", "--model"])
        .arg(&model)
        .arg("--record")
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let listed = recorder::read_manifest(&data).map(|m| m.episodes.len()).unwrap_or(0);
        if listed >= 3 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no episodes recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    coordinator.kill().unwrap(); // SIGKILL: no clean-up runs
    coordinator.wait().unwrap();

    // Every listed episode is whole; a file written but not yet listed is
    // adopted on the next open.
    let m = recorder::verify(&data).unwrap();
    assert!(m.episodes.len() >= 3);
    let header = m.header.clone();
    let ds = recorder::DatasetWriter::open(&data, header, None).unwrap();
    assert!(ds.manifest().episodes.len() >= m.episodes.len());
    recorder::verify(&data).unwrap();
    assert!(m.episodes.iter().all(|e| e.complete && e.steps == 25));

    // The agents' standard input closed with the coordinator: they end.
    let start = Instant::now();
    loop {
        let ps = Command::new("pgrep").args(["-f", &swarm]).output().unwrap();
        if ps.stdout.is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "agents outlived the coordinator: {:?}", ps.stdout);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The offline loop, small: episodes recorded by `murmur hil --record`
/// train a behaviour-cloning actor offline, which exports and then runs on
/// the robots of a second `murmur hil` over Zenoh, every action its own.
#[test]
fn recorded_episodes_train_an_offline_actor_that_drives_the_swarm() {
    let dir = tempfile::tempdir().unwrap();
    let (_, model) = trained_run(dir.path());
    let hil = |swarm: &str, model: &Path, record: &str| {
        let out = common::murmur_command()
            .args(["hil", "--env", "spread", "--swarm", swarm, "--episodes", "4", "--spawn-agents", "--model"])
            .arg(model)
            .args(["--record", record])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let pid = std::process::id();
    hil(&format!("offline-rec-{pid}"), &model, "recorded");
    let bc = root().join("configs/bc_spread.toml");
    let mut train = common::murmur_command();
    train.args(["train", "-c"]).arg(&bc).args(["--device", "cpu", "--out", "bc"]).current_dir(dir.path());
    for set in ["data.path=\"recorded\"", "t_max=300", "batch_episodes=4", "eval_interval=0", "eval_episodes=4"] {
        train.args(["--set", set]);
    }
    let out = train.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = common::murmur_command()
        .args(["export", "--run", "bc", "-o", "bc.onnx", "--sequences", "4"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    hil(&format!("offline-run-{pid}"), &dir.path().join("bc.onnx"), "driven");

    // Every action of the second run came from the offline actor on board.
    let m = recorder::verify(&dir.path().join("driven")).unwrap();
    assert_eq!(m.episodes.len(), 4);
    assert!(m.episodes.iter().all(|e| e.complete));
    let sources: Vec<u8> = m
        .episodes
        .iter()
        .flat_map(|e| {
            let bytes = std::fs::read(dir.path().join("driven").join(&e.file)).unwrap();
            let st = SafeTensors::deserialize(&bytes).unwrap();
            st.tensor("action_source").unwrap().data().to_vec()
        })
        .collect();
    assert_eq!(sources.len(), 4 * 25 * 3);
    assert!(sources.iter().all(|&s| s == Origin::Policy as u8), "a robot fell back: {sources:?}");
}

/// Battles run over the swarm as any task does: MAPPO trained briefly on
/// 3m drives three `murmur agent` processes over Zenoh; every action they
/// took is the on-board policy's, allowed by the mask, and the summary
/// reports the share of battles won beside the return: exactly the battles
/// the simulator, replaying the recorded actions from each episode's seed,
/// says were won. (How often a briefly trained team wins depends on the
/// machine's rounding; `learn_battle` measures that over 200 battles.)
#[test]
fn a_3m_battle_runs_on_spawned_agents_and_reports_its_win_rate() {
    let dir = tempfile::tempdir().unwrap();
    let overrides: Vec<String> =
        ["t_max=40000", "seed=1", "eval_interval=0", "save_interval=0", "device=\"cpu\""].map(String::from).to_vec();
    let mut trainer = Trainer::new(Config::load(&root().join("configs/mappo_3m.toml"), &overrides).unwrap()).unwrap();
    let run = dir.path().join("run");
    trainer.attach_run_dir(&run, false).unwrap();
    trainer.train(|_| {}).unwrap();
    let ckpt = checkpoint::latest(&run.join("checkpoints")).unwrap().unwrap();
    let model = dir.path().join("actor.onnx");
    export_onnx(&ckpt, &model, VerifySettings { sequences: 8, ..Default::default() }).unwrap();
    let swarm = format!("battle-{}", std::process::id());
    let out = common::murmur_command()
        .args(["hil", "--env", "battle", "--set", "map=\"3m\"", "--swarm", &swarm, "--episodes", "8"])
        .args(["--spawn-agents", "--model"])
        .arg(&model)
        .args(["--record", "battles", "--mcap"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let won_line = stdout.lines().find(|l| l.trim_start().starts_with("won:")).expect("a win-rate line");
    let per_episode = stdout.lines().filter(|l| l.starts_with("episode") && l.contains("won")).count();
    assert_eq!(per_episode, 8, "each episode says whether it was won:\n{stdout}");
    let won: usize = won_line.split_whitespace().nth(1).and_then(|w| w.parse().ok()).expect("a count");
    eprintln!("{won_line}");
    let data = dir.path().join("battles");
    assert_eq!(won, battles_won_in_simulation(&data), "the summary's wins are the simulator's: {won_line}");
    let checked = replay_matches_policy(&data, &model);
    assert!(checked > 8 * 3 * 5, "every robot decided on board: {checked} decisions checked");
    // --mcap wrote the same battles for robotics viewers.
    let compared = common::mcap_matches_dataset(&data, &data.join("episodes.mcap"));
    assert!(compared >= 8 * 4 * 5, "{compared} MCAP messages compared");
    // Every action taken was allowed by the robot's mask.
    let m = recorder::verify(&data).unwrap();
    let (n, a) = (m.header.n_agents, m.header.n_actions);
    for e in &m.episodes {
        let st_bytes = std::fs::read(data.join(&e.file)).unwrap();
        let st = SafeTensors::deserialize(&st_bytes).unwrap();
        let (avail, actions) = (tensor::<f32>(&st, "avail"), tensor::<i64>(&st, "actions"));
        for (r, &u) in actions.iter().enumerate() {
            assert_eq!(
                avail[r * a + u as usize],
                1.0,
                "episode {} row {r} of {n} robots: action {u} masked",
                e.episode
            );
        }
    }
}
