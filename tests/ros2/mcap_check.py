"""What the Python `mcap` and `mcap-ros2-support` packages read from an
MCAP file murmur wrote, with no murmur code: every message decoded through
the schema inside the file.

Usage: mcap_check.py FILE  ->  JSON on stdout:
  {"schemas": {name: encoding}, "channels": {topic: [schema, message_encoding]},
   "metadata": {name: {...}}, "messages": {topic: [decoded message, ...]}}
"""
import json
import math
import sys

from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory


def plain(msg):
    if hasattr(msg, "__slots__"):
        return {k: plain(getattr(msg, k)) for k in msg.__slots__}
    if isinstance(msg, (list, tuple)):
        return [plain(v) for v in msg]
    if isinstance(msg, (bytes, bytearray)):
        return list(msg)
    if isinstance(msg, float) and math.isnan(msg):
        return None  # JSON has no NaN: null stands for it
    return msg


out = {"schemas": {}, "channels": {}, "metadata": {}, "messages": {}}
with open(sys.argv[1], "rb") as f:
    reader = make_reader(f, decoder_factories=[DecoderFactory()])
    summary = reader.get_summary()
    for s in summary.schemas.values():
        out["schemas"][s.name] = s.encoding
    for c in summary.channels.values():
        out["channels"][c.topic] = [summary.schemas[c.schema_id].name, c.message_encoding]
    for m in reader.iter_metadata():
        out["metadata"][m.name] = dict(m.metadata)
    for schema, channel, message, decoded in reader.iter_decoded_messages(log_time_order=True):
        item = plain(decoded)
        item["log_time"] = message.log_time
        out["messages"].setdefault(channel.topic, []).append(item)
print(json.dumps(out, allow_nan=False))
