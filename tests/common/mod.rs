//! Shared by the workspace's integration tests: learning checks against
//! uniform-random agents, free loopback ports, `murmur` processes that stop
//! with the test, and Zenoh sessions that reach exactly one endpoint.
// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use murmur::export::{export_onnx, VerifySettings};
use murmur::runtime::ActorSpec;
use murmur::train::actor::{Actor, ActorOptions};
use murmur::train::checkpoint::{self, CheckpointMeta};
use murmur::train::config::Config;
use murmur::train::dataset::DatasetReader;
use murmur::train::eval::{uniform_random, ReturnStats};
use murmur::train::trainer::Trainer;
use zenoh::Wait;

/// Greedy evaluation of a preset trained for `t_max` steps, and the
/// uniform-random baseline on the same environment.
pub fn train_and_compare(preset: &str, t_max: u64, seed: u64) -> (ReturnStats, ReturnStats) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs").join(preset);
    let overrides =
        [format!("t_max={t_max}"), format!("seed={seed}"), "eval_interval=0".into(), "device=\"cpu\"".into()];
    let cfg = Config::load(&path, &overrides).expect("preset loads");
    let mut trainer = Trainer::new(cfg.clone()).expect("trainer builds");
    trainer.train(|_| {}).expect("training runs");
    let learned = trainer.evaluate(500, true).expect("evaluation runs");
    let random = uniform_random(cfg.env.build().as_mut(), 1000, 99);
    eprintln!("{preset}: {t_max} steps, seed {seed}\n  learned (greedy): {learned}\n  uniform random:   {random}");
    (learned, random)
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Zenoh endpoint `tcp/127.0.0.1:<free port>`.
pub fn free_endpoint() -> String {
    format!("tcp/127.0.0.1:{}", free_port())
}

/// A child process killed and reaped when dropped, so a failing test
/// leaves no agent behind.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `murmur` binary under test, as a command to add arguments to.
pub fn murmur_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_murmur"))
}

/// `murmur agent --model MODEL --swarm SWARM --id ID ARGS..`, started.
pub fn spawn_agent(model: &Path, swarm: &str, id: &str, args: &[&str]) -> Running {
    let mut cmd = murmur_command();
    cmd.args(["agent", "--model"]).arg(model).args(["--swarm", swarm, "--id", id]).args(args);
    Running(cmd.spawn().expect("start murmur agent"))
}

/// A peer session of the test's own that connects to `endpoint` only (no
/// multicast scouting).
pub fn session_to(endpoint: &str) -> zenoh::Session {
    let mut cfg = zenoh::Config::default();
    cfg.insert_json5("mode", r#""peer""#).unwrap();
    cfg.insert_json5("connect/endpoints", &format!(r#"["{endpoint}"]"#)).unwrap();
    cfg.insert_json5("scouting/multicast/enabled", "false").unwrap();
    zenoh::open(cfg).wait().unwrap()
}

/// The Python `mcap` and `mcap-ros2-support` packages (`.venv-checks`)
/// decode `mcap`, through the schemas inside it, to exactly the values of
/// the dataset in `data`: every robot's step and the team's. Returns how
/// many messages were compared.
pub fn mcap_matches_dataset(data: &Path, mcap: &Path) -> usize {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-checks/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/setup-checks (make test does)", python.display());
    let out =
        std::process::Command::new(&python).arg(root.join("tests/ros2/mcap_check.py")).arg(mcap).output().unwrap();
    assert!(out.status.success(), "the Python mcap reader failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schemas"]["murmur_msgs/msg/RobotStep"], "ros2msg");
    assert_eq!(v["channels"]["/team/step"], serde_json::json!(["murmur_msgs/msg/TeamStep", "cdr"]));
    let reader = DatasetReader::open(data).unwrap();
    let (n, o, a) = (reader.header().n_agents, reader.header().obs_dim, reader.header().n_actions);
    assert_eq!(v["metadata"]["murmur.dataset"]["environment"], reader.header().environment.as_str());
    // The values are f32 on both sides; serde_json may read Python's
    // digits one f64 ulp off, which rounding to f32 removes.
    let as_f32 = |y: &serde_json::Value| y.as_f64().map_or(f32::NAN, |z| z as f32);
    let floats = |x: &serde_json::Value| -> Vec<f32> { x.as_array().unwrap().iter().map(as_f32).collect() };
    let mut compared = 0;
    let episodes = reader.episodes().unwrap();
    for i in 0..n {
        let msgs = v["messages"][format!("/robot_{i}/step")].as_array().expect("robot channel");
        let mut k = 0;
        for e in &episodes {
            for t in 0..e.reward.len() {
                let (m, r) = (&msgs[k], t * n + i);
                k += 1;
                let at = format!("robot {i}, episode {}, step {t}", e.entry.episode);
                assert_eq!(
                    (m["episode"].as_u64(), m["step"].as_u64(), m["robot"].as_u64()),
                    (Some(e.entry.episode), Some(t as u64), Some(i as u64)),
                    "{at}"
                );
                assert_eq!(floats(&m["observation"]), e.obs[r * o..(r + 1) * o], "{at}");
                assert_eq!(floats(&m["action_mask"]), e.avail[r * a..(r + 1) * a], "{at}");
                assert_eq!(floats(&m["probabilities"]), e.probs[r * a..(r + 1) * a], "{at}");
                assert_eq!(m["action"].as_i64(), Some(e.actions[r]), "{at}");
                assert_eq!(m["source"].as_u64(), Some(u64::from(e.action_source[r])), "{at}");
                let latency = m["latency_ms"].as_f64().unwrap_or(f64::NAN);
                let want = f64::from(e.answer_us[r]) / 1e3;
                let same = (latency - want).abs() <= 1e-12 * want.abs() || (latency.is_nan() && want.is_nan());
                assert!(same, "{at}: latency {latency} vs {want}");
                // On the recording's clock: the episode's wall-clock start plus the step's time.
                let started: i64 = e.metadata["started_unix_ns"].parse().unwrap();
                assert_eq!(m["log_time"].as_i64(), Some(started + (e.time_s[t] * 1e9).round() as i64), "{at}");
                compared += 1;
            }
        }
        assert_eq!(k, msgs.len(), "robot {i}: one message per recorded step");
    }
    let team = v["messages"]["/team/step"].as_array().expect("team channel");
    let mut k = 0;
    for e in &episodes {
        for t in 0..e.reward.len() {
            let m = &team[k];
            k += 1;
            assert_eq!(as_f32(&m["reward"]), e.reward[t]);
            assert_eq!(m["has_critic_value"].as_bool(), Some(e.critic_value.is_some()));
            if let Some(values) = &e.critic_value {
                assert_eq!(as_f32(&m["critic_value"]), values[t]);
            }
            assert_eq!(m["truncated"].as_bool(), Some(e.truncated[t] != 0));
            assert_eq!(m["terminated"].as_bool(), Some(e.terminated[t] != 0));
            compared += 1;
        }
    }
    assert_eq!(k, team.len(), "one team message per recorded step");
    // Tracked poses, where the bridge had them.
    let tracked: Vec<_> = episodes.iter().filter_map(|e| e.pose.as_ref().map(|p| (e, p))).collect();
    for i in 0..n {
        let msgs = &v["messages"][format!("/robot_{i}/pose")];
        if tracked.is_empty() {
            assert!(msgs.is_null(), "no pose channel without poses");
            continue;
        }
        let msgs = msgs.as_array().expect("a pose channel");
        let mut k = 0;
        for (e, pose) in &tracked {
            for t in 0..e.reward.len() {
                let (m, r) = (&msgs[k], (t * n + i) * 2);
                k += 1;
                assert_eq!(m["header"]["frame_id"], "world");
                let xy = [as_f32(&m["pose"]["position"]["x"]), as_f32(&m["pose"]["position"]["y"])];
                assert_eq!(xy, [pose[r], pose[r + 1]], "robot {i}'s pose, episode {}, step {t}", e.entry.episode);
                compared += 1;
            }
        }
        assert_eq!(k, msgs.len(), "robot {i}: one pose per recorded step");
    }
    compared
}

/// An untrained actor of `spec`, its weights drawn from `seed`, saved as
/// `dir/name` and exported (verified on `sequences` sequences) to
/// `dir/name.onnx`. (Unseeded draws made tests flaky: a few random inits
/// exceed the exporter's 1e-5 hidden-state tolerance over 400 steps.)
pub fn untrained_onnx(dir: &Path, name: &str, spec: ActorSpec, seed: i64, sequences: usize) -> PathBuf {
    tch::manual_seed(seed);
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let options =
        ActorOptions { input_layer_norm: false, orthogonal_init: false, head_layer: false, observation_only: false };
    let _actor = Actor::new(&vs.root(), spec, options);
    let ckpt = checkpoint::save(&dir.join(name), &vs, &[], CheckpointMeta::untrained(spec, options, "test")).unwrap();
    let model = dir.join(format!("{name}.onnx"));
    export_onnx(&ckpt, &model, VerifySettings { sequences, ..Default::default() }).unwrap();
    model
}
