//! The table that turns a policy's discrete actions into ROS 2 commands,
//! read from a TOML file (`murmur agent --ros2 FILE`):
//!
//! ```toml
//! domain_id = 0                # ROS_DOMAIN_ID
//! distro = "jazzy"             # "humble" writes no type hashes
//! namespace = "/robot_{id}"    # {id}: the agent's index
//! node = "murmur_agent"
//! cmd_vel = "cmd_vel"          # geometry_msgs/msg/Twist, relative to the namespace
//! target_topic = "target"      # std_msgs/msg/Int32, for actions with a target
//! connect = ["tcp/localhost:7447"]  # the robot's rmw_zenoh router (the default)
//!
//! [[action]]                   # action 0
//! name = "stay"
//! [[action]]                   # action 1
//! name = "left"
//! linear = [-0.2, 0.0, 0.0]    # m/s
//! [[action]]
//! name = "attack enemy 0"
//! target = 0                   # also published on target_topic
//! ```
//!
//! Every action of the model needs a row; unset velocities are zero.
//! The ROS 2 side is its own Zenoh session, to the robot's ROS 2 network
//! (by default rmw_zenoh's router on the robot): ROS 2 traffic never
//! joins the swarm's session, so a private swarm stays private.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::graph::{qualified_topic, Distro, NodeName};
use super::messages::{Twist, Vector3};
use super::Ros2Error;

/// One action's command.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionCommand {
    /// What the action does, for logs and docs.
    pub name: String,
    /// Linear velocity (x, y, z), m/s.
    #[serde(default)]
    pub linear: [f64; 3],
    /// Angular velocity (x, y, z), rad/s.
    #[serde(default)]
    pub angular: [f64; 3],
    /// A target index published on the target topic (e.g. the enemy a battle action attacks).
    #[serde(default)]
    pub target: Option<i32>,
}

impl ActionCommand {
    /// The velocity command of this action.
    pub fn twist(&self) -> Twist {
        let v = |a: [f64; 3]| Vector3 { x: a[0], y: a[1], z: a[2] };
        Twist { linear: v(self.linear), angular: v(self.angular) }
    }
}

fn default_node() -> String {
    "murmur_agent".into()
}
fn default_namespace() -> String {
    "/robot_{id}".into()
}
fn default_cmd_vel() -> String {
    "cmd_vel".into()
}
fn default_target_topic() -> String {
    "target".into()
}
fn default_depth() -> u32 {
    10
}
/// Where rmw_zenoh's router listens on a ROS 2 machine by default.
pub fn default_connect() -> Vec<String> {
    vec!["tcp/localhost:7447".into()]
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionMap {
    /// ROS domain id.
    #[serde(default)]
    pub domain_id: u32,
    /// The robots' ROS 2 release.
    #[serde(default)]
    pub distro: Distro,
    /// The node's namespace; `{id}` is replaced by the agent's index.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The node's name.
    #[serde(default = "default_node")]
    pub node: String,
    /// The velocity topic (relative names are inside the namespace).
    #[serde(default = "default_cmd_vel")]
    pub cmd_vel: String,
    /// The topic of actions' targets.
    #[serde(default = "default_target_topic")]
    pub target_topic: String,
    /// The publishers' keep-last depth (announced in their QoS).
    #[serde(default = "default_depth")]
    pub depth: u32,
    /// Zenoh endpoints of the robot's ROS 2 network (rmw_zenoh's router).
    #[serde(default = "default_connect")]
    pub connect: Vec<String>,
    /// One row per action, in the model's action order.
    pub action: Vec<ActionCommand>,
}

impl ActionMap {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, Ros2Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Ros2Error::Io { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// Parses and checks a file's text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, Ros2Error> {
        let bad = |why: String| Ros2Error::ActionMap { path: PathBuf::from(path), why };
        let map: ActionMap = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if map.action.is_empty() {
            return Err(bad("no [[action]] rows: one per action of the model is expected".into()));
        }
        for (i, a) in map.action.iter().enumerate() {
            if a.linear.iter().chain(&a.angular).any(|v| !v.is_finite()) {
                return Err(bad(format!("action {i} (`{}`): velocities must be finite numbers", a.name)));
            }
        }
        if map.node.is_empty() || map.node.contains('/') {
            return Err(bad(format!("node `{}`: a node name is one non-empty word", map.node)));
        }
        if map.connect.is_empty() {
            return Err(bad("connect: at least one Zenoh endpoint of the robot's ROS 2 network is needed".into()));
        }
        if !map.namespace.starts_with('/') {
            return Err(bad(format!("namespace `{}`: it must start with `/`", map.namespace)));
        }
        Ok(map)
    }

    /// Checks that the table covers the model's actions exactly.
    pub fn check_actions(&self, n_actions: usize, path: &Path) -> Result<(), Ros2Error> {
        if self.action.len() != n_actions {
            return Err(Ros2Error::ActionMap {
                path: path.into(),
                why: format!("{} [[action]] rows for a model with {n_actions} actions", self.action.len()),
            });
        }
        Ok(())
    }

    /// Agent `id`'s node.
    pub fn node_name(&self, id: usize) -> NodeName {
        NodeName {
            domain: self.domain_id,
            namespace: self.namespace.replace("{id}", &id.to_string()),
            name: self.node.clone(),
        }
    }

    /// Agent `id`'s fully qualified velocity topic (`/robot_0/cmd_vel`).
    pub fn cmd_vel_topic(&self, id: usize) -> String {
        qualified_topic(&self.node_name(id).namespace, &self.cmd_vel)
    }

    /// Agent `id`'s fully qualified target topic.
    pub fn target_topic(&self, id: usize) -> String {
        qualified_topic(&self.node_name(id).namespace, &self.target_topic)
    }

    /// Whether any action has a target (so the target publisher is needed).
    pub fn has_targets(&self) -> bool {
        self.action.iter().any(|a| a.target.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPREAD: &str = r#"
        namespace = "/bot{id}"
        [[action]]
        name = "stay"
        [[action]]
        name = "left"
        linear = [-0.2, 0.0, 0.0]
    "#;

    #[test]
    fn a_table_reads_with_defaults_and_names_topics_per_robot() {
        let map = ActionMap::parse(SPREAD, Path::new("spread.toml")).unwrap();
        assert_eq!((map.domain_id, map.distro, map.depth), (0, Distro::Jazzy, 10));
        assert_eq!(map.cmd_vel_topic(3), "/bot3/cmd_vel");
        assert_eq!(map.action[1].twist().linear.x, -0.2);
        assert_eq!(map.action[0].twist(), Twist::default());
        assert!(map.check_actions(2, Path::new("spread.toml")).is_ok());
        let err = map.check_actions(5, Path::new("spread.toml")).unwrap_err().to_string();
        assert!(err.contains("spread.toml") && err.contains("2 [[action]] rows for a model with 5 actions"), "{err}");
    }

    #[test]
    fn bad_tables_name_the_file_and_the_field() {
        for (text, expected) in [
            ("domain_id = 0", "action"),
            ("[[action]]\nname = \"x\"\nlinear = [1.0, 2.0]", "linear"),
            ("[[action]]\nname = \"x\"\nspeed = 1", "speed"),
            ("distro = \"iron\"\n[[action]]\nname = \"x\"", "iron"),
            ("namespace = \"robot\"\n[[action]]\nname = \"x\"", "namespace"),
        ] {
            let err = ActionMap::parse(text, Path::new("bad.toml")).unwrap_err().to_string();
            assert!(err.contains("bad.toml") && err.contains(expected), "{text}: {err}");
        }
    }
}
