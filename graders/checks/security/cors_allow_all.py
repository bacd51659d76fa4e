"""cors-allow-all: cORS configurations that let every origin call an API, bucket or function URL."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any

from iacgrade.graders.analysis.apigw import (
    HTTP_API_CLASSES,
    REST_API_CLASSES,
    Template,
    api_label,
    elements_of,
    source_view,
)
from iacgrade.graders.analysis.cfn import as_list
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.inline import source_inline_code
from iacgrade.graders.analysis.model import (
    SourceIndex,
    construct_call_id,
    construct_label,
    index_of,
    key_text,
    merge_lenses,
    pretty,
    template_key,
)
from iacgrade.graders.analysis.pyast import call_name, dotted, iter_calls, literal, parents, str_literal, walk
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import check
from iacgrade.graders.models import Evidence
from iacgrade.graders.paths import is_test_file

# ==== cors-allow-all ========================================================================


@check("cors-allow-all", lenses=("source", "template"), kinds=("cdk-python",))
def cors_allow_all(ctx: CheckContext) -> Iterator[Hit]:
    """CORS configurations that let every origin call an API, bucket or function URL.

    What it finds: `allow_origins=apigateway.Cors.ALL_ORIGINS` or `["*"]` in CORS preflight
    options, OPTIONS integration responses returning `Access-Control-Allow-Origin: '*'`, S3
    bucket CORS rules, HTTP API `cors_preflight` and function URL `cors` with origin `*`.
    Handler code in the answer that returns `Access-Control-Allow-Origin: *` is added as
    evidence to the API's finding (or reported alone when nothing else allows every origin).

    Why it matters: any web page, including a malicious one, can call the API from a visitor's
    browser and read the responses.

    Bad example:

        api = apigw.RestApi(self, "Api", default_cors_preflight_options=apigw.CorsOptions(
            allow_origins=apigw.Cors.ALL_ORIGINS))

    Fix: list the origins that may call the API (`allow_origins=["https://app.example.com"]`)
    and return the matching origin from the handler.
    """
    template_hits = list(_cors_template(ctx)) if ctx.template.present else []
    source_hits, handler_evidence = _cors_source(ctx)
    hits = merge_lenses(ctx, template_hits, source_hits)
    yield from hits
    if not handler_evidence:
        return
    # The handler's header belongs to the API in front of it, not to a bucket.
    api_keys = list(dict.fromkeys(h.key for h in hits if h.key and not h.message.startswith("Bucket ")))
    if api_keys:
        for key in api_keys:
            yield Hit("", handler_evidence, key=key)
        return
    if not _has_http_front_door(ctx):
        return  # nothing serves the handler over HTTP: the header reaches no browser
    where = ", ".join(sorted({str(ev.file) for ev in handler_evidence}))
    yield Hit(
        f"Handler code returns `Access-Control-Allow-Origin: *` ({where})",
        handler_evidence,
        key="handler-cors",
    )


_ACAO = "access-control-allow-origin"


def _has_http_front_door(ctx: CheckContext) -> bool:
    """An API Gateway API or a function URL in the template or the source."""
    if ctx.template.present:
        kinds = ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api", "AWS::Lambda::Url")
        return any(True for _ in ctx.template.resources(*kinds))
    if source_view(ctx).apis:
        return True
    return any(
        next(iter_calls(src.tree, "add_function_url", "FunctionUrl"), None) is not None
        for src in ctx.source.parsed()
        if src.tree is not None
    )


def _cors_template(ctx: CheckContext) -> Iterator[Hit]:
    tpl = Template(ctx)
    per_api: dict[str, list[tuple[Resource, str]]] = {}
    apis: dict[str, Resource | None] = {}
    for method in ctx.template.resources("AWS::ApiGateway::Method"):
        integration = method.properties.get("Integration")
        responses = integration.get("IntegrationResponses") if isinstance(integration, dict) else None
        if not any(
            _star_header(r.get("ResponseParameters")) for r in as_list(responses) if isinstance(r, dict)
        ):
            continue
        key, api = tpl.api_key(method, "RestApiId")
        apis[key] = api
        verb = method.properties.get("HttpMethod", "?")
        per_api.setdefault(key, []).append((method, f"{verb} {tpl.resource_path(method)}"))
    for resp in ctx.template.resources("AWS::ApiGateway::GatewayResponse"):
        if _star_header(resp.properties.get("ResponseParameters")):
            key, api = tpl.api_key(resp, "RestApiId")
            apis[key] = api
            per_api.setdefault(key, []).append(
                (resp, f"gateway response {resp.properties.get('ResponseType', '?')}")
            )
    for key, items in per_api.items():
        names = [name for _, name in items]
        yield Hit(
            f"{api_label(apis[key], key)} answers CORS with `Access-Control-Allow-Origin: '*'` "
            f"({', '.join(names)})",
            [res.evidence(value=f"{name}: Access-Control-Allow-Origin '*'") for res, name in items],
            key=key,
            lens="template",
        )
    for api in ctx.template.resources("AWS::ApiGatewayV2::Api"):
        cors = api.properties.get("CorsConfiguration")
        if isinstance(cors, dict) and "*" in as_list(cors.get("AllowOrigins")):
            key = template_key(api)
            yield Hit(
                f"{api_label(api, key)} CORS configuration allows origin `*`",
                [api.evidence(value="CorsConfiguration.AllowOrigins: ['*']")],
                key=key,
                lens="template",
            )
    for url in ctx.template.resources("AWS::Lambda::Url"):
        cors = url.properties.get("Cors")
        if isinstance(cors, dict) and "*" in as_list(cors.get("AllowOrigins")):
            fn = tpl.target(url, url.properties.get("TargetFunctionArn"))
            key = template_key(fn) if fn is not None else template_key(url)
            yield Hit(
                f"Function URL of {key_text(key)} allows CORS from origin `*`",
                [url.evidence(value="Cors.AllowOrigins: ['*']")],
                key=key,
                lens="template",
            )
    for bucket in ctx.template.resources("AWS::S3::Bucket"):
        cors = bucket.properties.get("CorsConfiguration")
        rules = cors.get("CorsRules") if isinstance(cors, dict) else None
        if any(isinstance(r, dict) and "*" in as_list(r.get("AllowedOrigins")) for r in as_list(rules)):
            key = template_key(bucket)
            yield Hit(
                f"Bucket {key_text(key)} has a CORS rule with AllowedOrigins `*`",
                [bucket.evidence(value="CorsRules[].AllowedOrigins: ['*']")],
                key=key,
                lens="template",
            )


def _star_header(params: Any) -> bool:
    if not isinstance(params, dict):
        return False
    return any(isinstance(k, str) and k.lower().endswith(_ACAO) and v == "'*'" for k, v in params.items())


def _is_all_origins(node: ast.AST | None) -> bool:
    if node is None:
        return False
    if dotted(node).endswith("ALL_ORIGINS"):
        return True
    return any(str_literal(e) == "*" for e in elements_of(node))


def _cors_source(ctx: CheckContext) -> tuple[list[Hit], list[Evidence]]:
    hits: list[Hit] = []
    handler: list[Evidence] = []
    view = source_view(ctx)
    for src in ctx.source.parsed():
        if src.tree is None or is_test_file(src.path):
            continue
        if src.inline_of is not None or not index_of(src).imports_cdk:
            handler.extend(_handler_star_origin(ctx, src))
            continue
        handler.extend(_inline_star_origin(ctx, src))
        kinds = {api.key: "RestApi" if api.kind == "rest" else "API" for api in view.apis}
        bindings = index_of(src)
        single_api = _single_api_id(src.tree)
        for node, value_node, what in _origin_settings(src.tree):
            key, owner_call = bindings.enclosing_construct(node)
            key = key or _owner_via_use(bindings, src.tree, node) or single_api
            if not key:
                continue
            owner_name = call_name(owner_call) if owner_call is not None else ""
            label = pretty(key)
            if owner_call is not None and construct_call_id(owner_call):
                label = construct_label(owner_call) or label
            if owner_name in ("Bucket", "CfnBucket", "add_cors_rule"):
                text = f"Bucket {label} has a CORS rule allowing every origin ({what})"
            elif owner_name in REST_API_CLASSES | HTTP_API_CLASSES:
                text = f"{'RestApi' if owner_name in REST_API_CLASSES else 'API'} {label} allows CORS from every origin ({what})"
            else:
                text = f"{kinds.get(key, 'API')} {label} allows CORS from every origin ({what})"
            hits.append(Hit(text, [ctx.source.at(src, value_node, value=what)], key=key))
    return hits, handler


def _single_api_id(tree: ast.Module) -> str | None:
    ids = [construct_call_id(c) for c in iter_calls(tree, *REST_API_CLASSES, *HTTP_API_CLASSES)]
    ids = [i for i in ids if i]
    return ids[0] if len(ids) == 1 else None


def _origin_settings(tree: ast.Module) -> Iterator[tuple[ast.AST, ast.AST, str]]:
    """(node, value, description) for every origin setting that allows `*`."""
    for node in walk(tree):
        if isinstance(node, ast.Call):
            options = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        elif isinstance(node, ast.Dict):
            options = {str_literal(k) or "": v for k, v in zip(node.keys, node.values, strict=False)}
        else:
            continue
        for name, value in options.items():
            if name in ("allow_origins", "allowed_origins") and _is_all_origins(value):
                what = f"{name}={_short(value)}"
                if literal(options.get("allow_credentials"), None) is True:
                    what += " with allow_credentials=True, which browsers refuse to combine with `*`"
                yield value, value, what
            elif name.lower().endswith(_ACAO) and "." in name and str_literal(value) == "'*'":
                yield value, value, f"{name}: \"'*'\""


def _short(node: ast.AST) -> str:
    name = dotted(node)
    if name:
        return name
    return "['*']"


def _owner_via_use(bindings: SourceIndex, tree: ast.Module, node: ast.AST) -> str | None:
    """For `opts = CorsOptions(...)` used later as `RestApi(..., x=opts)`: the construct using it."""
    stmt: ast.AST | None = node
    while stmt is not None and not isinstance(stmt, ast.stmt):
        stmt = bindings.parents.get(stmt)
    if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
        return None
    name = dotted(stmt.targets[0])
    if not name:
        return None
    for use in walk(tree):
        if (
            isinstance(use, (ast.Name, ast.Attribute))
            and isinstance(getattr(use, "ctx", None), ast.Load)
            and dotted(use) == name
        ):
            key, _ = bindings.enclosing_construct(use)
            if key:
                return key
    return None


_STAR_ORIGIN_LINE = re.compile(r"""['"]access-control-allow-origin['"]\s*:\s*['"]\*['"]""", re.IGNORECASE)


def _inline_star_origin(ctx: CheckContext, src: SourceFile) -> Iterator[Evidence]:
    """`Access-Control-Allow-Origin: *` returned by inline Lambda code (Python or Node.js)."""
    for inline in source_inline_code(src):
        for n, line in enumerate(inline.code.splitlines(), start=1):
            if _STAR_ORIGIN_LINE.search(line):
                yield inline.evidence(
                    ctx,
                    code_line=n,
                    value=f"inline code of {pretty(inline.label)}: 'Access-Control-Allow-Origin': '*'",
                )


def _handler_star_origin(ctx: CheckContext, src: SourceFile) -> Iterator[Evidence]:
    assert src.tree is not None
    used = {n.id for n in walk(src.tree) if isinstance(n, ast.Name)}
    used |= {n.attr for n in walk(src.tree) if isinstance(n, ast.Attribute)}
    up = parents(src.tree)
    for node in walk(src.tree):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=False):
                name = str_literal(k)
                if name and name.lower() == _ACAO and str_literal(v) == "*" and _reachable(node, up, used):
                    yield ctx.source.at(src, v, value="'Access-Control-Allow-Origin': '*'")


def _reachable(node: ast.AST, up: dict[ast.AST, ast.AST], used: set[str]) -> bool:
    """Whether handler code at ``node`` can run: not inside a helper function nothing calls
    (entry points — `handler`, `lambda_handler`, `main` ... — always can)."""
    while node in up:
        node = up[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            entry = "handler" in node.name.lower() or node.name in ("main", "lambda_function")
            if not entry and node.name not in used:
                return False
    return True
