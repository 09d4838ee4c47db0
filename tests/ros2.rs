//! ROS 2, checked against independent implementations (`.venv-checks`,
//! from scripts/setup-checks): the `rosbags` package computes every type
//! hash and decodes and re-encodes every CDR payload murmur writes, and a
//! Python eclipse-zenoh subscriber, which names the topic key from
//! rosbags' hash, receives `murmur agent`'s velocity commands with
//! rmw_zenoh's attachment and sees its liveliness tokens, on a network
//! apart from the swarm's.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use std::sync::atomic::AtomicBool;

use murmur::hw::coordinator::{HilOptions, Pacing};
use murmur::hw::recorder::Origin;
use murmur::hw::ros2_world::PoseWorldConfig;
use murmur::hw::session::{run_hil, HilRun, SpawnAgents};
use murmur::runtime::policy::OnnxPolicy;
use murmur::runtime::ros2::messages::{
    encode, Header, Int32, Odometry, Pose, PoseStamped, PoseWithCovariance, Quaternion, RobotStep, RosMessage,
    TeamStep, Time, Twist, TwistWithCovariance, Vector3,
};
use murmur::runtime::ros2::type_hash::rihs01;
use murmur::runtime::ros2::{types, ActionMap};
use murmur::runtime::swarm::ZenohOptions;
use murmur::runtime::wire::{ActionMsg, ObservationMsg, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur::runtime::{ActorSpec, ModelFormat, Policy};
use murmur::train::config::EnvConfig;
use murmur::train::dataset::DatasetReader;
use murmur::train::env::Environment;
use serde_json::{json, Value};
use zenoh::Wait;

mod common;
use common::{free_port, session_to, Running};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The independent checkers' interpreter.
fn checks_python() -> PathBuf {
    let python = root().join(".venv-checks/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/setup-checks (make test does)", python.display());
    python
}

fn payload<M: RosMessage>(msg: &M) -> Value {
    json!({ "type": M::TYPE.name, "cdr_hex": hex(&encode(msg).unwrap()) })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// murmur's value of a message, as rosbags' fields would show it.
fn fields<M: RosMessage>(msg: &M) -> Value {
    serde_json::to_value(msg).unwrap()
}

#[test]
fn type_hashes_and_cdr_payloads_match_rosbags() {
    let dir = tempfile::tempdir().unwrap();
    // Values exactly representable in f32 where the field is f32, so both
    // sides print the same numbers.
    let header = Header { stamp: Time { sec: 1_733_000_000, nanosec: 250_000_000 }, frame_id: "map".into() };
    let pose = Pose {
        position: Vector3 { x: 1.5, y: -0.25, z: 0.0 },
        orientation: Quaternion { x: 0.0, y: 0.0, z: 0.5, w: 0.75 },
    };
    let twist = Twist { linear: Vector3 { x: 0.2, y: -0.1, z: 0.0 }, angular: Vector3 { x: 0.0, y: 0.0, z: 1.25 } };
    let mut covariance = [0.0; 36];
    covariance.iter_mut().enumerate().for_each(|(i, c)| *c = i as f64 * 0.5);
    let odometry = Odometry {
        header: header.clone(),
        child_frame_id: "robot_0/base_link".into(),
        pose: PoseWithCovariance { pose, covariance },
        twist: TwistWithCovariance { twist, covariance },
    };
    let robot_step = RobotStep {
        header: header.clone(),
        episode: 3,
        step: 7,
        robot: 2,
        observation: vec![0.5, -1.25, 3.0],
        action_mask: vec![1.0, 0.0, 1.0, 1.0, 1.0],
        action: 4,
        probabilities: vec![0.25, 0.0, 0.125, 0.125, 0.5],
        source: 0,
        source_name: "policy".into(),
        latency_ms: 1.375,
    };
    let team_step = TeamStep {
        header: header.clone(),
        episode: 3,
        step: 7,
        reward: -2.5,
        critic_value: -11.75,
        has_critic_value: true,
        terminated: false,
        truncated: true,
    };
    let messages = [
        (payload(&twist), fields(&twist)),
        (payload(&PoseStamped { header: header.clone(), pose }), fields(&PoseStamped { header: header.clone(), pose })),
        (payload(&odometry), fields(&odometry)),
        (payload(&Int32 { data: -7 }), fields(&Int32 { data: -7 })),
        (payload(&robot_step), fields(&robot_step)),
        (payload(&team_step), fields(&team_step)),
    ];
    let type_list: Vec<Value> = types::ALL
        .iter()
        .map(|t| {
            // rosbags registers murmur's own types from their fields alone
            // (the standard types they nest are in its store).
            let text = t.msg_definition();
            let own = text.split("====").next().unwrap_or_default().to_string();
            json!({ "name": t.name, "fields_text": own })
        })
        .collect();
    let request =
        json!({ "types": type_list, "payloads": messages.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>() });
    let request_path = dir.path().join("request.json");
    std::fs::write(&request_path, request.to_string()).unwrap();
    let out = Command::new(checks_python())
        .arg(root().join("tests/ros2/rosbags_check.py"))
        .arg(&request_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "rosbags failed: {}", String::from_utf8_lossy(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();

    for t in types::ALL {
        assert_eq!(answer["hashes"][t.name], rihs01(t).as_str(), "{}'s type hash", t.name);
    }
    for ((sent, ours), theirs) in messages.iter().zip(answer["payloads"].as_array().unwrap()) {
        let name = sent["type"].as_str().unwrap();
        assert_eq!(theirs["reencoded_hex"], sent["cdr_hex"], "{name}: rosbags encodes other bytes");
        assert_eq!(strip_msgtype(&theirs["decoded"]), *ours, "{name}: rosbags decodes other values");
    }
}

/// rosbags' messages carry no extra fields; drop any it may add.
fn strip_msgtype(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, _)| !k.starts_with("__")).map(|(k, v)| (k.clone(), strip_msgtype(v))).collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_msgtype).collect()),
        other => other.clone(),
    }
}

const SPEC: ActorSpec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 64 };

fn exported(dir: &Path) -> PathBuf {
    common::untrained_onnx(dir, "actor", SPEC, 1, 8)
}

#[test]
fn a_python_ros2_subscriber_receives_each_command_as_a_twist() {
    const STEPS: u32 = 12;
    let dir = tempfile::tempdir().unwrap();
    let model = exported(dir.path());
    // The shipped table, pointed at the listener standing in for the
    // robot's ROS 2 network.
    let ros_endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let shipped = std::fs::read_to_string(root().join("configs/ros2/spread_cmd_vel.toml")).unwrap();
    let table_path = dir.path().join("cmd_vel.toml");
    std::fs::write(&table_path, format!("connect = [\"{ros_endpoint}\"]\n{shipped}")).unwrap();
    let table = ActionMap::load(&table_path).unwrap();
    let port = free_port();
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let config = dir.path().join("agent.json5");
    std::fs::write(
        &config,
        format!(r#"{{ mode: "peer", listen: {{ endpoints: ["{endpoint}"] }}, scouting: {{ multicast: {{ enabled: false }} }} }}"#),
    )
    .unwrap();
    let swarm = format!("ros2-{}", std::process::id());
    let config_arg = config.to_str().unwrap();
    let table_arg = table_path.to_str().unwrap();
    let mut listener = Running(
        Command::new(checks_python())
            .arg(root().join("tests/ros2/twist_listener.py"))
            .args([ros_endpoint.as_str(), &STEPS.to_string(), "40"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(listener.0.stdout.take().unwrap()).lines();
    let listening: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(listening["listening"], ros_endpoint.as_str());
    // No stale commands during the test: only answered observations move the robot.
    let _agent = common::spawn_agent(
        &model,
        &swarm,
        "1",
        &["--stale-after", "60000", "--zenoh-config", config_arg, "--ros2", table_arg],
    );

    let ready: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let tokens: Vec<&str> = ready["tokens"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        tokens.iter().any(|t| t.ends_with("/NN/%/%robot_1/murmur_agent")),
        "the node's token, as `ros2 node list` reads it: {tokens:?}"
    );
    let publisher_token = tokens.iter().find(|t| t.contains("/MP/")).expect("a publisher token");
    assert!(
        publisher_token.ends_with(&format!(
            "/MP/%/%robot_1/murmur_agent/%robot_1%cmd_vel/geometry_msgs::msg::dds_::Twist_/{}/::,10:,:,:,,",
            rihs01(&types::TWIST)
        )),
        "{publisher_token}"
    );

    // The coordinator's part: observations in, actions back.
    let session = session_to(&endpoint);
    let base = format!("murmur/{swarm}/agent/1");
    let publisher = session.declare_publisher(format!("{base}/obs")).wait().unwrap();
    let answers = session.declare_subscriber(format!("{base}/act")).wait().unwrap();
    let mut local = OnnxPolicy::load(&model, 1).unwrap();
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    let mut actions = Vec::new();
    for step in 0..STEPS {
        let obs: Vec<f32> = (0..SPEC.obs_dim).map(|i| ((step as usize * 7 + i * 3) % 13) as f32 * 0.3 - 1.8).collect();
        // One allowed action per step, in turn: every row of the table is commanded.
        let mut avail = [0.0f32; 5];
        avail[step as usize % 5] = 1.0;
        let msg = ObservationMsg {
            version: WIRE_VERSION,
            session: 1,
            episode: 1,
            step,
            reset: step == 0,
            obs: heapless::Vec::from_slice(&obs).unwrap(),
            avail: heapless::Vec::from_slice(&avail).unwrap(),
        };
        publisher.put(msg.encode(&mut buf).unwrap().to_vec()).wait().unwrap();
        let sample = answers.recv_timeout(Duration::from_secs(10)).unwrap().expect("an answer within 10 s");
        let reply = ActionMsg::decode(&sample.payload().to_bytes(), &SPEC).unwrap();
        assert_eq!(usize::from(reply.action), local.step(&obs, &avail).unwrap().action);
        assert_eq!(usize::from(reply.action), step as usize % 5, "the only allowed action");
        actions.push(usize::from(reply.action));
    }

    let mut received: Vec<Value> = lines.map(|l| serde_json::from_str(&l.unwrap()).unwrap()).collect();
    let leaked = received.pop().expect("the listener's last line");
    assert_eq!(leaked["swarm_samples_seen"], json!([]), "swarm traffic reached the ROS 2 network");
    assert_eq!(received.len(), STEPS as usize, "one Twist per command: {received:?}");
    let distinct: std::collections::BTreeSet<usize> = actions.iter().copied().collect();
    println!("actions {actions:?}");
    for (k, (twist, &action)) in received.iter().zip(&actions).enumerate() {
        let row = table.action[action].twist();
        assert_eq!(twist["linear"], json!([row.linear.x, row.linear.y, row.linear.z]), "command {k}");
        assert_eq!(twist["angular"], json!([row.angular.x, row.angular.y, row.angular.z]), "command {k}");
        assert_eq!(twist["attachment_bytes"], 33);
        assert_eq!(twist["seq"], k as i64 + 1, "sequence numbers count from 1");
        assert_eq!(twist["gid_hex"], received[0]["gid_hex"], "one publisher GID");
        let age_ns = murmur::runtime::ros2::node::now_ns() - twist["timestamp_ns"].as_i64().unwrap();
        assert!((0..60_000_000_000).contains(&age_ns), "the source timestamp is the publish time: {age_ns} ns ago");
    }
    assert_eq!(distinct.len(), 5, "every action was commanded: {actions:?}");
}

/// `murmur hil` plays spread with robots tracked over ROS 2: a Python
/// motion-capture stand-in (eclipse-zenoh + rosbags) publishes
/// PoseStamped messages, and the recorded observations are built from
/// exactly those poses; a robot whose poses stop counts as missing until
/// they come back; payloads that are not CDR and NaN poses are refused and
/// never applied.
#[test]
fn hil_plays_spread_with_robots_tracked_over_ros2() {
    tracked_world_run("pose_stamped");
}

/// The same with the poses in `nav_msgs/msg/Odometry` messages.
#[test]
fn hil_tracks_robots_by_their_odometry() {
    tracked_world_run("odometry");
}

fn tracked_world_run(message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let model = exported(dir.path());
    let ros_endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let mut mocap = Running(
        Command::new(checks_python())
            .arg(root().join("tests/ros2/pose_publisher.py"))
            .args([ros_endpoint.as_str(), "3", "120", message])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(mocap.0.stdout.take().unwrap()).lines();
    let listening: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(listening["listening"], ros_endpoint.as_str());

    // The shipped world file, pointed at the stand-in, with a short step.
    let shipped = std::fs::read_to_string(root().join("configs/ros2/spread_world.toml")).unwrap();
    let world_path = dir.path().join("world.toml");
    let world_text = shipped
        .replace("connect = [\"tcp/localhost:7447\"]", &format!("connect = [\"{ros_endpoint}\"]"))
        .replace("step_period_ms = 100", "step_period_ms = 50")
        .replace("stale_after_ms = 250", "stale_after_ms = 150")
        .replace("message = \"pose_stamped\"", &format!("message = \"{message}\""));
    std::fs::write(&world_path, world_text).unwrap();
    let world = PoseWorldConfig::load(&world_path).unwrap();
    assert_eq!(world.connect, std::slice::from_ref(&ros_endpoint));
    assert_eq!(format!("{:?}", world.message).to_lowercase().replace('_', ""), message.replace('_', ""));

    let data = dir.path().join("data");
    let hil = HilRun {
        env: EnvConfig::parse("spread", &["max_cycles=12".to_string()]).unwrap(),
        swarm: format!("ros2-world-{}", std::process::id()),
        options: HilOptions {
            episodes: 4,
            pacing: Pacing::Lockstep,
            step_timeout: Duration::from_secs(2),
            join_timeout: Duration::from_secs(60),
            ..Default::default()
        },
        record: Some(data.clone()),
        critic: None,
        spawn: Some(SpawnAgents {
            exe: PathBuf::from(env!("CARGO_BIN_EXE_murmur")),
            model: model.clone(),
            format: ModelFormat::Onnx,
            stale_after_ms: 5000,
            trusted_model_keys: vec![],
        }),
        zenoh: ZenohOptions::default(),
        ros2_world: Some(world),
    };
    let summary = run_hil(&hil, &AtomicBool::new(false), |_| {}).unwrap();
    println!("{summary}");
    assert!(summary.bridge_refused >= 2, "malformed and NaN poses refused: {}", summary.bridge_refused);

    let reader = DatasetReader::open(&data).unwrap();
    let (n, o) = (reader.header().n_agents, reader.header().obs_dim);
    let (mut robot1_x, mut robot2_sources) = (std::collections::BTreeSet::new(), Vec::new());
    for e in reader.episodes().unwrap() {
        for t in 0..e.reward.len() {
            let pos = |i: usize| {
                let r = (t * n + i) * o;
                [e.obs[r + 2], e.obs[r + 3]]
            };
            // Robot 0 stands still: no refused payload ever moved it.
            assert_eq!(pos(0), [-0.6f32, 0.2], "episode {} step {t}", e.entry.episode);
            // Its first landmark, relative to it, is where the file puts it.
            let r0 = 0;
            assert_eq!([e.obs[r0 + 4], e.obs[r0 + 5]], [0.6f32, -0.2], "landmark 0 relative to robot 0");
            // Robot 1 is where one of its published poses put it.
            let [x, y] = pos(1);
            let k = ((f64::from(x) + 0.3) / 0.01).round();
            assert!((0.0..100.0).contains(&k) && (f64::from(x) - (-0.3 + 0.01 * k)).abs() < 1e-6, "robot 1 at x = {x}");
            assert_eq!(y, -0.4f32);
            robot1_x.insert(k as i64);
            for i in [0, 1] {
                assert_eq!(e.action_source[t * n + i], Origin::Policy as u8, "robots 0 and 1 are always tracked");
            }
            robot2_sources.push(e.action_source[t * n + 2]);
        }
    }
    assert!(robot1_x.len() >= 5, "robot 1 moved through its poses: {robot1_x:?}");
    let missed = robot2_sources.iter().filter(|&&s| s == Origin::Missed as u8).count();
    let decided = robot2_sources.iter().filter(|&&s| s == Origin::Policy as u8).count();
    assert!(missed >= 1 && decided >= 1, "robot 2 missed {missed} steps while its poses were stale, decided {decided}");
    assert_eq!(summary.deadline_misses()[2] as usize, missed);
    assert_eq!(&summary.deadline_misses()[..2], [0, 0]);

    // The tracked poses are recorded, and open as PoseStamped in MCAP.
    for e in reader.episodes().unwrap() {
        let pose = e.pose.as_ref().expect("a tracked world records poses");
        for t in 0..e.reward.len() {
            for i in 0..n {
                let r = (t * n + i) * o;
                assert_eq!(pose[(t * n + i) * 2..][..2], e.obs[r + 2..r + 4], "the pose the observation was built at");
            }
        }
    }
    let mcap = dir.path().join("world.mcap");
    let out = common::murmur_command().args(["dataset", "mcap"]).arg(&data).arg("-o").arg(&mcap).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let steps: usize = reader.episodes().unwrap().iter().map(|e| e.reward.len()).sum();
    assert_eq!(common::mcap_matches_dataset(&data, &mcap), steps * (3 + 1 + 3), "robots, team and poses");
}

/// The shipped action tables cover their tasks' actions exactly, and the
/// battle table's attacks name the enemies in the task's order.
#[test]
fn shipped_action_tables_fit_their_tasks() {
    for (file, env, overrides) in [
        ("spread_cmd_vel.toml", "spread", vec![]),
        ("battle_3m_cmd_vel.toml", "battle", vec!["map=\"3m\"".to_string()]),
    ] {
        let path = root().join("configs/ros2").join(file);
        let table = ActionMap::load(&path).unwrap();
        let n_actions = EnvConfig::parse(env, &overrides).unwrap().build().n_actions();
        table.check_actions(n_actions, &path).unwrap();
        let targets: Vec<i32> = table.action.iter().filter_map(|a| a.target).collect();
        let expected: Vec<i32> = if env == "battle" { (0..3).collect() } else { vec![] };
        assert_eq!(targets, expected, "{file}");
    }
}
