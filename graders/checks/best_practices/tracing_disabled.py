"""tracing-disabled: lambda functions and REST API stages without X-Ray tracing."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.functions import FUNCTION_CALLS, workload_functions
from iacgrade.graders.analysis.model import (
    AnswerModel,
    Instance,
    Item,
    key_text,
    names_list,
    one_finding,
    resource_label,
    template_key,
    text_of,
)
from iacgrade.graders.analysis.pyast import call_name, dotted, kwarg, str_literal
from iacgrade.graders.analysis.stacks import assigned_call, truthy_kw
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import check


@check("tracing-disabled", lenses=("source", "template"), kinds=("cdk-python",))
def tracing_disabled(ctx: CheckContext) -> Iterable[Hit]:
    """Lambda functions and REST API stages without X-Ray tracing.

    What it finds: the answer's Lambda functions whose TracingConfig is not Active and API
    Gateway REST API stages without TracingEnabled (HTTP APIs cannot trace, so they are not
    counted). One finding lists them.

    Why it matters: without traces a slow or failing request through API Gateway, Lambda and
    the data store cannot be followed; latency and errors have no place to be looked up.

    Bad example:

        fn = _lambda.Function(self, "Handler", ...)            # no tracing=
        apigw.LambdaRestApi(self, "Api", handler=fn)           # no deploy_options tracing

    Fix: `tracing=_lambda.Tracing.ACTIVE` on each function and
    `deploy_options=apigw.StageOptions(tracing_enabled=True)` on the API.
    """
    index = AnswerModel.of(ctx)
    template_items = _template_tracing_items(ctx) if ctx.template.present else []
    source_items = _source_tracing_items(ctx, index)

    def message(items: list[Item]) -> str:
        return f"X-Ray tracing is off for {names_list((i.text for i in items), 8)}"

    return one_finding(ctx, "tracing-disabled", template_items, source_items, message)


# ==== tracing-disabled ======================================================================
_REST_API_CALLS = ("RestApi", "LambdaRestApi", "SpecRestApi", "StepFunctionsRestApi")


_STAGE_ID = re.compile(r"^(?P<api>.*?)DeploymentStage\.?(?P<stage>.*)$")


def _stage_key(res: Resource) -> tuple[str, str]:
    """(key, label) of an API stage: the RestApi's construct id for the stage CDK deploys."""
    ids = res.construct_ids
    if len(ids) >= 2 and ids[-1].startswith("DeploymentStage"):
        return ids[-2], f"stage {ids[-1].split('.', 1)[-1]} of {ids[-2]}"
    key = template_key(res)
    m = _STAGE_ID.match(key)
    if m and key_text(m.group("api")):
        return m.group(
            "api"
        ), f"stage {m.group('stage') or '?'} of {key_text(m.group('api'))} ({res.logical_id})"
    return key, f"stage {resource_label(res)}"


def _template_tracing_items(ctx: CheckContext) -> list[Item]:
    items = []
    for fn in workload_functions(ctx):
        mode = (
            (fn.properties.get("TracingConfig") or {}).get("Mode")
            if isinstance(fn.properties.get("TracingConfig"), dict)
            else None
        )
        if mode != "Active" and not isinstance(mode, dict):
            items.append(
                Item(
                    template_key(fn),
                    f"function {resource_label(fn)}",
                    fn.evidence(value=f"TracingConfig {'Mode ' + str(mode) if mode else 'not set'}"),
                )
            )
    for stage in ctx.template.resources("AWS::ApiGateway::Stage"):
        enabled = stage.properties.get("TracingEnabled")
        if enabled is True or enabled == "true" or isinstance(enabled, dict):
            continue
        key, label = _stage_key(stage)
        items.append(Item(key, f"API {label}", stage.evidence(value="TracingEnabled not set")))
    return items


def _source_tracing_items(ctx: CheckContext, index: AnswerModel) -> list[Item]:
    items = []
    for inst in index.instances(*FUNCTION_CALLS):
        tracing = inst.kw("tracing") if call_name(inst.call) != "CfnFunction" else inst.kw("tracing_config")
        if tracing is None and inst.opaque:
            continue
        shown = text_of(tracing) if tracing is not None else ""
        if tracing is not None and (
            "ACTIVE" in shown or "Active" in shown or not _reads_as_untraced(tracing)
        ):
            continue
        items.append(
            Item(
                inst.cid,
                f"function {inst.label}",
                inst.evidence(ctx, value=f"tracing={shown}" if shown else "tracing not set"),
            )
        )
    for inst in index.instances(*_REST_API_CALLS):
        if truthy_kw(inst.kw("deploy")) is False and inst.kw("deploy") is not None:
            continue  # no stage deployed by this construct
        opts = inst.kw("deploy_options")
        state = _struct_flag(index, inst, opts, "tracing_enabled")
        if state is None or state:
            continue
        items.append(
            Item(
                inst.cid,
                f"API {inst.label} (its deployment stage)",
                inst.evidence(ctx, value="deploy_options without tracing_enabled=True"),
            )
        )
    for inst in index.instances("Stage", "CfnStage"):
        if (
            call_name(inst.call) == "Stage"
            and "apigateway" not in dotted(inst.call.func).lower()
            and not inst.kw_set("deployment")
        ):
            continue  # another service's Stage (CDK pipelines)
        state = truthy_kw(inst.kw("tracing_enabled"))
        if state is False and not inst.opaque:
            items.append(
                Item(inst.cid, f"API stage {inst.label}", inst.evidence(ctx, value="tracing_enabled not set"))
            )
    return items


def _reads_as_untraced(node: ast.expr) -> bool:
    text = text_of(node)
    return "DISABLED" in text or "PASS_THROUGH" in text or "PassThrough" in text


def _struct_flag(index: AnswerModel, inst: Instance, node: ast.expr | None, name: str) -> bool | None:
    """A boolean field of a struct argument (StageOptions(...) or a dict); None when unreadable."""
    if node is None:
        return False
    if isinstance(node, ast.Name):
        node = (
            index.assigned_literal(inst.src, inst.call, node.id)
            or assigned_call(index, inst, node.id)
            or node
        )
    if isinstance(node, ast.Call):
        if any(kw.arg is None for kw in node.keywords):
            return None
        return truthy_kw(kwarg(node, name))
    if isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                return None
            if str_literal(k) == name:
                return truthy_kw(v)
        return False
    return None
