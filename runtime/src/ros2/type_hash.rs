//! RIHS01 type hashes (REP 2011), which ROS 2 Iron and later put in every
//! topic's key expression: SHA-256 of the type's description, as JSON with
//! Python's default separators, default values left out, referenced types
//! sorted by name.

use sha2::{Digest, Sha256};

use super::types::{Element, Field, MessageType, Shape};

/// `type_id` offsets of fixed arrays and unbounded sequences (type_description_interfaces/FieldType).
const ARRAY_OFFSET: u8 = 48;
const SEQUENCE_OFFSET: u8 = 144;
/// `type_id` of a nested message.
const NESTED_TYPE: u8 = 1;

/// The hash as rmw_zenoh writes it: `RIHS01_` and 64 hex digits.
pub fn rihs01(t: &MessageType) -> String {
    let digest = Sha256::digest(description_json(t).as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("RIHS01_{hex}")
}

/// The hashed text: `{"type_description": {...}, "referenced_type_descriptions": [...]}`.
pub fn description_json(t: &MessageType) -> String {
    let referenced: Vec<String> = t.referenced().into_iter().map(individual).collect();
    format!(
        "{{\"type_description\": {}, \"referenced_type_descriptions\": [{}]}}",
        individual(t),
        referenced.join(", ")
    )
}

fn individual(t: &MessageType) -> String {
    let fields: Vec<String> = t.fields.iter().map(field).collect();
    format!("{{\"type_name\": \"{}\", \"fields\": [{}]}}", t.name, fields.join(", "))
}

fn field(f: &Field) -> String {
    let (element_id, nested_name) = match f.element {
        Element::Primitive(p) => (p.type_id(), ""),
        Element::Nested(t) => (NESTED_TYPE, t.name),
    };
    let (type_id, capacity) = match f.shape {
        Shape::Single => (element_id, 0),
        Shape::Array(n) => (element_id + ARRAY_OFFSET, n),
        Shape::Sequence => (element_id + SEQUENCE_OFFSET, 0),
    };
    format!(
        "{{\"name\": \"{}\", \"type\": {{\"type_id\": {type_id}, \"capacity\": {capacity}, \"string_capacity\": 0, \
         \"nested_type_name\": \"{nested_name}\"}}}}",
        f.name
    )
}

#[cfg(test)]
mod tests {
    use super::super::types::{ODOMETRY, TWIST};
    use super::*;

    // ROS 2 Jazzy's published hashes (also checked against the `rosbags`
    // package for every type in `tests/ros2_python.rs`).
    #[test]
    fn twist_and_odometry_hash_as_ros_2_publishes_them() {
        assert_eq!(rihs01(&TWIST), "RIHS01_9c45bf16fe0983d80e3cfe750d6835843d265a9a6c46bd2e609fcddde6fb8d2a");
        assert_eq!(rihs01(&ODOMETRY), "RIHS01_3cc97dc7fb7502f8714462c526d369e35b603cfc34d946e3f2eda2766dfec6e0");
    }
}
