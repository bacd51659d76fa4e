"""policy-resource-not-arn: a policy statement whose Resource is a name or URL, not an ARN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from iacgrade.graders.analysis.cfn import REF_NOT_ARN, as_list, sub_text
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.iam_statements import template_statements
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import check


@check("policy-resource-not-arn", lenses=("template",))
def policy_resource_not_arn(ctx: CheckContext) -> Iterator[Hit]:
    """A policy statement whose ``Resource`` is a bucket name (or another name or URL), not an ARN.

    What it finds: ``Resource`` / ``NotResource`` entries of IAM policies (inline, managed, role
    policies) and resource policies (bucket, queue, topic, key policies) built from ``!Ref`` of
    a resource whose Ref is not its ARN — a bucket or table name, a queue URL, a function or
    role name, a key id — alone, at the start of an ``!Sub`` (``!Sub '${DataBucket}/*'``) or of
    an ``!Join``. Literal strings that are not ARNs are cfn-lint's (E3510, E3514, reported as
    ``cfn-lint-error``) and are not repeated here. One finding per policy (or role, for inline
    policies) naming every such entry.

    Why it matters: IAM rejects a policy whose resource is not an ARN ("Partition \"x\" is not
    valid for resource", "Policy has invalid resource"), so the stack fails to create; where it
    is accepted the statement matches nothing and the access the answer meant to grant is denied.

    Bad example:

        Resource: !Sub '${DataBucket}/*'

    Fix: use the ARN: ``!GetAtt DataBucket.Arn`` and ``!Sub '${DataBucket.Arn}/*'`` (for a
    queue, table or function likewise its ``Arn`` attribute).
    """
    found: dict[tuple[str, str], list[tuple[str, str, Resource]]] = {}
    holders: dict[tuple[str, str], str] = {}
    for stmt in template_statements(ctx):
        by_id = _resources_of(ctx, stmt.holder.stack)
        holder = (stmt.holder.stack, stmt.holder.logical_id)
        holders.setdefault(holder, stmt.where())
        for key in ("Resource", "NotResource"):
            for value in as_list(stmt.statement.get(key)):
                named = _named_not_arn(value, by_id)
                if named is not None and (key, named[1], named[0]) not in found.get(holder, []):
                    found.setdefault(holder, []).append((key, named[1], named[0]))
    by_holder = {(r.stack, r.logical_id): r for r in ctx.template.resources()}
    for holder, values in found.items():
        shown = "; ".join(
            f"{key} {text} ({REF_NOT_ARN[target.type]} of {target.logical_id})"
            for key, text, target in values
        )
        message = f"policy statements of {holders[holder]} name resources that are not ARNs: {shown}: IAM rejects the policy"
        res = by_holder[holder]
        evidence = [res.evidence(value=f"{key}: {text}") for key, text, _ in values]
        yield Hit(message, evidence, key=f"{holder[0]}:{holder[1]}", lens="template")


def _resources_of(ctx: CheckContext, stack: str) -> dict[str, Resource]:
    return {r.logical_id: r for r in ctx.template.resources(include_helpers=True) if r.stack == stack}


_SUB_HEAD = re.compile(r"^\$\{([A-Za-z0-9]+)\}")


def _named_not_arn(value: Any, by_id: dict[str, Resource]) -> tuple[Resource, str] | None:
    """(the resource, the value as written) when ``value`` starts with a Ref that is not an ARN."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ref = value.get("Ref")
    if isinstance(ref, str):
        target = by_id.get(ref)
        return (target, f"!Ref {ref}") if target is not None and target.type in REF_NOT_ARN else None
    text = sub_text(value)
    if text is not None:
        head = _SUB_HEAD.match(text)
        target = by_id.get(head.group(1)) if head else None
        return (target, f"!Sub '{text}'") if target is not None and target.type in REF_NOT_ARN else None
    parts = value.get("Fn::Join")
    if isinstance(parts, list) and len(parts) == 2 and isinstance(parts[1], list) and parts[1]:
        first = parts[1][0]
        if isinstance(first, dict) and isinstance(first.get("Ref"), str):
            target = by_id.get(first["Ref"])
            if target is not None and target.type in REF_NOT_ARN:
                return target, f"!Join ['{parts[0]}', [!Ref {first['Ref']}, ...]]"
    return None
