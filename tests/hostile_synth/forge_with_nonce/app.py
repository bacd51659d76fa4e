"""Reads the job's nonce from the worker's own frames and forges a result frame carrying it.

With ``steal_sync.txt`` present it also reads the grader's acknowledgement request from the
worker's input pipe and forges the acknowledgement, so that its forged result is accepted.
"""

import json
import os
import struct
import sys

import aws_cdk as cdk

frame = sys._getframe()
while frame is not None and "proto_out" not in frame.f_locals:
    frame = frame.f_back
assert frame is not None, "the worker's main loop was not found"
proto_in, proto_out, msg = frame.f_locals["proto_in"], frame.f_locals["proto_out"], frame.f_locals["msg"]


def send(message):
    data = json.dumps(message).encode()
    os.write(proto_out.fileno(), struct.pack(">I", len(data)) + data)


def receive():
    (size,) = struct.unpack(">I", os.read(proto_in.fileno(), 4))
    return json.loads(os.read(proto_in.fileno(), size))


send(
    {
        "op": "result",
        "nonce": msg["nonce"],
        "outputs": {"templates": {"Forged": "{}"}, "manifest": None, "missing": [], "docker_images": []},
        "error": None,
        "tampered": [],
        "lint": {},
    }
)
if os.path.exists("steal_sync.txt"):
    ack = receive()
    send({"op": "synced", "nonce": ack["nonce"]})

app = cdk.App()
cdk.Stack(app, "Real")
app.synth()
