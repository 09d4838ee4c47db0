"""A motion-capture node built from independent parts (eclipse-zenoh,
rosbags): it publishes each robot's geometry_msgs/msg/PoseStamped where
rmw_zenoh would, with rmw_zenoh's attachment, listening on ENDPOINT as a
ROS 2 network's router would.

  robot 0: still at (-0.6, 0.2); every 100 ms also a payload that is not
           CDR and a pose with NaN x (both must be refused, never applied)
  robot 1: moves along x: x = -0.3 + 0.01 (k mod 100) at its k-th pose, y = -0.4
  robot 2: at (0.5, 0.5), heard for 600 ms then silent for 600 ms, in turn
  others:  still at (0.1 i, -0.1 i)

Poses go out at 100 Hz until DURATION_S, as PoseStamped or (with MESSAGE
"odometry") as nav_msgs/msg/Odometry.
Usage: pose_publisher.py ENDPOINT N DURATION_S [pose_stamped|odometry]
Prints {"listening": ENDPOINT} once it listens, then {"published": k} at the end.
"""
import json
import sys
import time

import zenoh
from zenoh.ext import Int64, z_serialize
from rosbags.typesys import Stores, get_typestore

import numpy as np

endpoint, n, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
odometry = len(sys.argv) > 4 and sys.argv[4] == "odometry"
store = get_typestore(Stores.ROS2_JAZZY)
T = "nav_msgs/msg/Odometry" if odometry else "geometry_msgs/msg/PoseStamped"
ty = store.types
Header, Time, Pose, Point, Quaternion = (
    ty[t] for t in ["std_msgs/msg/Header", "builtin_interfaces/msg/Time", "geometry_msgs/msg/Pose",
                    "geometry_msgs/msg/Point", "geometry_msgs/msg/Quaternion"])
dds = "nav_msgs::msg::dds_::Odometry_" if odometry else "geometry_msgs::msg::dds_::PoseStamped_"
type_key = f"{dds}/{store.hash_rihs01(T)}"

conf = zenoh.Config()
conf.insert_json5("mode", '"peer"')
conf.insert_json5("listen/endpoints", json.dumps([endpoint]))
conf.insert_json5("scouting/multicast/enabled", "false")
session = zenoh.open(conf)
pubs = [session.declare_publisher(f"0/robot_{i}/pose/{type_key}") for i in range(n)]
seq = [0] * n
print(json.dumps({"listening": endpoint}), flush=True)


def pose_bytes(x, y):
    now = time.time_ns()
    header = Header(stamp=Time(sec=now // 10**9, nanosec=now % 10**9), frame_id="mocap")
    pose = Pose(position=Point(x=x, y=y, z=0.0), orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0))
    if odometry:
        V = ty["geometry_msgs/msg/Vector3"]
        twist = ty["geometry_msgs/msg/Twist"](linear=V(x=0.0, y=0.0, z=0.0), angular=V(x=0.0, y=0.0, z=0.0))
        msg = ty[T](
            header=header, child_frame_id="base_link",
            pose=ty["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)),
            twist=ty["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=np.zeros(36)),
        )
    else:
        msg = ty[T](header=header, pose=pose)
    return bytes(store.serialize_cdr(msg, T))


def put(i, payload):
    seq[i] += 1
    attachment = z_serialize((Int64(seq[i]), Int64(time.time_ns()), bytes([i]) * 16))
    pubs[i].put(payload, attachment=attachment)


start = time.time()
k = 0
published = 0
while time.time() - start < duration:
    elapsed = time.time() - start
    for i in range(n):
        if i == 0:
            x, y = -0.6, 0.2
        elif i == 1:
            x, y = -0.3 + 0.01 * (k % 100), -0.4
        elif i == 2:
            if int(elapsed / 0.6) % 2 == 1:
                continue
            x, y = 0.5, 0.5
        else:
            x, y = 0.1 * i, -0.1 * i
        put(i, pose_bytes(x, y))
        published += 1
    if k % 10 == 0:
        put(0, b"\x00\x01\x00\x00garbage")
        put(0, pose_bytes(float("nan"), 0.2))
    k += 1
    time.sleep(0.01)
print(json.dumps({"published": published}), flush=True)
session.close()
