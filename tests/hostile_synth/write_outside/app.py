"""Hostile: tries to write outside its job folder (paths come from IACGRADE_TEST_TARGETS)."""

import json
import os

import aws_cdk as cdk

report = {}
for target in json.loads(open("targets.json").read()):
    try:
        with open(target, "w") as fh:
            fh.write("pwned")
        report[target] = "written"
    except OSError as exc:
        report[target] = type(exc).__name__
    try:
        os.remove(target)
    except OSError:
        pass
app = cdk.App()
stack = cdk.Stack(app, "Writer")
cdk.CfnOutput(stack, "Result", value=json.dumps(report))
app.synth()
