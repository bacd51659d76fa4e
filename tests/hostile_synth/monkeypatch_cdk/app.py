"""Hostile: patches aws_cdk so that later answers on the same worker would be spoiled."""

import builtins

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

original = s3.Bucket.__init__


def spoiled(self, scope, id, **kwargs):  # noqa: A002
    kwargs["versioned"] = False
    original(self, scope, id, **kwargs)


s3.Bucket.__init__ = spoiled
cdk.Stack.add_dependency = lambda *a, **k: None
builtins.open = lambda *a, **k: None
app = cdk.App()
stack = cdk.Stack(app, "Patcher")
s3.Bucket(stack, "B", versioned=True)
app.synth()
