//! What speaking ROS 2 costs per message: CDR encoding of the agent's
//! Twist with its attachment (every command), the coordinator's decoding of
//! a PoseStamped (every pose), and encoding one robot's recorded step for
//! MCAP. `cargo bench --bench ros2_wire`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use murmur::runtime::ros2::attachment::Attachment;
use murmur::runtime::ros2::messages::{decode, encode, Header, PoseStamped, RobotStep, Time, Twist, Vector3};

fn wire(c: &mut Criterion) {
    let twist = Twist { linear: Vector3 { x: 0.2, y: 0.0, z: 0.0 }, angular: Vector3::default() };
    let attachment =
        Attachment { sequence_number: 1, source_timestamp_ns: 1_733_000_000_000_000_000, source_gid: [7; 16] };
    c.bench_function("ros2_twist_encode_with_attachment", |b| {
        b.iter(|| (encode(black_box(&twist)).map(|v| v.len()), black_box(&attachment).encode().len()))
    });
    let pose = PoseStamped {
        header: Header { stamp: Time { sec: 1, nanosec: 2 }, frame_id: "mocap".into() },
        ..Default::default()
    };
    let bytes = encode(&pose).unwrap_or_default();
    c.bench_function("ros2_pose_stamped_decode", |b| b.iter(|| decode::<PoseStamped>(black_box(&bytes)).is_ok()));
    let step = RobotStep {
        observation: vec![0.5; 18],
        action_mask: vec![1.0; 5],
        probabilities: vec![0.2; 5],
        source_name: "policy".into(),
        ..Default::default()
    };
    c.bench_function("ros2_robot_step_encode", |b| b.iter(|| encode(black_box(&step)).map(|v| v.len())));
}

criterion_group!(benches, wire);
criterion_main!(benches);
