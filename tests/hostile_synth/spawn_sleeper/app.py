"""Hostile: leaves a background process behind, then synthesizes normally."""

import subprocess

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs

subprocess.Popen(["sleep", "600"], start_new_session=True)
app = cdk.App()
stack = cdk.Stack(app, "Sleeper")
sqs.Queue(stack, "Q")
app.synth()
