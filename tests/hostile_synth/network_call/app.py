"""Hostile: tries to reach the network (and DNS) before synthesizing."""

import socket
import urllib.request

import aws_cdk as cdk

results = []
try:
    urllib.request.urlopen("http://example.com", timeout=3)
    results.append("http ok")
except Exception as exc:  # noqa: BLE001
    results.append(f"http failed: {type(exc).__name__}")
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    results.append("tcp ok")
except OSError as exc:
    results.append(f"tcp failed: {exc}")
app = cdk.App()
stack = cdk.Stack(app, "Net")
cdk.CfnOutput(stack, "Result", value="; ".join(results))
app.synth()
