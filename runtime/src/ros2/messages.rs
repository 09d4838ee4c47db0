//! The ROS 2 messages murmur sends and reads, as Rust values, and their
//! CDR encoding (little-endian, behind the 4-byte encapsulation header, as
//! rmw_zenoh and rosbag2 carry them). The `cdr` crate does the encoding;
//! each struct names its [`MessageType`], which gives its keys and hash.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_big_array::BigArray;

use super::types::{self, MessageType};
use super::Ros2Error;

/// Largest CDR payload accepted from the network (bytes): far above any
/// message here, far below what would hurt a robot.
pub const MAX_CDR_BYTES: u64 = 64 * 1024;

/// A message type murmur speaks.
pub trait RosMessage: Serialize + DeserializeOwned {
    /// Its description (name, fields).
    const TYPE: &'static MessageType;
}

/// Encodes `msg` as CDR little-endian with its encapsulation header.
pub fn encode<M: RosMessage>(msg: &M) -> Result<Vec<u8>, Ros2Error> {
    cdr::serialize::<_, _, cdr::CdrLe>(msg, cdr::Infinite)
        .map_err(|e| Ros2Error::Cdr { type_name: M::TYPE.name, why: e.to_string() })
}

/// Decodes a CDR payload (either byte order) of type `M`, refusing
/// payloads over [`MAX_CDR_BYTES`], truncated ones, and ones with bytes
/// left over.
pub fn decode<M: RosMessage>(bytes: &[u8]) -> Result<M, Ros2Error> {
    let bad = |why: String| Ros2Error::Cdr { type_name: M::TYPE.name, why };
    if bytes.len() as u64 > MAX_CDR_BYTES {
        return Err(bad(format!("{} bytes, more than {MAX_CDR_BYTES}", bytes.len())));
    }
    let mut reader = bytes;
    let msg =
        cdr::deserialize_from::<_, M, _>(&mut reader, cdr::Bounded(MAX_CDR_BYTES)).map_err(|e| bad(e.to_string()))?;
    // CDR pads only to align what follows; a message ends at most 3 bytes
    // of padding (to the 4-byte boundary rosbag2 and rmw keep) past its end.
    if reader.len() > 3 || reader.iter().any(|&b| b != 0) {
        return Err(bad(format!("{} bytes left over after the message", reader.len())));
    }
    Ok(msg)
}

/// `builtin_interfaces/msg/Time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Time {
    /// Seconds since the epoch (or the simulation's start).
    pub sec: i32,
    /// Nanoseconds within the second.
    pub nanosec: u32,
}

impl Time {
    /// From nanoseconds since the epoch.
    pub fn from_nanos(ns: i64) -> Self {
        Time { sec: ns.div_euclid(1_000_000_000) as i32, nanosec: ns.rem_euclid(1_000_000_000) as u32 }
    }

    /// As nanoseconds since the epoch.
    pub fn as_nanos(&self) -> i64 {
        i64::from(self.sec) * 1_000_000_000 + i64::from(self.nanosec)
    }
}

/// `std_msgs/msg/Header`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Header {
    /// When the data was taken.
    pub stamp: Time,
    /// The frame the data is in.
    pub frame_id: String,
}

/// `std_msgs/msg/Int32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Int32 {
    /// The value.
    pub data: i32,
}

/// `geometry_msgs/msg/Vector3` (and `Point`, which has the same fields).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Vector3 {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
}

/// `geometry_msgs/msg/Twist`: a velocity command, m/s and rad/s.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Twist {
    /// Linear velocity, m/s.
    pub linear: Vector3,
    /// Angular velocity, rad/s.
    pub angular: Vector3,
}

/// `geometry_msgs/msg/Quaternion`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quaternion {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
    /// w (1 for no rotation).
    pub w: f64,
}

impl Default for Quaternion {
    fn default() -> Self {
        Quaternion { x: 0.0, y: 0.0, z: 0.0, w: 1.0 }
    }
}

/// `geometry_msgs/msg/Pose`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Pose {
    /// Position, m.
    pub position: Vector3,
    /// Orientation.
    pub orientation: Quaternion,
}

/// `geometry_msgs/msg/PoseStamped`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PoseStamped {
    /// Time and frame.
    pub header: Header,
    /// The pose.
    pub pose: Pose,
}

/// `geometry_msgs/msg/PoseWithCovariance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoseWithCovariance {
    /// The pose.
    pub pose: Pose,
    /// Row-major 6x6 covariance.
    #[serde(with = "BigArray")]
    pub covariance: [f64; 36],
}

/// `geometry_msgs/msg/TwistWithCovariance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwistWithCovariance {
    /// The twist.
    pub twist: Twist,
    /// Row-major 6x6 covariance.
    #[serde(with = "BigArray")]
    pub covariance: [f64; 36],
}

/// `nav_msgs/msg/Odometry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Odometry {
    /// Time and the pose's frame.
    pub header: Header,
    /// The twist's frame.
    pub child_frame_id: String,
    /// Where the robot is.
    pub pose: PoseWithCovariance,
    /// How it moves.
    pub twist: TwistWithCovariance,
}

/// `murmur_msgs/msg/RobotStep`: one robot's step of a recorded episode.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RobotStep {
    /// When the step was taken (the episode's clock).
    pub header: Header,
    /// Episode index.
    pub episode: u64,
    /// Step within the episode.
    pub step: u32,
    /// Robot (agent) index.
    pub robot: u32,
    /// The robot's observation, `[obs_dim]`.
    pub observation: Vec<f32>,
    /// Allowed actions, 1.0 = allowed, `[n_actions]`.
    pub action_mask: Vec<f32>,
    /// The action executed.
    pub action: i64,
    /// The policy's probabilities, `[n_actions]` (empty where none were sent).
    pub probabilities: Vec<f32>,
    /// Where the action came from (the dataset's `action_source` code).
    pub source: u8,
    /// The same, as a word (`policy`, `fallback`, `stale`, `missing`...).
    pub source_name: String,
    /// Round-trip latency of the robot's answer, ms (NaN where none came).
    pub latency_ms: f64,
}

/// `murmur_msgs/msg/TeamStep`: the team's reward and the critic's value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TeamStep {
    /// When the step was taken (the episode's clock).
    pub header: Header,
    /// Episode index.
    pub episode: u64,
    /// Step within the episode.
    pub step: u32,
    /// The team reward of this step.
    pub reward: f32,
    /// The critic's value of the state before the step (0 where none).
    pub critic_value: f32,
    /// Whether a critic value was recorded.
    pub has_critic_value: bool,
    /// The episode ended here in a terminal state.
    pub terminated: bool,
    /// The episode was cut off here.
    pub truncated: bool,
}

macro_rules! ros_message {
    ($($rust:ty => $desc:ident),* $(,)?) => {
        $(impl RosMessage for $rust {
            const TYPE: &'static MessageType = &types::$desc;
        })*
    };
}

ros_message! {
    Time => TIME,
    Header => HEADER,
    Int32 => INT32,
    Twist => TWIST,
    Pose => POSE,
    PoseStamped => POSE_STAMPED,
    Odometry => ODOMETRY,
    RobotStep => ROBOT_STEP,
    TeamStep => TEAM_STEP,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_twist_is_52_bytes_of_cdr_and_reads_back() {
        let twist = Twist { linear: Vector3 { x: 0.5, y: 0.0, z: 0.0 }, angular: Vector3 { x: 0.0, y: 0.0, z: 0.25 } };
        let bytes = encode(&twist).unwrap();
        assert_eq!(bytes.len(), 52);
        assert_eq!(bytes[..4], [0, 1, 0, 0], "CDR little-endian header");
        assert_eq!(bytes[4..12], 0.5f64.to_le_bytes());
        assert_eq!(decode::<Twist>(&bytes).unwrap(), twist);
    }

    #[test]
    fn truncated_oversized_and_padded_payloads_are_refused() {
        let pose =
            PoseStamped { header: Header { frame_id: "map".into(), ..Default::default() }, ..Default::default() };
        let bytes = encode(&pose).unwrap();
        assert_eq!(decode::<PoseStamped>(&bytes).unwrap(), pose);
        for cut in [0, 3, 4, 10, bytes.len() - 1] {
            assert!(decode::<PoseStamped>(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.extend([1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(decode::<PoseStamped>(&long).is_err());
        assert!(decode::<PoseStamped>(&vec![0u8; MAX_CDR_BYTES as usize + 1]).is_err());
        // A string length that runs past the payload.
        let mut lying = bytes.clone();
        lying[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode::<PoseStamped>(&lying).is_err());
    }
}
