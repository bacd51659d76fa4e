"""Benign answer used after the hostile ones: must synthesize exactly as it does alone."""

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "Victim")
s3.Bucket(stack, "B", versioned=True)
app.synth()
