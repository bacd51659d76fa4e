"""destroy-stateful: stateful resources (tables, buckets, databases, keys, log groups) deleted with the stack."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import Field

from iacgrade.graders.analysis.cfn import written_attribute
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import (
    SourceIndex,
    best_matches,
    describe,
    index_sources,
    method_receiver,
)
from iacgrade.graders.analysis.names import (
    id_text,
)
from iacgrade.graders.analysis.pyast import call_name, construct_id, dotted, iter_calls, kwarg, walk
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.analysis.tsast import NewCall, TsFile, ts_files
from iacgrade.graders.checks import CheckOptions, check
from iacgrade.graders.models import Evidence
from iacgrade.graders.prompt import asks_destroyable

if TYPE_CHECKING:
    from tree_sitter import Node


class DestroyStatefulOptions(CheckOptions):
    stateful_types: tuple[str, ...] = Field(default_factory=lambda: tuple(_TYPE_LABELS))
    """Resource types whose data CDK keeps by default (RETAIN, or SNAPSHOT for databases).
    Queues, secrets and state machines are left out: CDK deletes them by default, so a DESTROY
    there is not a choice the answer made."""
    prompt_waives: bool = True
    """When the task's prompt requires everything to be destroyable, report at severity info."""


@check(
    "destroy-stateful",
    lenses=("source", "template"),
    kinds=("cdk-python", "cdk-typescript", "cdk-javascript"),
    options=DestroyStatefulOptions,
)
def destroy_stateful(ctx: CheckContext) -> Iterator[Hit]:
    """Stateful resources (tables, buckets, databases, keys, log groups) deleted with the stack.

    What it finds: in the template, resources CDK would retain by default (DynamoDB tables, S3
    buckets, RDS instances and clusters, KMS keys, log groups, EFS, Kinesis streams, user pools,
    ECR repositories, backup vaults, search domains) that carry ``DeletionPolicy: Delete`` —
    only the answer's own ``RemovalPolicy.DESTROY`` / ``apply_removal_policy`` puts it there
    (instances of an Aurora cluster are Delete by CDK's default and are skipped). In the source,
    ``removal_policy=RemovalPolicy.DESTROY``, ``apply_removal_policy(DESTROY)``,
    ``cfn_options.deletion_policy = DELETE`` and ``auto_delete_objects=True`` on those constructs
    (in TypeScript and JavaScript: ``removalPolicy: RemovalPolicy.DESTROY``,
    ``applyRemovalPolicy(...)``, ``autoDeleteObjects: true``).
    When a template exists it decides (a DESTROY gated to non-production stages counts only if
    it applies to the stage that synthesized); without one, the source reports unconditional and
    gated DESTROY alike and names the gate. Queues and secrets are not reported: CDK deletes them
    by default anyway. In a CloudFormation template a stateful resource with no
    ``DeletionPolicy`` is deleted with the stack (RDS snapshots first), and is reported so,
    except a log group: CloudFormation removing the stack's own log groups with it is their
    intended lifecycle; a ``DeletionPolicy: Delete`` written on one is reported.

    Why it matters: deleting or replacing the stack (or a rename that forces replacement) then
    deletes the data: table items, objects, database contents, and for a KMS key everything it
    encrypted.

    Bad example:

        dynamodb.Table(self, "UserTable", removal_policy=RemovalPolicy.DESTROY, ...)

    A DESTROY gated to throw-away stages by a condition that keeps production's data
    (`RemovalPolicy.DESTROY if stage != "prod" else RemovalPolicy.RETAIN`) is what the fix below
    recommends: it is reported as a note at severity info, naming the condition.

    When the task's prompt itself requires everything to be destroyable ("All resources must be
    destroyable (no Retain policies)", a CI test stack), the finding is kept as a note at
    severity info, quoting the prompt: the answer did what it was asked, and the note only says
    the same code must not reach production data. The rubric option ``prompt_waives: false``
    turns that off.

    Fix: keep CDK's default (RETAIN, or SNAPSHOT for databases), or gate DESTROY to throw-away
    stages with a condition that is false for production.
    """
    hits = list(_destroy_hits(ctx))
    asked = asks_destroyable(ctx.prompt) if ctx.options(DestroyStatefulOptions).prompt_waives else None
    for hit in hits:
        if asked and hit.severity != "info":
            hit.as_note(f"; as the task's prompt requires (“{asked}”), so not scored: keep it to test stacks")
        yield hit


# =====================================================================================
# destroy-stateful
# =====================================================================================

# Constructs whose data CDK keeps by default (RETAIN/SNAPSHOT), by class name, with a label.
# Queues, secrets and state machines are deleted by CDK's own default, so choosing DESTROY
# there changes nothing and is not reported.
_STATEFUL_CLASSES: dict[str, str] = {
    "Table": "DynamoDB table",
    "TableV2": "DynamoDB table",
    "CfnTable": "DynamoDB table",
    "CfnGlobalTable": "DynamoDB table",
    "Bucket": "S3 bucket",
    "CfnBucket": "S3 bucket",
    "DatabaseInstance": "RDS instance",
    "DatabaseInstanceFromSnapshot": "RDS instance",
    "CfnDBInstance": "RDS instance",
    "DatabaseCluster": "database cluster",
    "DatabaseClusterFromSnapshot": "database cluster",
    "ServerlessCluster": "database cluster",
    "CfnDBCluster": "database cluster",
    "Key": "KMS key",
    "CfnKey": "KMS key",
    "LogGroup": "log group",
    "CfnLogGroup": "log group",
    "FileSystem": "file system",
    "CfnFileSystem": "file system",
    "Stream": "Kinesis stream",
    "CfnStream": "Kinesis stream",
    "UserPool": "Cognito user pool",
    "CfnUserPool": "Cognito user pool",
    "Repository": "ECR repository",
    "CfnRepository": "ECR repository",
    "BackupVault": "backup vault",
    "CfnBackupVault": "backup vault",
    "Domain": "search domain",
    "CfnDomain": "search domain",
}


# Module aliases that make an ambiguous class name something else (glue.CfnTable, codecommit.Repository).
_NOT_STATEFUL_MODULES = re.compile(
    r"glue|codecommit|codeartifact|cognito|apigateway|route53|sagemaker|datazone", re.IGNORECASE
)


_TYPE_LABELS: dict[str, str] = {
    "AWS::DynamoDB::Table": "DynamoDB table",
    "AWS::DynamoDB::GlobalTable": "DynamoDB table",
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::RDS::DBInstance": "RDS instance",
    "AWS::RDS::DBCluster": "database cluster",
    "AWS::KMS::Key": "KMS key",
    "AWS::Logs::LogGroup": "log group",
    "AWS::EFS::FileSystem": "file system",
    "AWS::Kinesis::Stream": "Kinesis stream",
    "AWS::Cognito::UserPool": "Cognito user pool",
    "AWS::ECR::Repository": "ECR repository",
    "AWS::Backup::BackupVault": "backup vault",
    "AWS::OpenSearchService::Domain": "search domain",
    "AWS::Elasticsearch::Domain": "search domain",
    "AWS::Neptune::DBCluster": "database cluster",
    "AWS::DocDB::DBCluster": "database cluster",
}


_LOG_NOTE = " (log data only; lower impact than a data store)"


@dataclass
class _Destroy:
    """A DESTROY (or auto-delete) the source sets on a stateful construct."""

    src: SourceFile
    node: ast.AST | int  # a Python node, or the line (TypeScript)
    construct: str | None
    label: str
    code: str
    gate: str | None = None
    auto_delete: bool = False
    extra: list[tuple[SourceFile, ast.AST | int, str]] = field(default_factory=list)
    shown: str | None = None  # the construct id as a reader sees it


def _destroy_hits(ctx: CheckContext) -> Iterator[Hit]:
    stateful = set(ctx.options(DestroyStatefulOptions).stateful_types)
    destroys = [d for idx in index_sources(ctx.source.parsed()) for d in _source_destroys(idx)]
    destroys += [d for tsf in ts_files(ctx.source) for d in _ts_destroys(tsf)]
    if not ctx.template.present:
        yield from _source_only_destroys(ctx, destroys)
        return
    auto_deleted = _auto_deleted_buckets(ctx)
    deleted = [
        r
        for r in ctx.template.resources(*stateful)
        if r.raw.get("DeletionPolicy") == "Delete" and not _cdk_default(r) and not _cfn_default_log_group(r)
    ]
    matched: dict[str, list[_Destroy]] = {}
    for d in destroys:
        if d.construct is None:
            continue
        for res in best_matches(deleted, d.construct):
            matched.setdefault(res.logical_id, []).append(d)
    for res in deleted:
        key = res.logical_id  # the same construct in a dev and a prod stack is one finding
        label = _TYPE_LABELS.get(res.type, res.type)
        sources = matched.get(key, [])
        how = "; ".join(dict.fromkeys(f"`{d.code}`" for d in sources))
        auto = res.logical_id in auto_deleted or any(d.auto_delete for d in sources)
        written = written_attribute(res.raw, "DeletionPolicy") is not None
        policy = (
            f"has DeletionPolicy Delete{f' from {how}' if how else ''}"
            if written
            else "has no DeletionPolicy, so CloudFormation deletes it with the stack"
        )
        message = (
            f"{label} {describe(res)} {policy}"
            f"{' and auto-deletes its objects' if auto else ''}: deleting the stack deletes its data"
        )
        if label == "log group":
            message += _LOG_NOTE
        gated = bool(sources) and all(_spares_production(d.gate) for d in sources)
        shown = (
            "DeletionPolicy: Delete" if written else "no DeletionPolicy (CloudFormation's default: Delete)"
        )
        hits = [Hit(message, [res.evidence(value=shown)], key=key, lens="template")]
        hits += [Hit(message, _destroy_evidence(ctx, d), key=key, lens="source") for d in sources]
        yield from (hit.as_note(_GATED_NOTE) if gated else hit for hit in hits)


_GATED_NOTE = "; only outside production (the condition keeps production's data), so not scored"


# Conditions under which DESTROY applies that leave production out: `stage != "prod"`,
# `not (stage == "production")`, `not is_prod`, `env not in ("prod", ...)`, `env == "dev"`, and
# TypeScript's `stage !== 'prod'`, `!(stage === 'prod')`, `!isProd`.
_SPARES_PRODUCTION = re.compile(
    r"!==?\s*['\"]prod(?:uction)?['\"]"
    r"|^(?:not\s*|!\s*)\(.*===?\s*['\"]prod(?:uction)?['\"]\s*\)$"
    r"|^(?:not\s+|!\s*)[\w.]*prod(?:uction)?\w*$"
    r"|\bnot\s+in\s*[(\[{].*['\"]prod(?:uction)?['\"]"
    r"|===?\s*['\"](?:dev|development|test|testing|sandbox|qa|local|ci)['\"]",
    re.IGNORECASE,
)


def _spares_production(gate: str | None) -> bool:
    """A DESTROY condition that keeps production's data (see _SPARES_PRODUCTION)."""
    return bool(gate) and bool(_SPARES_PRODUCTION.search((gate or "").strip()))


def _cdk_default(res: Resource) -> bool:
    """Delete that CDK chose, not the answer: the instances of an Aurora/DocDB cluster."""
    return res.type.endswith("DBInstance") and "DBClusterIdentifier" in res.properties


def _cfn_default_log_group(res: Resource) -> bool:
    """A CloudFormation log group left at the default DeletionPolicy: its logs go with the stack
    that writes them, which is the group's intended lifecycle (an answer that gives each function
    a group with retention must not score below one that leaves the logs unmanaged). A
    ``DeletionPolicy: Delete`` the answer wrote is still reported."""
    return res.type == "AWS::Logs::LogGroup" and written_attribute(res.raw, "DeletionPolicy") is None


def _auto_deleted_buckets(ctx: CheckContext) -> set[str]:
    out: set[str] = set()
    for res in ctx.template.resources("Custom::S3AutoDeleteObjects", include_helpers=True):
        ref = res.properties.get("BucketName")
        if isinstance(ref, dict) and isinstance(ref.get("Ref"), str):
            out.add(ref["Ref"])
    return out


def _source_only_destroys(ctx: CheckContext, destroys: list[_Destroy]) -> Iterator[Hit]:
    for d in destroys:
        line = d.node if isinstance(d.node, int) else getattr(d.node, "lineno", "?")
        name = d.shown or d.construct or f"line {line}"
        if d.gate:
            message = f"{d.label} {name} is deleted with the stack whenever `{d.gate}`: `{d.code}`"
        else:
            message = f"{d.label} {name} is deleted with the stack: `{d.code}`"
        if d.auto_delete and not re.search("auto_?delete", d.code, re.IGNORECASE):
            also = "auto_delete_objects=True" if d.src.path.endswith(".py") else "autoDeleteObjects: true"
            message += f" ({also} as well)"
        if d.label == "log group":
            message += _LOG_NOTE
        hit = Hit(message, _destroy_evidence(ctx, d), key=f"{d.src.path}:{name}")
        yield hit.as_note(_GATED_NOTE) if _spares_production(d.gate) else hit


def _destroy_evidence(ctx: CheckContext, d: _Destroy) -> list[Evidence]:
    out = [ctx.source.at(d.src, d.node, value=d.code)]
    out += [ctx.source.at(src, node, value=code) for src, node, code in d.extra]
    return out


def _source_destroys(idx: SourceIndex) -> list[_Destroy]:
    """DESTROY / auto-delete set on stateful constructs, one entry per construct."""
    by_call: dict[ast.Call, _Destroy] = {}
    order: list[_Destroy] = []

    def add(call: ast.Call, node: ast.AST, code: str, gate: str | None, auto: bool = False) -> None:
        label = _stateful_label(call)
        if label is None:
            return
        if call in by_call:
            d = by_call[call]
            d.extra.append((idx.src, node, code))
            d.auto_delete = d.auto_delete or auto
            if not auto and gate is None:
                d.gate = None  # an unconditional DESTROY wins over a gated one
            return
        d = _Destroy(idx.src, node, construct_id(call), label, code, gate, auto, shown=id_text(idx, call))
        by_call[call] = d
        order.append(d)

    for call in iter_calls(idx.tree):
        policy = kwarg(call, "removal_policy")
        if policy is not None and (kind := _destroy_kind(idx, policy)) is not None:
            add(call, policy, f"removal_policy={_shown(idx, policy)}", kind[1])
        auto = kwarg(call, "auto_delete_objects")
        if auto is not None and _truthy(idx, auto):
            add(call, auto, f"auto_delete_objects={idx.segment(auto, 60)}", None, auto=True)
        receiver = method_receiver(call, "apply_removal_policy")
        if receiver is not None and call.args and (kind := _destroy_kind(idx, call.args[0])) is not None:
            target = idx.construct_call(receiver)
            if target is not None:
                add(target, call, idx.segment(call, 90), kind[1])
    for node in walk(idx.tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and dotted(node.targets[0]).endswith("cfn_options.deletion_policy")
            and dotted(node.value).endswith(".DELETE")
        ):
            base = node.targets[0].value.value  # type: ignore[attr-defined]
            target = idx.construct_call(base)
            if target is not None:
                add(target, node, idx.segment(node, 90), None)
    return order


def _ts_destroys(tsf: TsFile) -> list[_Destroy]:
    """The same in a TypeScript/JavaScript file: `removalPolicy: RemovalPolicy.DESTROY` and
    `autoDeleteObjects: true` in a stateful construct's props, `x.applyRemovalPolicy(DESTROY)`
    on one, a DESTROY branch of a `?:` reported with its condition."""
    by_node: dict[int, _Destroy] = {}

    def add(new: NewCall, line: int, code: str, gate: str | None, auto: bool = False) -> None:
        label = _STATEFUL_CLASSES.get(new.cls)
        if label is None or _NOT_STATEFUL_MODULES.search(new.qualified):
            return
        d = by_node.get(new.node.id)
        if d is not None:
            d.extra.append((tsf.src, line, code))
            d.auto_delete = d.auto_delete or auto
            if not auto and gate is None:
                d.gate = None  # an unconditional DESTROY wins over a gated one
            return
        id_node = new.arg(1)
        cid = tsf.construct_id(id_node) if id_node is not None else None
        by_node[new.node.id] = _Destroy(tsf.src, line, cid, label, code, gate, auto, shown=cid)

    for new in tsf.news():
        props = tsf.props(new.arg(2))
        policy = props.get("removalPolicy")
        if policy is not None and (kind := _ts_destroy_kind(tsf, policy)) is not None:
            add(new, tsf.line(policy), f"removalPolicy: {_ts_shown(tsf, policy)}", kind[1])
        auto = props.get("autoDeleteObjects")
        if auto is not None and tsf.is_true(auto):
            add(new, tsf.line(auto), f"autoDeleteObjects: {tsf.segment(auto, 60)}", None, auto=True)
    for call in tsf.calls("applyRemovalPolicy"):
        if call.receiver is None or not call.args:
            continue
        kind = _ts_destroy_kind(tsf, call.args[0])
        target = tsf.constructed(call.receiver)
        if kind is not None and target is not None:
            add(target, tsf.line(call.node), tsf.segment(call.node, 90), kind[1])
    return sorted(by_node.values(), key=lambda d: d.node if isinstance(d.node, int) else 0)


def _ts_destroy_kind(tsf: TsFile, node: Node) -> tuple[str, str | None] | None:
    """("always", None) for DESTROY, ("gated", condition) for a DESTROY branch of `c ? a : b`."""
    value = tsf.resolve(node)
    if _ts_is_destroy(tsf, value):
        return "always", None
    if value.type != "ternary_expression":
        return None
    test = value.child_by_field_name("condition")
    branches = [value.child_by_field_name(f) for f in ("consequence", "alternative")]
    body, orelse = (b is not None and _ts_is_destroy(tsf, tsf.resolve(b)) for b in branches)
    if body and orelse:
        return "always", None
    if not (body or orelse) or test is None:
        return None
    shown = tsf.segment(test, 60)
    return "gated", shown if body else f"!({shown})"


def _ts_is_destroy(tsf: TsFile, node: Node) -> bool:
    """`RemovalPolicy.DESTROY` (through any namespace) or a bare `DESTROY`, as ``_is_destroy``."""
    return tsf.member(node) in ("RemovalPolicy.DESTROY", "DESTROY")


def _ts_shown(tsf: TsFile, node: Node) -> str:
    text = tsf.segment(node, 90)
    value = tsf.resolve(node)
    return text if value == node else f"{text} (= {tsf.segment(value, 90)})"


def _shown(idx: SourceIndex, expr: ast.expr) -> str:
    """The expression as written, plus what a variable holds when it was reached through one."""
    text = idx.segment(expr, 90)
    value = idx.resolve(expr)
    return text if value is expr else f"{text} (= {idx.segment(value, 90)})"


def _stateful_label(call: ast.Call) -> str | None:
    label = _STATEFUL_CLASSES.get(call_name(call))
    if label is None or _NOT_STATEFUL_MODULES.search(dotted(call.func)):
        return None
    return label


def _destroy_kind(idx: SourceIndex, expr: ast.expr) -> tuple[str, str | None] | None:
    """("always", None) for DESTROY, ("gated", condition) for a DESTROY branch of a conditional."""
    value = idx.resolve(expr)
    if _is_destroy(value):
        return "always", None
    if not isinstance(value, ast.IfExp):
        return None
    body, orelse = _is_destroy(idx.resolve(value.body)), _is_destroy(idx.resolve(value.orelse))
    if body and orelse:
        return "always", None
    if not (body or orelse):
        return None
    test = idx.segment(value.test, 60)
    return "gated", test if body else f"not ({test})"


def _is_destroy(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "DESTROY") or (
        isinstance(node, ast.Name) and node.id == "DESTROY"
    )


def _truthy(idx: SourceIndex, node: ast.expr) -> bool:
    value = idx.resolve(node)
    if isinstance(value, ast.Constant):
        return value.value is True
    return isinstance(value, ast.IfExp) and any(
        isinstance(b, ast.Constant) and b.value is True for b in (value.body, value.orelse)
    )
