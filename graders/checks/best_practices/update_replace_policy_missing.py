"""update-replace-policy-missing: a stateful resource kept on delete but not on replacement."""

from __future__ import annotations

from collections.abc import Iterator

from iacgrade.graders.analysis.cfn import literal_choices, stateful_types, written_attribute
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import describe
from iacgrade.graders.checks import check


@check("update-replace-policy-missing", lenses=("template",))
def update_replace_policy_missing(ctx: CheckContext) -> Iterator[Hit]:
    """A stateful resource kept when the stack is deleted but not when an update replaces it.

    What it finds: stateful resources (cfn-lint's list: tables, buckets, databases, file
    systems, keys, log groups, streams, ...) whose template gives a ``DeletionPolicy`` of
    ``Retain``, ``RetainExceptOnCreate`` or ``Snapshot`` (in either branch of an ``Fn::If``) and
    no ``UpdateReplacePolicy``. Only a
    policy the answer wrote counts: where a CloudFormation template gives none, iacgrade makes
    the default explicit in the template it grades and marks it as such (resource metadata
    ``iacgrade:defaulted``), and that default is ``destroy-stateful``'s business. CDK writes both
    policies together, so a CDK template has this only when the answer overrides one of them.

    Why it matters: ``UpdateReplacePolicy`` defaults to ``Delete``. An update that replaces the
    resource (a changed table key, a renamed bucket, a new engine for a database) creates the
    new one and deletes the old one with its data, whatever ``DeletionPolicy`` says.

    Bad example:

        Database:
          Type: AWS::RDS::DBInstance
          DeletionPolicy: Snapshot

    Fix: give the same policy for both: ``DeletionPolicy: Snapshot`` and
    ``UpdateReplacePolicy: Snapshot`` (``Retain`` for resources that cannot be snapshotted).
    """
    stateful = stateful_types()
    for res in ctx.template.resources():
        if res.type not in stateful or "UpdateReplacePolicy" in res.raw:
            continue
        written = written_attribute(res.raw, "DeletionPolicy")
        kept = [p for p in dict.fromkeys(literal_choices(written)) if p != "Delete"]
        if not kept:
            continue
        policy = " or ".join(kept)
        when = " (under a condition)" if not isinstance(written, str) else ""
        message = (
            f"{describe(res)} ({res.type}) has DeletionPolicy {policy}{when} but no UpdateReplacePolicy:"
            " an update that replaces it deletes the old resource and its data"
        )
        yield Hit.on_resource(message, res, f"DeletionPolicy: {policy}")
