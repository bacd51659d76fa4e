"""pitr-disabled: dynamoDB tables without point-in-time recovery."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import (
    AnswerModel,
    Instance,
    Item,
    names_list,
    one_finding,
    resource_label,
    template_key,
)
from iacgrade.graders.analysis.pyast import call_name, kwarg, literal, str_literal
from iacgrade.graders.analysis.stacks import assigned_call, truthy_kw
from iacgrade.graders.checks import check


@check("pitr-disabled", lenses=("source", "template"), kinds=("cdk-python",))
def pitr_disabled(ctx: CheckContext) -> Iterable[Hit]:
    """DynamoDB tables without point-in-time recovery.

    What it finds: tables whose PointInTimeRecoverySpecification is not enabled (TableV2 /
    global tables: no replica has it). In the source: `point_in_time_recovery=True` (deprecated
    but effective) or `point_in_time_recovery_specification=PointInTimeRecoverySpecification(
    point_in_time_recovery_enabled=True)` count as on; a value the source cannot read is left
    to the template. One finding lists the tables. PITR turned on only for production
    (`point_in_time_recovery=True if stage == "prod" else False`) is a stage choice: reported as a
    note at severity info.

    Why it matters: without PITR a bad deploy, a buggy batch job or a mistaken delete loses
    data for good; with it the table can be restored to any second of the last 35 days.

    Bad example:

        dynamodb.Table(self, "Orders",
                       partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING))

    Fix: `point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
    point_in_time_recovery_enabled=True)`.
    """
    index = AnswerModel.of(ctx)
    template_items = _template_pitr_items(ctx) if ctx.template.present else []
    source_items = []
    off = gated = 0
    for inst in index.instances(*_TABLE_CALLS):
        condition = _pitr_condition(inst)
        if condition is not None and _on_in_production(condition):
            gated += 1
            value = f"point-in-time recovery only when `{condition}`"
            source_items.append(Item(inst.cid, inst.label, inst.evidence(ctx, value=value)))
        elif _source_pitr_state(index, inst) is False:
            off += 1
            source_items.append(
                Item(inst.cid, inst.label, inst.evidence(ctx, value="point-in-time recovery not enabled"))
            )

    def message(items: list[Item]) -> str:
        noun = "table has" if len(items) == 1 else f"{len(items)} tables have"
        return f"DynamoDB {noun} no point-in-time recovery: {names_list(i.text for i in items)}"

    hits = one_finding(ctx, "pitr-disabled", template_items, source_items, message)
    if gated and not off and len(template_items) <= gated:
        for hit in hits:  # every table without it turns PITR on in production: a stage choice
            hit.as_note("; it is on in production (the answer enables it only there), so not scored")
    return hits


# ==== pitr-disabled ========================================================================
_TABLE_CALLS = ("Table", "TableV2", "CfnTable", "CfnGlobalTable")


def _pitr_on(spec: Any) -> bool | None:
    if not isinstance(spec, dict):
        return False
    flag = spec.get("PointInTimeRecoveryEnabled")
    if isinstance(flag, dict):
        return None
    return flag is True or flag == "true"


def _template_pitr_items(ctx: CheckContext) -> list[Item]:
    items = []
    for table in ctx.template.resources("AWS::DynamoDB::Table"):
        state = _pitr_on(table.properties.get("PointInTimeRecoverySpecification"))
        if state is False:
            items.append(
                Item(
                    template_key(table),
                    resource_label(table),
                    table.evidence(value="PointInTimeRecoverySpecification not enabled"),
                )
            )
    for table in ctx.template.resources("AWS::DynamoDB::GlobalTable"):
        replicas = table.properties.get("Replicas")
        states = (
            [_pitr_on(r.get("PointInTimeRecoverySpecification")) for r in replicas if isinstance(r, dict)]
            if isinstance(replicas, list)
            else []
        )
        if states and all(s is False for s in states):
            items.append(
                Item(
                    template_key(table),
                    resource_label(table),
                    table.evidence(value="no replica has PointInTimeRecoverySpecification enabled"),
                )
            )
    return items


def _source_pitr_state(index: AnswerModel, inst: Instance) -> bool | None:
    """True/False when the source says whether PITR is on, None when it cannot tell."""
    l1 = call_name(inst.call).startswith("Cfn")
    if not l1:
        legacy = inst.kw("point_in_time_recovery")
        if legacy is not None:
            return truthy_kw(legacy)
    spec = inst.kw("point_in_time_recovery_specification")
    if spec is None:
        if call_name(inst.call) == "CfnGlobalTable":
            return None  # per-replica settings: leave to the template
        return None if inst.opaque else False
    if isinstance(spec, ast.Name):
        spec = (
            index.assigned_literal(inst.src, inst.call, spec.id)
            or assigned_call(index, inst, spec.id)
            or spec
        )
    if isinstance(spec, ast.Call):
        return truthy_kw(kwarg(spec, "point_in_time_recovery_enabled"))
    if isinstance(spec, ast.Dict):
        # An L2 struct dict takes snake_case keys; an L1 property dict only camelCase ones (others are dropped).
        wanted = "pointInTimeRecoveryEnabled" if l1 else "point_in_time_recovery_enabled"
        for k, v in zip(spec.keys, spec.values, strict=True):
            if k is None:
                return None
            if str_literal(k) == wanted:
                return truthy_kw(v)
        return False
    return None


def _pitr_condition(inst: Instance) -> str | None:
    """The condition under which a table's PITR is on, when the source writes `True if C else False`."""
    value = inst.kw("point_in_time_recovery")
    spec = inst.kw("point_in_time_recovery_specification")
    if value is None and isinstance(spec, ast.Call):
        value = kwarg(spec, "point_in_time_recovery_enabled")
    if not isinstance(value, ast.IfExp):
        return None
    body, orelse = literal(value.body, None), literal(value.orelse, None)
    test = " ".join(ast.unparse(value.test).split())
    if body is True and orelse is False:
        return test
    if body is False and orelse is True:
        return f"not ({test})"
    return None


def _on_in_production(condition: str) -> bool:
    return bool(re.search(r"==\s*['\"]prod(?:uction)?['\"]|^[\w.]*is_prod\w*$", condition.strip()))
