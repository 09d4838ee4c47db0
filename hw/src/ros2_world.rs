//! Real robots on ROS 2 as the coordinator's world (`murmur hil --ros2-world FILE`).
//!
//! Each robot's pose comes from a ROS 2 topic (`geometry_msgs/msg/PoseStamped`
//! or `nav_msgs/msg/Odometry`, e.g. from a motion-capture node), read over
//! rmw_zenoh on a Zenoh session of its own; the landmarks come from the file.
//! The robots move themselves (their agents publish velocity commands, see
//! `murmur agent --ros2`): a step waits out the control period, then takes
//! the latest poses. Observations, state and reward are the spread
//! simulator's, computed at those poses, so an actor trained in simulation
//! sees the arena laid out as in training.
//!
//! A robot whose latest pose is older than `stale_after_ms` is untracked:
//! it gets no observation and counts as missing the step. Payloads that
//! are not well-formed messages of the topic's type, and poses that are
//! not finite numbers, are refused, counted and never applied.
//!
//! ```toml
//! domain_id = 0
//! distro = "jazzy"
//! connect = ["tcp/localhost:7447"]   # the ROS 2 network (rmw_zenoh's router)
//! pose_topic = "/robot_{id}/pose"    # {id}: the robot's index
//! message = "pose_stamped"           # or "odometry"
//! stale_after_ms = 250
//! step_period_ms = 100               # the task's step time
//! metres_per_unit = 1.0              # arena metres per simulator unit
//! landmarks = [[0.5, 0.5], [-0.5, 0.0], [0.0, -0.6]]   # metres
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use murmur_runtime::ros2::action_map::default_connect;
use murmur_runtime::ros2::graph::NodeName;
use murmur_runtime::ros2::messages::{Odometry, Pose, PoseStamped, RosMessage};
use murmur_runtime::ros2::node::{open_session, Ros2Node, RosSubscription};
use murmur_runtime::ros2::{Distro, Ros2Error};
use murmur_train::env::batch::Dims;
use murmur_train::env::{Environment, StepOutcome};
use murmur_train::env::{Spread, SpreadConfig};
use serde::Deserialize;
use zenoh::{Session, Wait};

use crate::bridge::{BridgeError, RobotBridge};

/// Which message carries each robot's pose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoseMessage {
    /// `geometry_msgs/msg/PoseStamped`.
    #[default]
    PoseStamped,
    /// `nav_msgs/msg/Odometry` (its pose; velocities are taken from poses).
    Odometry,
}

fn default_pose_topic() -> String {
    "/robot_{id}/pose".into()
}
fn default_stale_after_ms() -> u64 {
    250
}
fn default_step_period_ms() -> u64 {
    100
}
fn default_metres_per_unit() -> f64 {
    1.0
}
fn default_start_timeout_s() -> f64 {
    10.0
}

/// The `--ros2-world` file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoseWorldConfig {
    /// ROS domain id.
    #[serde(default)]
    pub domain_id: u32,
    /// The robots' ROS 2 release.
    #[serde(default)]
    pub distro: Distro,
    /// Zenoh endpoints of the ROS 2 network.
    #[serde(default = "default_connect")]
    pub connect: Vec<String>,
    /// Each robot's pose topic; `{id}` is its index.
    #[serde(default = "default_pose_topic")]
    pub pose_topic: String,
    /// The pose topics' message type.
    #[serde(default)]
    pub message: PoseMessage,
    /// A pose older than this (ms) leaves its robot untracked.
    #[serde(default = "default_stale_after_ms")]
    pub stale_after_ms: u64,
    /// The control period: one step's duration (ms).
    #[serde(default = "default_step_period_ms")]
    pub step_period_ms: u64,
    /// Arena metres per simulator unit.
    #[serde(default = "default_metres_per_unit")]
    pub metres_per_unit: f64,
    /// Landmark positions in the arena (x, y metres), one per robot.
    pub landmarks: Vec<[f64; 2]>,
    /// How long an episode's start waits for every robot's pose (s).
    #[serde(default = "default_start_timeout_s")]
    pub start_timeout_s: f64,
}

impl PoseWorldConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, BridgeError> {
        let bad = |msg: String| BridgeError { bridge: "ros2".into(), msg: format!("{}: {msg}", path.display()) };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let cfg: PoseWorldConfig = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(cfg.metres_per_unit) {
            return Err(bad(format!("metres_per_unit = {}: a positive number is expected", cfg.metres_per_unit)));
        }
        if cfg.stale_after_ms == 0 || cfg.step_period_ms == 0 || !positive(cfg.start_timeout_s) {
            return Err(bad("stale_after_ms, step_period_ms and start_timeout_s must be positive".into()));
        }
        if cfg.landmarks.iter().flatten().any(|v| !v.is_finite()) {
            return Err(bad("landmarks: finite [x, y] pairs in metres are expected".into()));
        }
        if !cfg.pose_topic.contains("{id}") {
            return Err(bad(format!("pose_topic `{}`: it must contain {{id}} (one topic per robot)", cfg.pose_topic)));
        }
        Ok(cfg)
    }

    /// Robot `i`'s pose topic.
    pub fn topic(&self, i: usize) -> String {
        self.pose_topic.replace("{id}", &i.to_string())
    }
}

/// The latest pose heard from one robot.
#[derive(Debug, Clone, Copy, Default)]
struct Track {
    /// Position, metres.
    position: Option<[f64; 2]>,
    /// When it arrived.
    received: Option<Instant>,
}

/// The spread task played by real robots tracked over ROS 2.
pub struct PoseWorld {
    cfg: PoseWorldConfig,
    env: Spread,
    tracks: Arc<Mutex<Vec<Track>>>,
    refused: Arc<AtomicU64>,
    /// Positions (units) and when they were taken, at the last step.
    last: Vec<[f64; 2]>,
    last_at: Instant,
    step_started: Instant,
    untracked: Vec<bool>,
    _subscriptions: Vec<RosSubscription>,
    _node: Ros2Node,
    session: Session,
}

fn error(msg: impl Into<String>) -> BridgeError {
    BridgeError { bridge: "ros2".into(), msg: msg.into() }
}

fn ros_error(e: Ros2Error) -> BridgeError {
    error(e.to_string())
}

/// A pose's (x, y), if every number of it is finite.
fn planar(pose: &Pose) -> Option<[f64; 2]> {
    let p = pose.position;
    let q = pose.orientation;
    [p.x, p.y, p.z, q.x, q.y, q.z, q.w].iter().all(|v| v.is_finite()).then_some([p.x, p.y])
}

impl PoseWorld {
    /// Subscribes to every robot's pose topic on the configured network.
    pub fn new(cfg: PoseWorldConfig, task: SpreadConfig) -> Result<Self, BridgeError> {
        let n = task.n_agents;
        if cfg.landmarks.len() != n {
            return Err(error(format!(
                "{} landmarks in the file for a team of {n} (spread has one per robot)",
                cfg.landmarks.len()
            )));
        }
        let session = open_session(&cfg.connect).map_err(ros_error)?;
        let name = NodeName { domain: cfg.domain_id, namespace: "/".into(), name: "murmur_coordinator".into() };
        let node = Ros2Node::new(&session, name, cfg.distro).map_err(ros_error)?;
        let tracks = Arc::new(Mutex::new(vec![Track::default(); n]));
        let refused = Arc::new(AtomicU64::new(0));
        let mut subscriptions = Vec::with_capacity(n);
        for i in 0..n {
            let topic = cfg.topic(i);
            let sub = match cfg.message {
                PoseMessage::PoseStamped => {
                    subscribe::<PoseStamped>(&node, &topic, i, &tracks, &refused, |m| planar(&m.pose))
                }
                PoseMessage::Odometry => {
                    subscribe::<Odometry>(&node, &topic, i, &tracks, &refused, |m| planar(&m.pose.pose))
                }
            }
            .map_err(ros_error)?;
            log::info!("robot {i}'s pose: {topic} ({:?}, on {})", cfg.message, sub.key());
            subscriptions.push(sub);
        }
        let now = Instant::now();
        Ok(PoseWorld {
            env: Spread::new(task),
            tracks,
            refused,
            last: vec![[0.0; 2]; n],
            last_at: now,
            step_started: now,
            untracked: vec![false; n],
            _subscriptions: subscriptions,
            _node: node,
            session,
            cfg,
        })
    }

    fn n(&self) -> usize {
        self.last.len()
    }

    /// Moves the simulated agents to the latest fresh poses; robots
    /// without one keep their last position, standing still, untracked.
    fn sync(&mut self) {
        let now = Instant::now();
        let stale_after = Duration::from_millis(self.cfg.stale_after_ms);
        let tracks = self.tracks.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let dt = now.duration_since(self.last_at).as_secs_f64().max(1e-3);
        let mut positions = self.last.clone();
        let mut velocities = vec![[0.0; 2]; self.n()];
        for (i, track) in tracks.iter().enumerate() {
            let fresh = track.received.is_some_and(|at| now.duration_since(at) <= stale_after);
            match (fresh, track.position) {
                (true, Some(p)) => {
                    let p = [p[0] / self.cfg.metres_per_unit, p[1] / self.cfg.metres_per_unit];
                    velocities[i] = [(p[0] - self.last[i][0]) / dt, (p[1] - self.last[i][1]) / dt];
                    positions[i] = p;
                    if self.untracked[i] {
                        log::info!("robot {i}'s pose is fresh again");
                    }
                    self.untracked[i] = false;
                }
                _ => {
                    if !self.untracked[i] {
                        log::warn!("robot {i}: no pose within {stale_after:?} on {}: untracked", self.cfg.topic(i));
                    }
                    self.untracked[i] = true;
                }
            }
        }
        self.env.place_agents(&positions, &velocities);
        self.last = positions;
        self.last_at = now;
    }
}

/// Subscribes robot `i`'s pose topic: well-formed, finite poses update its
/// track; everything else is counted as refused.
fn subscribe<M: RosMessage + Send + 'static>(
    node: &Ros2Node,
    topic: &str,
    i: usize,
    tracks: &Arc<Mutex<Vec<Track>>>,
    refused: &Arc<AtomicU64>,
    position: fn(&M) -> Option<[f64; 2]>,
) -> Result<RosSubscription, Ros2Error> {
    let (tracks, refused_bad, refused_malformed) = (Arc::clone(tracks), Arc::clone(refused), Arc::clone(refused));
    let topic_name = topic.to_string();
    node.subscribe::<M>(
        topic,
        move |msg, _attachment| match position(&msg) {
            Some(p) => {
                let mut t = tracks.lock().unwrap_or_else(PoisonError::into_inner);
                t[i] = Track { position: Some(p), received: Some(Instant::now()) };
            }
            None => {
                refused_bad.fetch_add(1, Ordering::Relaxed);
                log::warn!("refused a pose on {topic_name}: not finite numbers");
            }
        },
        move |why| {
            refused_malformed.fetch_add(1, Ordering::Relaxed);
            log::warn!("refused a payload for robot {i}: {why}");
        },
    )
}

impl Drop for PoseWorld {
    fn drop(&mut self) {
        let _ = self.session.close().wait();
    }
}

impl RobotBridge for PoseWorld {
    fn name(&self) -> &str {
        "spread"
    }
    fn dims(&self) -> Dims {
        Dims::of(&self.env)
    }
    fn reset(&mut self, seed: u64) -> Result<(), BridgeError> {
        self.env.reset(seed);
        let unit = self.cfg.metres_per_unit;
        let landmarks: Vec<[f64; 2]> = self.cfg.landmarks.iter().map(|l| [l[0] / unit, l[1] / unit]).collect();
        self.env.place_landmarks(&landmarks);
        // The episode starts where the robots are, once every one is seen.
        let deadline = Instant::now() + Duration::from_secs_f64(self.cfg.start_timeout_s);
        loop {
            self.last_at = Instant::now();
            self.sync();
            // No velocity at the start: the robots are taken as at rest.
            let positions = self.last.clone();
            self.env.place_agents(&positions, &vec![[0.0; 2]; self.n()]);
            let unseen: Vec<usize> = (0..self.n()).filter(|&i| self.untracked[i]).collect();
            if unseen.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                let topics: Vec<String> = unseen.iter().map(|&i| self.cfg.topic(i)).collect();
                return Err(error(format!(
                    "no fresh pose from robots {unseen:?} within {} s (topics {topics:?}, via {:?})",
                    self.cfg.start_timeout_s, self.cfg.connect
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.step_started = Instant::now();
        Ok(())
    }
    fn observe(&mut self, agent: usize, obs: &mut [f32], avail: &mut [f32]) -> Result<(), BridgeError> {
        self.env.write_obs(agent, obs);
        self.env.write_avail_actions(agent, avail);
        Ok(())
    }
    fn state(&mut self, out: &mut [f32]) -> Result<(), BridgeError> {
        self.env.write_state(out);
        Ok(())
    }
    fn apply(&mut self, _actions: &[usize]) -> Result<StepOutcome, BridgeError> {
        // The robots act on their own commands; the step lasts one period.
        let due = self.step_started + Duration::from_millis(self.cfg.step_period_ms);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        self.step_started = Instant::now();
        self.sync();
        Ok(self.env.step_tracked())
    }
    fn agent_rewards(&self) -> Option<&[f64]> {
        self.env.agent_rewards()
    }
    fn untracked(&self) -> Vec<usize> {
        (0..self.n()).filter(|&i| self.untracked[i]).collect()
    }
    fn poses(&self) -> Option<Vec<[f64; 2]>> {
        let unit = self.cfg.metres_per_unit;
        Some(self.last.iter().map(|p| [p[0] * unit, p[1] * unit]).collect())
    }
    fn refused_inputs(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}
