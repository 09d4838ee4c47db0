//! The agent's commands as ROS 2 messages: each action the agent decides
//! (policy, fallback or stale stop) goes out as the Twist its row of the
//! [`ActionMap`] gives, and its target, if any, as an `std_msgs/msg/Int32`.

use std::path::Path;

use zenoh::{Session, Wait};

use super::action_map::ActionMap;
use super::messages::{Int32, Twist};
use super::node::{open_session, Ros2Node, RosPublisher};
use super::Ros2Error;
use crate::agent::{Actuator, Command};

/// Publishes an agent's commands to its robot over rmw_zenoh.
pub struct Ros2Actuator {
    map: ActionMap,
    cmd_vel: RosPublisher<Twist>,
    target: Option<RosPublisher<Int32>>,
    _node: Ros2Node,
    session: Session,
}

impl Ros2Actuator {
    /// The node, publishers and tokens of agent `id`, for a model with
    /// `n_actions` actions (the table must have exactly that many rows), on
    /// a Zenoh session of their own to the table's ROS 2 network.
    pub fn new(map: ActionMap, map_path: &Path, id: usize, n_actions: usize) -> Result<Self, Ros2Error> {
        map.check_actions(n_actions, map_path)?;
        let session = open_session(&map.connect)?;
        let node = Ros2Node::new(&session, map.node_name(id), map.distro)?;
        let cmd_vel = node.publisher::<Twist>(&map.cmd_vel_topic(id), map.depth)?;
        let target =
            if map.has_targets() { Some(node.publisher::<Int32>(&map.target_topic(id), map.depth)?) } else { None };
        log::info!(
            "ROS 2 node {}/{} (domain {}, {:?}, via {:?}): actions go to {} as geometry_msgs/msg/Twist",
            map.node_name(id).namespace,
            map.node,
            map.domain_id,
            map.distro,
            map.connect,
            map.cmd_vel_topic(id)
        );
        Ok(Ros2Actuator { map, cmd_vel, target, _node: node, session })
    }
}

impl Drop for Ros2Actuator {
    fn drop(&mut self) {
        // Closing the session withdraws the node's tokens at once, so
        // `ros2 node list` forgets the node when the agent stops.
        let _ = self.session.close().wait();
    }
}

impl Actuator for Ros2Actuator {
    fn command(&mut self, command: &Command) {
        // The agent only sends actions below n_actions, which the table covers.
        let Some(row) = self.map.action.get(command.action) else {
            log::error!("action {} has no row in the ROS 2 action table", command.action);
            return;
        };
        if let Err(e) = self.cmd_vel.publish(&row.twist()) {
            log::warn!("cannot publish on {}: {e}", self.cmd_vel.key());
        }
        if let (Some(target), Some(publisher)) = (row.target, self.target.as_mut()) {
            if let Err(e) = publisher.publish(&Int32 { data: target }) {
                log::warn!("cannot publish on {}: {e}", publisher.key());
            }
        }
    }
}
