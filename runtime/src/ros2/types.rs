//! ROS 2 message types as data: each type's name and fields, from which
//! both its RIHS01 type hash ([`super::type_hash`]) and its `ros2msg`
//! definition (for MCAP schemas) are derived, so the two cannot disagree.
//!
//! Only the types murmur speaks are described; their fields follow the
//! ROS 2 interface definitions (`geometry_msgs`, `std_msgs`, `nav_msgs`,
//! `builtin_interfaces`) and murmur's own `murmur_msgs` recording types.

/// A primitive field type, with its ROS 2 `type_id` (type_description_interfaces/FieldType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    /// `int8`.
    Int8,
    /// `uint8`.
    Uint8,
    /// `int32`.
    Int32,
    /// `uint32`.
    Uint32,
    /// `int64`.
    Int64,
    /// `uint64`.
    Uint64,
    /// `float32`.
    Float32,
    /// `float64`.
    Float64,
    /// `bool`.
    Bool,
    /// `string` (unbounded).
    String,
}

impl Primitive {
    /// The `type_id` of a single value of this type.
    pub const fn type_id(self) -> u8 {
        match self {
            Primitive::Int8 => 2,
            Primitive::Uint8 => 3,
            Primitive::Int32 => 6,
            Primitive::Uint32 => 7,
            Primitive::Int64 => 8,
            Primitive::Uint64 => 9,
            Primitive::Float32 => 10,
            Primitive::Float64 => 11,
            Primitive::Bool => 15,
            Primitive::String => 17,
        }
    }

    /// The name used in `.msg` definitions.
    pub const fn msg_name(self) -> &'static str {
        match self {
            Primitive::Int8 => "int8",
            Primitive::Uint8 => "uint8",
            Primitive::Int32 => "int32",
            Primitive::Uint32 => "uint32",
            Primitive::Int64 => "int64",
            Primitive::Uint64 => "uint64",
            Primitive::Float32 => "float32",
            Primitive::Float64 => "float64",
            Primitive::Bool => "bool",
            Primitive::String => "string",
        }
    }
}

/// What one field holds.
#[derive(Debug, Clone, Copy)]
pub enum Element {
    /// A primitive value.
    Primitive(Primitive),
    /// A nested message.
    Nested(&'static MessageType),
}

/// How many of the element a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Exactly one.
    Single,
    /// A fixed-size array (`float64[36]`).
    Array(u64),
    /// An unbounded sequence (`float32[]`).
    Sequence,
}

/// One field of a message.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Field name.
    pub name: &'static str,
    /// Element type.
    pub element: Element,
    /// Single, array or sequence.
    pub shape: Shape,
}

/// A ROS 2 message type: its full name (`geometry_msgs/msg/Twist`) and fields.
#[derive(Debug)]
pub struct MessageType {
    /// Full name, `package/msg/Type`.
    pub name: &'static str,
    /// Fields in declaration order.
    pub fields: &'static [Field],
}

impl MessageType {
    /// The DDS type name rmw_zenoh puts in key expressions:
    /// `geometry_msgs::msg::dds_::Twist_`.
    pub fn dds_name(&self) -> String {
        let mut parts: Vec<&str> = self.name.split('/').collect();
        let last = parts.pop().unwrap_or_default();
        format!("{}::dds_::{last}_", parts.join("::"))
    }

    /// Every message type this one nests, directly or not, each once, sorted by name.
    pub fn referenced(&self) -> Vec<&'static MessageType> {
        let mut found: Vec<&'static MessageType> = Vec::new();
        let mut stack: Vec<&'static MessageType> = self.nested().collect();
        while let Some(t) = stack.pop() {
            if !found.iter().any(|f| f.name == t.name) {
                found.push(t);
                stack.extend(t.nested());
            }
        }
        found.sort_by_key(|t| t.name);
        found
    }

    fn nested(&self) -> impl Iterator<Item = &'static MessageType> + '_ {
        self.fields.iter().filter_map(|f| match f.element {
            Element::Nested(t) => Some(t),
            Element::Primitive(_) => None,
        })
    }

    /// The `ros2msg` definition MCAP schemas carry: this type's fields,
    /// then each referenced type under a `MSG:` separator line.
    pub fn msg_definition(&self) -> String {
        let mut text = Self::fields_text(self.fields);
        for t in self.referenced() {
            text.push_str(&"=".repeat(80));
            text.push_str(&format!("\nMSG: {}\n", short_name(t.name)));
            text.push_str(&Self::fields_text(t.fields));
        }
        text
    }

    fn fields_text(fields: &[Field]) -> String {
        let mut text = String::new();
        for f in fields {
            let element = match f.element {
                Element::Primitive(p) => p.msg_name().to_string(),
                Element::Nested(t) => short_name(t.name),
            };
            let shape = match f.shape {
                Shape::Single => String::new(),
                Shape::Array(n) => format!("[{n}]"),
                Shape::Sequence => "[]".to_string(),
            };
            text.push_str(&format!("{element}{shape} {}\n", f.name));
        }
        text
    }
}

/// `geometry_msgs/msg/Twist` -> `geometry_msgs/Twist`, as `.msg` files name nested types.
fn short_name(full: &str) -> String {
    full.replacen("/msg/", "/", 1)
}

const fn field(name: &'static str, element: Element, shape: Shape) -> Field {
    Field { name, element, shape }
}
const fn prim(name: &'static str, p: Primitive) -> Field {
    field(name, Element::Primitive(p), Shape::Single)
}
const fn nested(name: &'static str, t: &'static MessageType) -> Field {
    field(name, Element::Nested(t), Shape::Single)
}

use Primitive as P;

/// `builtin_interfaces/msg/Time`.
pub static TIME: MessageType =
    MessageType { name: "builtin_interfaces/msg/Time", fields: &[prim("sec", P::Int32), prim("nanosec", P::Uint32)] };
/// `std_msgs/msg/Header`.
pub static HEADER: MessageType =
    MessageType { name: "std_msgs/msg/Header", fields: &[nested("stamp", &TIME), prim("frame_id", P::String)] };
/// `std_msgs/msg/Int32`.
pub static INT32: MessageType = MessageType { name: "std_msgs/msg/Int32", fields: &[prim("data", P::Int32)] };
/// `geometry_msgs/msg/Vector3`.
pub static VECTOR3: MessageType = MessageType {
    name: "geometry_msgs/msg/Vector3",
    fields: &[prim("x", P::Float64), prim("y", P::Float64), prim("z", P::Float64)],
};
/// `geometry_msgs/msg/Twist`.
pub static TWIST: MessageType =
    MessageType { name: "geometry_msgs/msg/Twist", fields: &[nested("linear", &VECTOR3), nested("angular", &VECTOR3)] };
/// `geometry_msgs/msg/Point`.
pub static POINT: MessageType = MessageType {
    name: "geometry_msgs/msg/Point",
    fields: &[prim("x", P::Float64), prim("y", P::Float64), prim("z", P::Float64)],
};
/// `geometry_msgs/msg/Quaternion`.
pub static QUATERNION: MessageType = MessageType {
    name: "geometry_msgs/msg/Quaternion",
    fields: &[prim("x", P::Float64), prim("y", P::Float64), prim("z", P::Float64), prim("w", P::Float64)],
};
/// `geometry_msgs/msg/Pose`.
pub static POSE: MessageType = MessageType {
    name: "geometry_msgs/msg/Pose",
    fields: &[nested("position", &POINT), nested("orientation", &QUATERNION)],
};
/// `geometry_msgs/msg/PoseStamped`.
pub static POSE_STAMPED: MessageType =
    MessageType { name: "geometry_msgs/msg/PoseStamped", fields: &[nested("header", &HEADER), nested("pose", &POSE)] };
/// `geometry_msgs/msg/PoseWithCovariance`.
pub static POSE_WITH_COVARIANCE: MessageType = MessageType {
    name: "geometry_msgs/msg/PoseWithCovariance",
    fields: &[nested("pose", &POSE), field("covariance", Element::Primitive(P::Float64), Shape::Array(36))],
};
/// `geometry_msgs/msg/TwistWithCovariance`.
pub static TWIST_WITH_COVARIANCE: MessageType = MessageType {
    name: "geometry_msgs/msg/TwistWithCovariance",
    fields: &[nested("twist", &TWIST), field("covariance", Element::Primitive(P::Float64), Shape::Array(36))],
};
/// `nav_msgs/msg/Odometry`.
pub static ODOMETRY: MessageType = MessageType {
    name: "nav_msgs/msg/Odometry",
    fields: &[
        nested("header", &HEADER),
        prim("child_frame_id", P::String),
        nested("pose", &POSE_WITH_COVARIANCE),
        nested("twist", &TWIST_WITH_COVARIANCE),
    ],
};

const fn seq(name: &'static str, p: Primitive) -> Field {
    field(name, Element::Primitive(p), Shape::Sequence)
}

/// `murmur_msgs/msg/RobotStep`: one robot's step of a recorded episode.
pub static ROBOT_STEP: MessageType = MessageType {
    name: "murmur_msgs/msg/RobotStep",
    fields: &[
        nested("header", &HEADER),
        prim("episode", P::Uint64),
        prim("step", P::Uint32),
        prim("robot", P::Uint32),
        seq("observation", P::Float32),
        seq("action_mask", P::Float32),
        prim("action", P::Int64),
        seq("probabilities", P::Float32),
        prim("source", P::Uint8),
        prim("source_name", P::String),
        prim("latency_ms", P::Float64),
    ],
};

/// `murmur_msgs/msg/TeamStep`: the team's reward and the critic's value at one step.
pub static TEAM_STEP: MessageType = MessageType {
    name: "murmur_msgs/msg/TeamStep",
    fields: &[
        nested("header", &HEADER),
        prim("episode", P::Uint64),
        prim("step", P::Uint32),
        prim("reward", P::Float32),
        prim("critic_value", P::Float32),
        prim("has_critic_value", P::Bool),
        prim("terminated", P::Bool),
        prim("truncated", P::Bool),
    ],
};

/// Every type described here, for tests and documentation.
pub static ALL: [&MessageType; 14] = [
    &TIME,
    &HEADER,
    &INT32,
    &VECTOR3,
    &TWIST,
    &POINT,
    &QUATERNION,
    &POSE,
    &POSE_STAMPED,
    &POSE_WITH_COVARIANCE,
    &TWIST_WITH_COVARIANCE,
    &ODOMETRY,
    &ROBOT_STEP,
    &TEAM_STEP,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dds_names_are_rmw_zenohs() {
        assert_eq!(TWIST.dds_name(), "geometry_msgs::msg::dds_::Twist_");
        assert_eq!(ODOMETRY.dds_name(), "nav_msgs::msg::dds_::Odometry_");
    }

    #[test]
    fn a_definition_lists_each_referenced_type_once() {
        let text = POSE_STAMPED.msg_definition();
        assert!(text.starts_with("std_msgs/Header header\ngeometry_msgs/Pose pose\n"), "{text}");
        for t in ["std_msgs/Header", "builtin_interfaces/Time", "geometry_msgs/Pose", "geometry_msgs/Point"] {
            assert_eq!(text.matches(&format!("MSG: {t}\n")).count(), 1, "{t} in {text}");
        }
        assert!(ODOMETRY.msg_definition().contains("float64[36] covariance\n"));
    }
}
