"""What the `rosbags` package makes of murmur's ROS 2 types and payloads.

Input (argv[1], JSON): {"types": [{"name", "fields_text"}...],
                        "payloads": [{"type", "cdr_hex"}...]}.
Output (stdout, JSON): per type its RIHS01 hash as rosbags computes it
(murmur_msgs types are registered from murmur's own definition first);
per payload the message rosbags decodes and the bytes it encodes back.
"""
import dataclasses
import json
import sys

import numpy as np
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

request = json.load(open(sys.argv[1]))
store = get_typestore(Stores.ROS2_JAZZY)
for t in request["types"]:
    if t["name"] not in store.types:
        store.register(get_types_from_msg(t["fields_text"], t["name"]))


def plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


out = {"hashes": {t["name"]: store.hash_rihs01(t["name"]) for t in request["types"]}, "payloads": []}
for p in request["payloads"]:
    raw = bytes.fromhex(p["cdr_hex"])
    msg = store.deserialize_cdr(raw, p["type"])
    again = bytes(store.serialize_cdr(msg, p["type"]))
    out["payloads"].append({"type": p["type"], "decoded": plain(msg), "reencoded_hex": again.hex()})
print(json.dumps(out))
