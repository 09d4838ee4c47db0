//! Where ROS 2 data lives on Zenoh, as rmw_zenoh names it: the key
//! expression of a topic's samples and the liveliness tokens that make a
//! node and its publishers visible to `ros2 node list` / `ros2 topic list`.
//!
//! - topic: `<domain>/<topic without its outer slashes>/<DDS type>/<type hash>`;
//! - token: `@ros2_lv/<domain>/<zenoh id>/<node id>/<entity id>/<NN|MP|MS>/<enclave>/<namespace>/<node>`
//!   and, for a publisher or subscription, `/<topic>/<DDS type>/<type hash>/<QoS>`,
//!   with every `/` inside a component written `%`.

use serde::{Deserialize, Serialize};

use super::type_hash::rihs01;
use super::types::MessageType;

/// Which ROS 2 release the robots run: it decides the type-hash component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distro {
    /// Humble: no type hashes (`TypeHashNotSupported`).
    Humble,
    /// Jazzy and later: RIHS01 hashes.
    #[default]
    Jazzy,
    /// Kilted (same naming as Jazzy).
    Kilted,
    /// Rolling (same naming as Jazzy).
    Rolling,
}

impl Distro {
    /// The type-hash component of `t`'s keys on this distro.
    pub fn type_hash(self, t: &MessageType) -> String {
        match self {
            Distro::Humble => "TypeHashNotSupported".to_string(),
            Distro::Jazzy | Distro::Kilted | Distro::Rolling => rihs01(t),
        }
    }
}

/// A fully qualified topic name from a namespace and a (relative or
/// absolute) topic name: (`/robot_0`, `cmd_vel`) -> `/robot_0/cmd_vel`.
pub fn qualified_topic(namespace: &str, topic: &str) -> String {
    if topic.starts_with('/') {
        return topic.to_string();
    }
    let ns = namespace.trim_end_matches('/');
    format!("{ns}/{topic}")
}

/// The key expression of `topic`'s samples of type `t` in `domain`.
pub fn topic_key(domain: u32, topic: &str, t: &MessageType, distro: Distro) -> String {
    format!("{domain}/{}/{}/{}", topic.trim_matches('/'), t.dds_name(), distro.type_hash(t))
}

/// The QoS component of a token: reliable, volatile, keep-last `depth`,
/// everything else rmw_zenoh's default (an empty field means "default").
pub fn qos_component(depth: u32) -> String {
    format!("::,{depth}:,:,:,,")
}

/// A ROS 2 node as the graph sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeName {
    /// ROS domain id (`ROS_DOMAIN_ID`).
    pub domain: u32,
    /// Namespace, `/` for none (`/robot_0`).
    pub namespace: String,
    /// Node name (`murmur_agent`).
    pub name: String,
}

/// One entity of the graph that a token announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    /// A node (`NN`).
    Node,
    /// A publisher (`MP`).
    Publisher,
    /// A subscription (`MS`).
    Subscription,
}

impl EntityKind {
    fn code(self) -> &'static str {
        match self {
            EntityKind::Node => "NN",
            EntityKind::Publisher => "MP",
            EntityKind::Subscription => "MS",
        }
    }
}

fn mangle(component: &str) -> String {
    component.replace('/', "%")
}

/// The liveliness token of the node itself (`entity_id` = `node_id` by rmw_zenoh's convention).
pub fn node_token(zenoh_id: &str, node_id: u32, node: &NodeName) -> String {
    token_prefix(zenoh_id, node_id, node_id, EntityKind::Node, node)
}

/// The liveliness token of a publisher or subscription of `node` on `topic` (fully qualified).
#[allow(clippy::too_many_arguments)]
pub fn endpoint_token(
    zenoh_id: &str,
    node_id: u32,
    entity_id: u32,
    kind: EntityKind,
    node: &NodeName,
    topic: &str,
    t: &MessageType,
    distro: Distro,
    depth: u32,
) -> String {
    format!(
        "{}/{}/{}/{}/{}",
        token_prefix(zenoh_id, node_id, entity_id, kind, node),
        mangle(topic),
        t.dds_name(),
        distro.type_hash(t),
        qos_component(depth)
    )
}

fn token_prefix(zenoh_id: &str, node_id: u32, entity_id: u32, kind: EntityKind, node: &NodeName) -> String {
    // The enclave is `/` (no SROS2 enclave): rmw_zenoh writes it `%`.
    format!(
        "@ros2_lv/{}/{zenoh_id}/{node_id}/{entity_id}/{}/%/{}/{}",
        node.domain,
        kind.code(),
        mangle(&node.namespace),
        mangle(&node.name)
    )
}

#[cfg(test)]
mod tests {
    use super::super::types::TWIST;
    use super::*;

    #[test]
    fn keys_and_tokens_have_rmw_zenohs_shape() {
        let topic = qualified_topic("/robot_0", "cmd_vel");
        assert_eq!(topic, "/robot_0/cmd_vel");
        assert_eq!(qualified_topic("/robot_0", "/cmd_vel"), "/cmd_vel");
        assert_eq!(
            topic_key(0, &topic, &TWIST, Distro::Humble),
            "0/robot_0/cmd_vel/geometry_msgs::msg::dds_::Twist_/TypeHashNotSupported"
        );
        assert!(topic_key(7, &topic, &TWIST, Distro::Jazzy)
            .starts_with("7/robot_0/cmd_vel/geometry_msgs::msg::dds_::Twist_/RIHS01_9c45"));
        let node = NodeName { domain: 0, namespace: "/robot_0".into(), name: "murmur_agent".into() };
        assert_eq!(node_token("a1b2", 0, &node), "@ros2_lv/0/a1b2/0/0/NN/%/%robot_0/murmur_agent");
        let token = endpoint_token("a1b2", 0, 1, EntityKind::Publisher, &node, &topic, &TWIST, Distro::Humble, 10);
        assert_eq!(
            token,
            "@ros2_lv/0/a1b2/0/1/MP/%/%robot_0/murmur_agent/%robot_0%cmd_vel/geometry_msgs::msg::dds_::Twist_/\
             TypeHashNotSupported/::,10:,:,:,,"
        );
    }
}
