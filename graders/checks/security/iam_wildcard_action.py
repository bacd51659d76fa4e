"""iam-wildcard-action: iAM Allow statements that grant every action (``*``) or every action of a service (``s3:*``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iacgrade.graders.analysis.cfn import as_list
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.iam_statements import (
    WILDCARD_ACTION,
    Group,
    SrcStatement,
    answer_strings,
    merge,
    quote,
    source_statements,
    source_where,
    template_statements,
    texts,
)
from iacgrade.graders.analysis.model import index_sources
from iacgrade.graders.analysis.tsast import camel, ts_files
from iacgrade.graders.checks import check

# =====================================================================================
# iam-wildcard-action
# =====================================================================================


@check(
    "iam-wildcard-action",
    lenses=("source", "template"),
    kinds=("cdk-python", "cdk-typescript", "cdk-javascript"),
)
def iam_wildcard_action(ctx: CheckContext) -> Iterator[Hit]:
    """IAM Allow statements that grant every action (``*``) or every action of a service (``s3:*``).

    What it finds: Allow statements whose Action is ``*`` or ``<service>:*`` in identity
    policies (role/user/group inline policies, AWS::IAM::Policy, managed policies) and in
    resource policies (bucket, queue, topic, key, secret, repository, domain, API policies).
    The template decides when there is one, including ``*`` actions that grants such as
    ``grant_full_access`` produce; the source gives file:line for ``PolicyStatement(actions=...)``,
    ``add_actions``, ``Grant.add_to_principal`` and JSON-shaped policy dicts (in TypeScript and
    JavaScript: ``new PolicyStatement({ actions })``, ``addActions`` and ``{ Effect, Action }``
    objects, with the construct they are added to). Partial wildcards
    (``s3:Get*``, CDK's ``s3:List*`` grants), Deny statements and the standard key-policy
    statement that gives the account root ``kms:*`` are not reported.

    Why it matters: a wildcard grants every current and future action of the service, including
    destructive and permission-changing ones, far beyond what the code calls; least privilege is
    the first thing a security review checks.

    Bad example:

        fn.add_to_role_policy(iam.PolicyStatement(actions=["dynamodb:*"], resources=[table.table_arn]))

    Fix: list the actions the code calls (``dynamodb:GetItem``, ``dynamodb:PutItem``) or use the
    CDK grant that matches (``table.grant_read_write_data(fn)``).
    """
    cfn: dict[str, Group] = {}
    for stmt in template_statements(ctx):
        wild = [a for a in stmt.actions if WILDCARD_ACTION.match(a)]
        if not stmt.allow or not wild or stmt.account_root_kms:
            continue
        key = f"wildcard-action:{stmt.holder.logical_id}"
        group = cfn.get(key)
        if group is None:
            group = cfn[key] = Group(key, "", set(), [], stmt.owners)
        group.flagged.update(wild)
        ev = stmt.holder.evidence(value=f"Action {', '.join(wild)} on {_show(stmt.resources)}")
        if ev not in group.evidence:
            group.evidence.append(ev)
        whom = "" if stmt.identity else f" to principal {_principal(stmt.statement)}"
        group.message = f"{quote(group.flagged)} allowed{whom} in {stmt.where()} on {_show(stmt.resources)}"
    items = []
    for s in source_statements(ctx):
        wild = [a for a, _ in s.actions if WILDCARD_ACTION.match(a)]
        if s.deny or not wild or (s.account_root and all(a.lower() == "kms:*" for a in wild)):
            continue
        items.append((s, wild))

    def describe(key: str, group: list[tuple[SrcStatement, list[str]]]) -> str:
        actions = {a for _, w in group for a in w}
        return f"{quote(actions)} allowed by {source_where(key, group)}"

    strings = answer_strings(ctx)
    full_access = _answer_calls(ctx, "grant_full_access")

    def corroborated(group: Group) -> bool:
        # the answer typed the wildcard, or asked for it through grant_full_access
        return full_access or any(a.lower() in strings for a in group.flagged)

    yield from merge(ctx, list(cfn.values()), items, describe, "wildcard-action", corroborated)


def _answer_calls(ctx: CheckContext, *names: str) -> bool:
    """Whether the answer calls a method of one of these (Python) names, in either language."""
    if any(idx.calls(*names) for idx in index_sources(ctx.source.parsed())):
        return True
    methods = [camel(n) for n in names]
    return any(call.receiver is not None for tsf in ts_files(ctx.source) for call in tsf.calls(*methods))


def _show(values: list[Any], limit: int = 2) -> str:
    shown = []
    for value in values[:limit]:
        if isinstance(value, str):
            shown.append(value)
        elif isinstance(value, dict) and "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            shown.append(".".join(str(p) for p in value["Fn::GetAtt"]))
        elif isinstance(value, dict) and "Ref" in value:
            shown.append(str(value["Ref"]))
        else:
            shown.append("".join(texts(value)) or "(intrinsic)")
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(shown) + more


def _principal(statement: dict[str, Any]) -> str:
    principal = statement.get("Principal")
    if principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*"):
        return "`*` (anyone)"
    if isinstance(principal, dict):
        parts = [f"{k}: {_show(as_list(v), 1)}" for k, v in principal.items()]
        return "; ".join(parts)
    return str(principal)
