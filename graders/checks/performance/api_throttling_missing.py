"""api-throttling-missing: aPI stages that set no throttling, neither on the stage nor through a usage plan."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from iacgrade.graders.analysis.apigw import (
    Template,
    api_label,
    options_of,
    source_view,
)
from iacgrade.graders.analysis.cfn import as_list, ref_target
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import merge_lenses
from iacgrade.graders.analysis.pyast import iter_calls, kwarg, literal, str_literal
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import check

# ==== api-throttling-missing ================================================================


@check("api-throttling-missing", lenses=("source", "template"), kinds=("cdk-python",))
def api_throttling_missing(ctx: CheckContext) -> Iterator[Hit]:
    """API stages that set no throttling, neither on the stage nor through a usage plan.

    What it finds: REST API stages without `throttling_rate_limit`/`throttling_burst_limit`
    (stage `MethodSettings`) and without a usage plan that has a throttle and is attached to
    the stage; HTTP/WebSocket API stages without `DefaultRouteSettings` throttling. One finding
    per API lists its stages.

    Why it matters: without limits a client loop or a flood of requests runs straight into the
    backend (Lambda concurrency, database connections) and the bill; the account-wide default
    of 10,000 requests per second is shared by every API in the region.

    Bad example:

        api = apigw.LambdaRestApi(self, "Api", handler=handler)   # default stage, no limits

    Fix: set `deploy_options=apigw.StageOptions(throttling_rate_limit=100,
    throttling_burst_limit=200)` or attach a usage plan with a `throttle` to the stage.
    """
    template_hits = list(_throttle_template(ctx)) if ctx.template.present else []
    yield from merge_lenses(ctx, template_hits, _throttle_source(ctx))


def _throttled_settings(settings: Any) -> bool:
    return isinstance(settings, dict) and any(
        settings.get(k) is not None for k in ("ThrottlingRateLimit", "ThrottlingBurstLimit")
    )


def _throttle_template(ctx: CheckContext) -> Iterator[Hit]:
    tpl = Template(ctx)
    plan_stages = _usage_plan_throttled_stages(ctx, tpl)
    per_api: dict[str, list[tuple[Resource, str]]] = {}
    apis: dict[str, Resource | None] = {}
    for stage in ctx.template.resources("AWS::ApiGateway::Stage"):
        name = stage.properties.get("StageName")
        name = name if isinstance(name, str) else None  # a hand-written template may use !Ref / !Sub
        if any(_throttled_settings(m) for m in as_list(stage.properties.get("MethodSettings"))):
            continue
        api_lid = ref_target(stage.properties.get("RestApiId"))
        if (stage.stack, stage.logical_id) in plan_stages or (stage.stack, api_lid, name) in plan_stages:
            continue
        key, api = tpl.api_key(stage, "RestApiId")
        apis[key] = api
        per_api.setdefault(key, []).append((stage, _stage_label(stage, name)))
    for dep in ctx.template.resources("AWS::ApiGateway::Deployment"):
        desc = dep.properties.get("StageDescription")
        name = dep.properties.get("StageName")
        if not isinstance(name, str) or _throttled_settings(desc):
            continue
        if isinstance(desc, dict) and any(
            _throttled_settings(m) for m in as_list(desc.get("MethodSettings"))
        ):
            continue
        api_lid = ref_target(dep.properties.get("RestApiId"))
        if (dep.stack, api_lid, name) in plan_stages:
            continue
        key, api = tpl.api_key(dep, "RestApiId")
        apis[key] = api
        per_api.setdefault(key, []).append((dep, f"stage {name} (from the deployment)"))
    for stage in ctx.template.resources("AWS::ApiGatewayV2::Stage"):
        props = stage.properties
        if _throttled_settings(props.get("DefaultRouteSettings")):
            continue
        routes = props.get("RouteSettings")
        if isinstance(routes, dict) and any(_throttled_settings(v) for v in routes.values()):
            continue
        key, api = tpl.api_key(stage, "ApiId")
        apis[key] = api
        per_api.setdefault(key, []).append((stage, _stage_label(stage, props.get("StageName"))))
    for key, stages in per_api.items():
        names = [n for _, n in stages]
        yield Hit(
            f"{api_label(apis[key], key)}: {', '.join(names)} without throttling (no rate/burst limit on the "
            "stage and no usage plan with a throttle attached)",
            [res.evidence(value=n) for res, n in stages],
            key=key,
            lens="template",
        )


def _usage_plan_throttled_stages(ctx: CheckContext, tpl: Template) -> set[tuple[Any, ...]]:
    """Stages (as (stack, stage id) or (stack, api id, stage name)) covered by a throttled usage plan."""
    out: set[tuple[Any, ...]] = set()
    for plan in ctx.template.resources("AWS::ApiGateway::UsagePlan"):
        plan_throttled = _plan_throttle(plan.properties.get("Throttle"))
        for entry in as_list(plan.properties.get("ApiStages")):
            if not isinstance(entry, dict):
                continue
            own = entry.get("Throttle")
            if not plan_throttled and not (
                isinstance(own, dict) and any(_plan_throttle(v) for v in own.values())
            ):
                continue
            stage = entry.get("Stage")
            stage_lid = ref_target(stage)
            if stage_lid:
                out.add((plan.stack, stage_lid))
            elif isinstance(stage, str):
                out.add((plan.stack, ref_target(entry.get("ApiId")), stage))
    return out


def _plan_throttle(value: Any) -> bool:
    return isinstance(value, dict) and (
        value.get("RateLimit") is not None or value.get("BurstLimit") is not None
    )


def _throttle_source(ctx: CheckContext) -> Iterator[Hit]:
    view = source_view(ctx)
    if not view.apis:
        return
    all_text = "\n".join(src.text for src, _ in view.files)
    # A throttled usage plan anywhere may cover any API: the source cannot always tell which.
    plan_throttle = any(
        kwarg(c, "throttle") is not None
        for src, _ in view.files
        if src.tree
        for c in iter_calls(src.tree, "UsagePlan", "add_usage_plan", "CfnUsagePlan")
    ) or ("UsagePlanPerApiStage" in all_text and "throttle" in all_text)
    for api in view.apis:
        if api.kind == "rest":
            if plan_throttle or literal(kwarg(api.call, "deploy"), True) is False:
                continue
            options = kwarg(api.call, "deploy_options")
            opts = options_of(options) if options is not None else {}
            if opts is None:
                continue  # a variable: cannot tell
            if any(k in opts for k in ("throttling_rate_limit", "throttling_burst_limit")):
                continue
            if "method_options" in opts and "throttling" in ast.dump(opts["method_options"]):
                continue
            stage_node = opts.get("stage_name")
            if stage_node is None:
                stage = "stage prod"
            elif literal_stage := str_literal(stage_node):
                stage = f"stage {literal_stage}"
            else:
                stage = f"the stage named by `{ast.unparse(stage_node)}`"
            where = "deploy_options without throttling" if options is not None else "no deploy_options"
            yield Hit(
                f"RestApi {api.label}: {stage} without throttling ({where}, no usage plan with a throttle)",
                [ctx.source.at(api.src, options if options is not None else api.call, value=where)],
                key=api.key,
            )
        elif api.kind == "http":
            if literal(kwarg(api.call, "create_default_stage"), True) is False:
                continue
            if "throttle" in all_text or "default_route_settings" in all_text:
                continue
            yield Hit(
                f"API {api.label}: default stage without throttling (HttpApi sets no route throttling by default)",
                [ctx.source.at(api.src, api.call, value="HttpApi default stage")],
                key=api.key,
            )


def _stage_label(stage: Resource, name: object) -> str:
    """``stage prod``; a stage whose name is a parameter or an intrinsic is named by its logical id."""
    return f"stage {name}" if isinstance(name, str) else f"stage {stage.logical_id} (name set at deploy time)"
