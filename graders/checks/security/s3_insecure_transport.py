"""s3-insecure-transport: buckets that accept requests over plain HTTP."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from iacgrade.graders.analysis.cfn import as_list, policy_statements, ref_target
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import (
    AnswerModel,
    Item,
    names_list,
    one_finding,
    resource_label,
    template_key,
)
from iacgrade.graders.analysis.stacks import truthy_kw
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import check


@check("s3-insecure-transport", lenses=("source", "template"), kinds=("cdk-python",))
def s3_insecure_transport(ctx: CheckContext) -> Iterator[Hit]:
    """Buckets that accept requests over plain HTTP.

    What it finds: S3 buckets with no bucket policy that denies requests made without TLS (a
    Deny statement with the condition `aws:SecureTransport` = false). In the source: a
    `s3.Bucket` without `enforce_ssl=True`; when the answer writes an `aws:SecureTransport`
    policy of its own anywhere, the source lens leaves the judgement to the template. One finding
    lists the buckets.

    Why it matters: S3 answers plain-HTTP requests unless a policy refuses them; data and
    signed requests then cross the network unencrypted, and security reviews (and the AWS
    Foundational Security Best Practices control S3.5) flag every such bucket.

    Bad example:

        s3.Bucket(self, "Uploads", encryption=s3.BucketEncryption.S3_MANAGED)

    Fix: `enforce_ssl=True` on the bucket (CDK adds the denying bucket policy).
    """
    template_items = [
        Item(
            template_key(b), resource_label(b), b.evidence(value="no policy denies aws:SecureTransport=false")
        )
        for b in _buckets_without_tls_policy(ctx)
    ]
    source_items: list[Item] = []
    if not any("aws:SecureTransport" in src.text for src in ctx.source.files):
        index = AnswerModel.of(ctx)
        for inst in index.instances("Bucket"):
            flag = inst.kw("enforce_ssl")
            if (flag is None and not inst.opaque) or (flag is not None and truthy_kw(flag) is False):
                source_items.append(Item(inst.cid, inst.label, inst.evidence(ctx, value=_shown(flag))))

    def message(items: list[Item]) -> str:
        noun = "bucket accepts" if len(items) == 1 else f"{len(items)} buckets accept"
        return f"S3 {noun} requests over plain HTTP: {names_list(i.text for i in items)}"

    yield from one_finding(ctx, "s3-insecure-transport", template_items, source_items, message)


def _buckets_without_tls_policy(ctx: CheckContext) -> list[Resource]:
    if not ctx.template.present:
        return []
    guarded: set[tuple[str, str]] = set()
    buckets = list(ctx.template.resources("AWS::S3::Bucket"))
    names = {
        (b.stack, b.properties["BucketName"]): b.logical_id
        for b in buckets
        if isinstance(b.properties.get("BucketName"), str)  # a !Sub name is matched by Ref only
    }
    for policy in ctx.template.resources("AWS::S3::BucketPolicy"):
        target = policy.properties.get("Bucket")
        lid = ref_target(target) or (names.get((policy.stack, target)) if isinstance(target, str) else None)
        if lid and any(
            _denies_plain_http(s) for s in policy_statements(policy.properties.get("PolicyDocument"))
        ):
            guarded.add((policy.stack, lid))
    return [b for b in buckets if (b.stack, b.logical_id) not in guarded]


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    for operator in ("Bool", "BoolIfExists"):
        tests = condition.get(operator)
        if isinstance(tests, dict):
            for value in as_list(tests.get("aws:SecureTransport")):
                if value is False or (isinstance(value, str) and value.lower() == "false"):
                    return True
    return False


def _shown(flag: ast.expr | None) -> str:
    return "enforce_ssl not set" if flag is None else f"enforce_ssl={ast.unparse(flag)}"
