"""log-retention-missing: log groups, Lambda logs and exported database logs kept forever."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any

from iacgrade.graders.analysis.cfn import refs_within, sub_text
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.functions import FUNCTION_CALLS, workload_functions
from iacgrade.graders.analysis.model import (
    AnswerModel,
    Instance,
    Item,
    one_finding,
    refs_in,
    resource_label,
    string_pattern,
    template_key,
    text_of,
)
from iacgrade.graders.analysis.pyast import call_name, dotted, kwarg, str_literal
from iacgrade.graders.analysis.stacks import string_values
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import check


@check("log-retention-missing", lenses=("source", "template"), kinds=("cdk-python",))
def log_retention_missing(ctx: CheckContext) -> Iterable[Hit]:
    """Log groups, Lambda logs and exported database logs kept forever.

    What it finds: log groups without RetentionInDays (in CDK: `RetentionDays.INFINITE` or a
    CfnLogGroup without retention; an L2 LogGroup left alone gets 2 years), Lambda functions
    with no log group of their own and no log_retention (their implicit `/aws/lambda/<name>`
    group never expires; the `@aws-cdk/aws-lambda:useCdkManagedLogGroup` flag gives them a
    managed group with retention and is respected), RDS/Aurora `cloudwatch_logs_exports`
    without `cloudwatch_logs_retention`, and ECS awslogs drivers without log_retention. The
    execution-log group API Gateway creates itself is not counted.

    Why it matters: logs that never expire grow the CloudWatch bill every month and keep
    personal data longer than any policy allows.

    Bad example:

        rds.DatabaseInstance(self, "Db", engine=..., vpc=vpc,
                             cloudwatch_logs_exports=["postgresql"])

    Fix: set `retention=logs.RetentionDays.ONE_MONTH` on log groups, give functions a
    `log_group` with a retention, and add `cloudwatch_logs_retention` next to
    `cloudwatch_logs_exports`.
    """
    index = AnswerModel.of(ctx)
    template_items = _template_log_items(ctx) if ctx.template.present else []
    source_items = _source_log_items(ctx, index)

    def message(items: list[Item]) -> str:
        head = (
            "No log retention: " if len(items) == 1 else f"{len(items)} log destinations keep logs forever: "
        )
        return (
            head
            + "; ".join(i.text for i in items[:6])
            + (f"; and {len(items) - 6} more" if len(items) > 6 else "")
        )

    return one_finding(ctx, "log-retention-missing", template_items, source_items, message)


# ==== log-retention-missing ================================================================
_MANAGED_LOG_FLAG = "@aws-cdk/aws-lambda:useCdkManagedLogGroup"


_RDS_TYPES = ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")


_RDS_CALLS = (
    "DatabaseInstance",
    "DatabaseCluster",
    "DatabaseInstanceFromSnapshot",
    "DatabaseClusterFromSnapshot",
    "DatabaseInstanceReadReplica",
)


_LOG_DRIVER_CALLS = ("aws_logs", "AwsLogDriver")


def _log_groups(ctx: CheckContext) -> list[Resource]:
    """Log groups and CDK LogRetention resources: both give a named group a retention."""
    return list(ctx.template.resources("AWS::Logs::LogGroup")) + list(
        ctx.template.resources("Custom::LogRetention", include_helpers=True)
    )


def _names_function(name: Any, fn: Resource) -> bool:
    strings = " ".join(string_values(name))
    if fn.logical_id in refs_within(name) and "/aws/lambda/" in strings:
        return True
    fname = fn.properties.get("FunctionName")
    if isinstance(fname, str) and isinstance(name, str):
        return name == f"/aws/lambda/{fname}"
    # CloudFormation: the same Fn::Sub pattern for both (`!Sub '/aws/lambda/app-${Env}'` beside
    # `FunctionName: !Sub 'app-${Env}'`) names the function's own group.
    group_text, fn_text = sub_text(name), sub_text(fname)
    if group_text is None or group_text != f"/aws/lambda/{fn_text if fn_text is not None else fname}":
        return False
    return _sub_map(name) == _sub_map(fname)


def _sub_map(value: Any) -> Any:
    """The variable map of a long-form Fn::Sub (None for the short form or a literal)."""
    body = value.get("Fn::Sub") if isinstance(value, dict) else None
    return body[1] if isinstance(body, list) and len(body) > 1 else None


def _template_log_items(ctx: CheckContext) -> list[Item]:
    groups = _log_groups(ctx)
    items: list[Item] = []
    for res in ctx.template.resources("AWS::Logs::LogGroup"):
        if "RetentionInDays" not in res.properties:
            name = res.properties.get("LogGroupName")
            shown = f" ({name})" if isinstance(name, str) else ""
            items.append(
                Item(
                    template_key(res),
                    f"log group {resource_label(res)}{shown} has no RetentionInDays",
                    res.evidence(value="RetentionInDays not set"),
                )
            )
    for fn in workload_functions(ctx):
        logging = fn.properties.get("LoggingConfig")
        if isinstance(logging, dict) and logging.get("LogGroup") is not None:
            continue  # its own log group, judged above
        if any(g.stack == fn.stack and _names_function(g.properties.get("LogGroupName"), fn) for g in groups):
            continue
        items.append(
            Item(
                template_key(fn),
                f"function {resource_label(fn)} has no log group of its own and no log retention set "
                "(/aws/lambda/<name> never expires)",
                fn.evidence(value="no LoggingConfig.LogGroup, LogGroup or LogRetention for /aws/lambda/<fn>"),
            )
        )
    for db in ctx.template.resources(*_RDS_TYPES):
        exports = db.properties.get("EnableCloudwatchLogsExports")
        if not isinstance(exports, list) or not exports:
            continue
        if any(
            g.stack == db.stack and db.logical_id in refs_within(g.properties.get("LogGroupName"))
            for g in groups
        ):
            continue
        shown = ", ".join(e for e in exports if isinstance(e, str))
        items.append(
            Item(
                template_key(db),
                f"{'cluster' if db.type.endswith('Cluster') else 'DB instance'} {resource_label(db)} exports "
                f"{shown} logs with no log retention (RDS creates those groups with no expiry)",
                db.evidence(value=f"EnableCloudwatchLogsExports {shown}; no LogRetention"),
            )
        )
    return items


def _managed_log_groups(ctx: CheckContext) -> bool | None:
    """Whether functions get a CDK-managed log group (True/False), None when unknown."""
    ws = ctx.workspace
    if ws is None:
        return None
    return ws.context.get(_MANAGED_LOG_FLAG) in (True, "true")


def _source_log_items(ctx: CheckContext, index: AnswerModel) -> list[Item]:
    items: list[Item] = []
    for inst in index.instances("LogGroup"):
        ret = inst.kw("retention")
        if ret is not None and dotted(ret).endswith("INFINITE"):
            items.append(
                Item(
                    inst.cid,
                    f"log group {inst.label} has retention=RetentionDays.INFINITE",
                    inst.evidence(ctx, value=text_of(ret), node=ret),
                )
            )
    for inst in index.instances("CfnLogGroup"):
        if not inst.opaque and not inst.kw_set("retention_in_days"):
            items.append(
                Item(
                    inst.cid,
                    f"log group {inst.label} (CfnLogGroup) has no retention_in_days",
                    inst.evidence(ctx, value="retention_in_days not set"),
                )
            )
    items.extend(_source_function_log_items(ctx, index))
    rds_named = _named_log_groups(index, "/aws/rds/")
    for inst in index.instances(*_RDS_CALLS, "CfnDBInstance", "CfnDBCluster"):
        exports = inst.kw("cloudwatch_logs_exports") or inst.kw("enable_cloudwatch_logs_exports")
        if exports is None or (isinstance(exports, (ast.List, ast.Tuple)) and not exports.elts):
            continue
        if inst.kw_set("cloudwatch_logs_retention") or (call_name(inst.call).startswith("Cfn") and rds_named):
            continue
        items.append(
            Item(
                inst.cid,
                f"database {inst.label} exports {_list_text(exports)} logs with no cloudwatch_logs_retention "
                "(RDS creates those groups with no expiry)",
                inst.evidence(ctx, value=f"cloudwatch_logs_exports={text_of(exports)}", node=exports),
            )
        )
    for src, call in index.calls:
        if call_name(call) in _LOG_DRIVER_CALLS and not (
            kwarg(call, "log_retention") or kwarg(call, "log_group")
        ):
            if call_name(call) == "aws_logs" and not dotted(call.func).lower().endswith(
                ("logdrivers.aws_logs", "logdriver.aws_logs")
            ):
                continue
            items.append(
                Item(
                    None,
                    f"container log driver {text_of(call, 60)} has no log_retention",
                    ctx.source.at(src, call, value="no log_retention / log_group"),
                )
            )
    return items


def _list_text(node: ast.expr) -> str:
    """`postgresql, upgrade` for a list of string literals, else the expression's text."""
    if isinstance(node, (ast.List, ast.Tuple)) and all(str_literal(e) for e in node.elts):
        return ", ".join(str(str_literal(e)) for e in node.elts)
    return text_of(node)


def _named_log_groups(index: AnswerModel, prefix: str) -> list[Instance]:
    out = []
    for inst in index.instances("LogGroup", "CfnLogGroup"):
        name = string_pattern(inst.kw("log_group_name"))
        if name and name.startswith(prefix):
            out.append(inst)
    return out


def _source_function_log_items(ctx: CheckContext, index: AnswerModel) -> list[Item]:
    managed = _managed_log_groups(ctx)
    if managed or (managed is None and not ctx.template.present):
        return []  # CDK-managed groups with retention, or we cannot know the flag
    lambda_groups = _named_log_groups(index, "/aws/lambda/")
    covered_refs: set[str] = set()
    covered_names: set[str] = set()
    for g in lambda_groups:
        name_node = g.kw("log_group_name")
        covered_refs |= refs_in(name_node)
        covered_names.add(string_pattern(name_node) or "")
    items = []
    for inst in index.instances(*FUNCTION_CALLS):
        if inst.opaque or any(inst.kw_set(k) for k in ("log_group", "log_retention", "logging_config")):
            continue
        fname = string_pattern(inst.kw("function_name"))
        if fname and f"/aws/lambda/{fname}" in covered_names:
            continue
        if index.assigned_names(inst) & covered_refs:
            continue
        items.append(
            Item(
                inst.cid,
                f"function {inst.label} has no log_group or log_retention (/aws/lambda/<name> never expires)",
                inst.evidence(ctx, value="no log_group / log_retention"),
            )
        )
    return items
