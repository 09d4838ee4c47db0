"""A ROS 2 subscriber built from independent parts: eclipse-zenoh for the
transport, rosbags for the type hash and CDR. It listens where rmw_zenoh
would put robot 1's /robot_1/cmd_vel Twists, listening on ENDPOINT as a
robot's rmw_zenoh router would, and reports, as JSON lines:

  {"listening": ENDPOINT}            once it listens
  {"ready": true, "tokens": [...]}   once the publisher's liveliness token is seen
  {"seq", "timestamp_ns", "gid_hex", "attachment_bytes", "linear", "angular"} per sample
  {"swarm_samples_seen": [...]}      murmur swarm keys heard on this network (none expected)

Usage: twist_listener.py ENDPOINT COUNT TIMEOUT_S
"""
import json
import sys
import time
import queue

import zenoh
from zenoh.ext import Int64, z_deserialize
from rosbags.typesys import Stores, get_typestore

endpoint, count, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
store = get_typestore(Stores.ROS2_JAZZY)
twist = "geometry_msgs/msg/Twist"
key = f"0/robot_1/cmd_vel/geometry_msgs::msg::dds_::Twist_/{store.hash_rihs01(twist)}"

conf = zenoh.Config()
conf.insert_json5("mode", '"peer"')
conf.insert_json5("listen/endpoints", json.dumps([endpoint]))
conf.insert_json5("scouting/multicast/enabled", "false")
session = zenoh.open(conf)
samples = queue.Queue()
sub = session.declare_subscriber(key, lambda s: samples.put(s))
# The swarm's own traffic must never reach the ROS 2 network.
swarm_seen = []
swarm_sub = session.declare_subscriber("murmur/**", lambda s: swarm_seen.append(str(s.key_expr)))
print(json.dumps({"listening": endpoint}), flush=True)

deadline = time.time() + timeout
tokens = []
while time.time() < deadline:
    tokens = [str(r.ok.key_expr) for r in session.liveliness().get("@ros2_lv/0/**", timeout=1.0) if r.ok]
    if any("/MP/" in t and "%robot_1%cmd_vel" in t for t in tokens):
        break
    time.sleep(0.2)
print(json.dumps({"ready": True, "tokens": sorted(tokens)}), flush=True)

got = 0
while got < count and time.time() < deadline:
    try:
        s = samples.get(timeout=0.5)
    except queue.Empty:
        continue
    raw = s.attachment.to_bytes() if s.attachment is not None else b""
    seq, stamp, gid = z_deserialize(tuple[Int64, Int64, bytes], s.attachment)
    msg = store.deserialize_cdr(s.payload.to_bytes(), twist)
    print(json.dumps({
        "seq": seq, "timestamp_ns": stamp, "gid_hex": gid.hex(), "attachment_bytes": len(raw),
        "linear": [msg.linear.x, msg.linear.y, msg.linear.z],
        "angular": [msg.angular.x, msg.angular.y, msg.angular.z],
    }), flush=True)
    got += 1
print(json.dumps({"swarm_samples_seen": swarm_seen}), flush=True)
session.close()
