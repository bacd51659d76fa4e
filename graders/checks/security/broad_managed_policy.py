"""broad-managed-policy: roles, users or groups given AdministratorAccess, PowerUserAccess or a ``*FullAccess`` policy."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any

from iacgrade.graders.analysis.cfn import as_list, is_intrinsic, plain_strings
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.iam_statements import (
    INLINE_HOLDERS,
    Group,
    SrcStatement,
    answer_strings,
    holder_hits,
    join,
    owner_call_of,
    texts,
)
from iacgrade.graders.analysis.model import SourceIndex, describe, index_sources, method_receiver
from iacgrade.graders.analysis.pyast import call_name, construct_id, kwarg, walk
from iacgrade.graders.checks import CheckOptions, check


class BroadManagedPolicyOptions(CheckOptions):
    policies: tuple[str, ...] = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
    """AWS managed policy names that are too broad to attach."""
    suffixes: tuple[str, ...] = ("FullAccess",)
    """Name endings that make any AWS managed policy too broad (``AmazonS3FullAccess``)."""


@check(
    "broad-managed-policy",
    lenses=("source", "template"),
    kinds=("cdk-python",),
    options=BroadManagedPolicyOptions,
)
def broad_managed_policy(ctx: CheckContext) -> Iterator[Hit]:
    """Roles, users or groups given AdministratorAccess, PowerUserAccess or a ``*FullAccess`` policy.

    What it finds: AWS managed policies named in the rubric (AdministratorAccess,
    PowerUserAccess, IAMFullAccess) or ending in a broad suffix (``FullAccess``:
    AmazonS3FullAccess, AmazonDynamoDBFullAccess, ...) attached through ``managed_policies=``,
    ``add_managed_policy`` or ``ManagedPolicyArns``. Narrow managed policies such as
    AWSLambdaBasicExecutionRole or AmazonECSTaskExecutionRolePolicy are not reported.

    Why it matters: these policies grant every action on every resource of a service (or of the
    account), so the workload can read, change or delete data it has nothing to do with.

    Bad example:

        iam.Role(self, "DaxRole", assumed_by=iam.ServicePrincipal("dax.amazonaws.com"),
                 managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonDynamoDBFullAccess")])

    Fix: replace it with a policy that lists the actions on the resources used, or with CDK grants
    (``table.grant_read_write_data(role)``).
    """
    opts = ctx.options(BroadManagedPolicyOptions)
    exact, suffixes = set(opts.policies), opts.suffixes

    def broad(name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        return base in exact or base.endswith(suffixes)

    cfn: dict[str, Group] = {}
    for res in ctx.template.resources(*INLINE_HOLDERS):
        for arn in as_list(res.properties.get("ManagedPolicyArns")):
            name = _managed_name(arn)
            if name is None or not broad(name):
                continue
            key = f"managed:{res.logical_id}:{name}"
            who = describe(res)
            cfn[key] = Group(
                key,
                f"{res.type.rsplit('::', 1)[-1].lower()} {who} has the AWS managed policy {name}",
                {name.rsplit("/", 1)[-1]},
                [res.evidence(value=f"ManagedPolicyArns {name}")],
                [res],
            )
    items = []
    for src_item in _source_managed(ctx):
        if broad(src_item[1]):
            items.append(src_item)
    yield from _merge_managed(ctx, list(cfn.values()), items)


def _owner(idx: SourceIndex, node: ast.AST) -> str | None:
    call = owner_call_of(idx, node)
    return construct_id(call) if call is not None else None


# =====================================================================================
# broad-managed-policy
# =====================================================================================

_AWS_POLICY = re.compile(r":iam::aws:policy/([\w+=,.@/-]+)$")


def _managed_name(arn: Any) -> str | None:
    for text in texts(arn):
        match = _AWS_POLICY.search(text)
        if match:
            return match.group(1)
    if is_intrinsic(arn):
        for text in plain_strings(arn):
            match = _AWS_POLICY.search(text)
            if match:
                return match.group(1)
    return None


def _source_managed(ctx: CheckContext) -> Iterator[tuple[SrcStatement, str]]:
    """(statement-like record, policy name) for each AWS managed policy the source names."""
    for idx in index_sources(ctx.source.parsed()):
        for call in idx.calls("from_aws_managed_policy_name", "from_managed_policy_arn"):
            args = list(call.args)
            arg = (
                (args[0] if args else kwarg(call, "managed_policy_name"))
                if call_name(call).startswith("from_aws")
                else (args[2] if len(args) > 2 else kwarg(call, "managed_policy_arn"))
            )
            name = _managed_name_from_source(idx, arg, call_name(call).startswith("from_aws"))
            if name is None:
                continue
            record = SrcStatement(idx, call)
            record.actions = [(name.rsplit("/", 1)[-1], arg if arg is not None else call)]
            record.owner = _managed_owner(idx, call)
            yield record, name


def _managed_name_from_source(idx: SourceIndex, arg: ast.expr | None, bare: bool) -> str | None:
    if arg is None:
        return None
    value = idx.resolve(arg)
    if bare:
        return value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
    tail = "".join(v.value for v in walk(value) if isinstance(v, ast.Constant) and isinstance(v.value, str))
    match = _AWS_POLICY.search(tail)
    return match.group(1) if match else None


def _managed_owner(idx: SourceIndex, call: ast.Call) -> str | None:
    for anc in idx.ancestors(call):
        if isinstance(anc, ast.Call):
            receiver = method_receiver(anc, "add_managed_policy")
            if receiver is not None:
                return idx.construct_id_of(receiver)
            cid = construct_id(anc)
            if cid is not None:
                return cid
        if isinstance(anc, ast.stmt):
            return _owner(idx, call)
    return None


def _merge_managed(
    ctx: CheckContext, cfn_groups: list[Group], items: list[tuple[SrcStatement, str]]
) -> Iterator[Hit]:
    # Managed policies CDK attaches itself (a construct's default service role) are not the
    # answer's choice: a template finding needs the policy name somewhere in the answer's code.
    strings = " ".join(answer_strings(ctx))
    if ctx.template.present:
        records: dict[int, tuple[SrcStatement, str]] = {}
        source_hits = []
        for record, name in items:
            value = record.shown(100)
            hit = Hit("", [ctx.source.at(record.src, record.node, value=value)], key=record.owner)
            records[id(hit)] = (record, name)
            source_hits.append(hit)

        def joins(hit: Hit) -> list[str]:
            record, name = records[id(hit)]
            group = join(record, [name.rsplit("/", 1)[-1]], cfn_groups)
            return [group.key] if group is not None else []

        yield from holder_hits(
            ctx, cfn_groups, source_hits, joins, lambda g: any(n.lower() in strings for n in g.flagged)
        )
        return
    for record, name in items:
        key = f"managed:{record.owner or record.src.path}:{name}"
        holder = record.owner or f"a role at {record.src.path}:{record.line}"
        value = record.shown(100)
        yield Hit(
            f"{holder} gets the AWS managed policy {name}",
            [ctx.source.at(record.src, record.node, value=value)],
            key=key,
            lens="source",
        )
