"""api-no-auth: aPI Gateway methods, HTTP API routes and Lambda function URLs that anyone may call."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from iacgrade.graders.analysis.apigw import (
    NETWORK_KEYS,
    Api,
    Template,
    api_label,
    auth_of,
    auth_of_items,
    elements_of,
    source_view,
)
from iacgrade.graders.analysis.cfn import is_intrinsic, policy_statements
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import (
    SourceIndex,
    construct_call_id,
    key_text,
    merge_lenses,
    pretty,
    template_key,
)
from iacgrade.graders.analysis.pyast import call_name, dotted, iter_calls, kwarg, literal, str_literal, walk
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import check
from iacgrade.graders.models import Evidence

# ==== api-no-auth ===========================================================================


@check("api-no-auth", lenses=("source", "template"), kinds=("cdk-python",))
def api_no_auth(ctx: CheckContext) -> Iterator[Hit]:
    """API Gateway methods, HTTP API routes and Lambda function URLs that anyone may call.

    What it finds: REST API methods with authorization type NONE and no API key requirement
    (also through the RestApi's `default_method_options`), HTTP API routes without an
    authorizer, and function URLs with `auth_type=NONE`. CORS preflight (OPTIONS) methods and
    methods with a mock integration (a health check answered by API Gateway itself) are not
    counted; APIs kept to a VPC endpoint or an IP allow-list by a resource policy or a
    private endpoint are not flagged. One finding per API lists every open method.

    Why it matters: an open method lets anyone on the internet call the backend, read or change
    its data and run up its bill.

    Bad example:

        users = api.root.add_resource("users")
        users.add_method("GET", apigw.LambdaIntegration(handler))

    Fix: give the method (or the API's `default_method_options`) an authorizer (Cognito, Lambda
    or IAM) or require an API key with a usage plan.
    """
    template_hits = list(_no_auth_template(ctx)) if ctx.template.present else []
    yield from merge_lenses(ctx, template_hits, _no_auth_source(ctx))


_AUTHORIZED_TYPES = frozenset({"AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS", "JWT"})


def _network_restricted(api: Resource | None) -> bool:
    """A private endpoint or a resource policy that limits callers to IPs or VPC endpoints."""
    if api is None:
        return False
    types = (
        (api.properties.get("EndpointConfiguration") or {}).get("Types")
        if isinstance(api.properties.get("EndpointConfiguration"), dict)
        else None
    )
    if isinstance(types, list) and "PRIVATE" in types:
        return True
    for stmt in policy_statements(api.properties.get("Policy")):
        cond = str(stmt.get("Condition", "")).lower()
        if any(k in cond for k in NETWORK_KEYS):
            return True
    return False


def _http_methods(call: ast.Call, bindings: SourceIndex) -> list[str]:
    """The verbs of an `add_method` call: a literal, or the literal list a loop variable runs over."""
    node = call.args[0] if call.args else kwarg(call, "http_method")
    value = str_literal(node)
    if value:
        return [value.upper()]
    if isinstance(node, ast.Name):
        cur = bindings.parents.get(call)
        while cur is not None and not isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            if isinstance(cur, ast.For) and isinstance(cur.target, ast.Name) and cur.target.id == node.id:
                verbs = [str_literal(e) for e in elements_of(cur.iter)]
                if verbs and all(verbs):
                    return [v.upper() for v in verbs if v]
                break
            cur = bindings.parents.get(cur)
    return ["{" + ast.unparse(node) + "}"] if node is not None else ["?"]


def _source_path(bindings: SourceIndex, expr: ast.AST, depth: int = 0) -> str:
    """Best-effort path of an API resource expression (`/users/{userId}`), '' when unknown."""
    if depth > 12:
        return ""
    if isinstance(expr, ast.Attribute) and expr.attr == "root":
        return "/"
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        if expr.func.attr == "add_resource":
            part = str_literal(expr.args[0]) if expr.args else None
            base = _source_path(bindings, expr.func.value, depth + 1)
            return f"{base.rstrip('/')}/{part}" if base and part else ""
        if expr.func.attr == "add_proxy":
            base = _source_path(bindings, expr.func.value, depth + 1)
            return f"{base.rstrip('/')}/{{proxy+}}" if base else ""
        if expr.func.attr == "resource_for_path":
            part = str_literal(expr.args[0]) if expr.args else None
            return "/" + part.strip("/") if part else ""
    if isinstance(expr, (ast.Name, ast.Attribute)):
        value = bindings.value_of(expr)
        return _source_path(bindings, value, depth + 1) if value is not None else ""
    return ""


def _no_auth_template(ctx: CheckContext) -> Iterator[Hit]:
    tpl = Template(ctx)
    open_methods: dict[str, list[tuple[Resource, str]]] = {}
    apis: dict[str, Resource | None] = {}
    for method in ctx.template.resources("AWS::ApiGateway::Method"):
        props = method.properties
        verb = props.get("HttpMethod")
        if not isinstance(verb, str) or verb.upper() == "OPTIONS":
            continue
        auth = props.get("AuthorizationType", "NONE")
        if is_intrinsic(auth) or auth in _AUTHORIZED_TYPES or props.get("ApiKeyRequired") is True:
            continue
        if is_intrinsic(props.get("ApiKeyRequired")):
            continue
        integration = props.get("Integration")
        if isinstance(integration, dict) and integration.get("Type") == "MOCK":
            continue  # a mock answers by itself (health checks, CORS stubs): nothing behind it to protect
        key, api = tpl.api_key(method, "RestApiId")
        apis[key] = api
        open_methods.setdefault(key, []).append((method, f"{verb} {tpl.resource_path(method)}"))
    for route in ctx.template.resources("AWS::ApiGatewayV2::Route"):
        props = route.properties
        route_key = props.get("RouteKey")
        auth = props.get("AuthorizationType", "NONE")
        if not isinstance(route_key, str) or route_key.upper().startswith("OPTIONS "):
            continue
        if is_intrinsic(auth) or auth in _AUTHORIZED_TYPES or props.get("ApiKeyRequired") is True:
            continue
        key, api = tpl.api_key(route, "ApiId")
        if api is not None and api.properties.get("ProtocolType") == "WEBSOCKET" and route_key != "$connect":
            continue  # only the $connect route of a WebSocket API can be authorized
        apis[key] = api
        open_methods.setdefault(key, []).append((route, route_key))
    for key, methods in open_methods.items():
        if _network_restricted(apis[key]):
            continue
        names = [name for _, name in methods]
        yield Hit(
            f"{api_label(apis[key], key)}: {_count(names, 'method')} with no authorizer, IAM auth or API key: "
            f"{', '.join(names)}",
            [res.evidence(value=name) for res, name in methods],
            key=key,
            lens="template",
        )
    for url in ctx.template.resources("AWS::Lambda::Url"):
        if url.properties.get("AuthType") != "NONE":
            continue
        fn = tpl.target(url, url.properties.get("TargetFunctionArn"))
        key = template_key(fn) if fn is not None else template_key(url)
        yield Hit(
            f"Function URL of {key_text(key)} has AuthType NONE: anyone with the URL can invoke the function",
            [url.evidence(value="AuthType: NONE")],
            key=key,
            lens="template",
        )


def _count(items: list[str], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _is_mock_integration(src: SourceFile, add_method: ast.Call) -> bool:
    """`add_method("GET", apigw.MockIntegration(...))`, directly or through a name bound to one."""
    node = add_method.args[1] if len(add_method.args) > 1 else kwarg(add_method, "integration")
    if isinstance(node, ast.Call):
        return call_name(node) == "MockIntegration"
    if isinstance(node, ast.Name) and src.tree is not None:
        values = [
            a.value
            for a in walk(src.tree)
            if isinstance(a, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == node.id for t in a.targets)
        ]
        return bool(values) and all(
            isinstance(v, ast.Call) and call_name(v) == "MockIntegration" for v in values
        )
    return False


def _no_auth_source(ctx: CheckContext) -> Iterator[Hit]:
    view = source_view(ctx)
    found: dict[str, list[tuple[str, Evidence]]] = {}
    labels: dict[str, str] = {}

    def add(api: Api, name: str, ev: Evidence) -> None:
        found.setdefault(api.key, []).append((name, ev))
        labels[api.key] = f"{'RestApi' if api.kind == 'rest' else 'API'} {api.label}"

    for api in view.apis:
        if api.kind == "rest" and call_name(api.call) == "LambdaRestApi" and api.default_auth == "no":
            if literal(kwarg(api.call, "proxy"), True) is not False:
                for name in ("ANY /", "ANY /{proxy+}"):
                    add(api, name, ctx.source.at(api.src, api.call, value=f"{name} (LambdaRestApi proxy)"))
    for src, bindings in view.files:
        assert src.tree is not None
        for call in iter_calls(src.tree, "add_method", "add_proxy", "add_routes"):
            if not isinstance(call.func, ast.Attribute):
                continue
            receiver = call.func.value
            if call.func.attr == "add_routes":
                http_api = view.api_for(bindings, receiver, ("http",))
                if http_api is None or http_api.restricted:
                    continue
                authorizer = kwarg(call, "authorizer")
                if authorizer is not None:
                    if not (
                        isinstance(authorizer, ast.Call) and call_name(authorizer) == "HttpNoneAuthorizer"
                    ):
                        continue
                elif http_api.default_auth != "no":
                    continue
                route = str_literal(kwarg(call, "path")) or "?"
                methods = [dotted(m).rsplit(".", 1)[-1] for m in elements_of(kwarg(call, "methods"))] or [
                    "ANY"
                ]
                for verb in methods:
                    add(http_api, f"{verb} {route}", ctx.source.at(src, call, value=f"{verb} {route}"))
                continue
            rest_api = view.api_for(bindings, receiver, ("rest",))
            if rest_api is None or rest_api.restricted:
                continue
            if call.func.attr == "add_proxy":
                if literal(kwarg(call, "any_method"), True) is False:
                    continue
                own = auth_of(kwarg(call, "default_method_options"))
                verbs, path = ["ANY"], (_source_path(bindings, call) or "/{proxy+}")
            else:
                verbs = [v for v in _http_methods(call, bindings) if v != "OPTIONS"]
                if not verbs or any(kw.arg is None for kw in call.keywords):
                    continue
                if _is_mock_integration(src, call):
                    continue
                own = auth_of_items({kw.arg: kw.value for kw in call.keywords if kw.arg})
                path = _source_path(bindings, receiver) or "?"
            if own != "no" or rest_api.default_auth != "no":
                continue
            for verb in verbs:
                add(rest_api, f"{verb} {path}", ctx.source.at(src, call, value=f"{verb} {path}"))
        yield from _function_url_source(ctx, src, bindings)
    for key, items in found.items():
        names = [name for name, _ in items]
        yield Hit(
            f"{labels[key]}: {_count(names, 'method')} with no authorizer, IAM auth or API key: "
            f"{', '.join(names)}",
            [ev for _, ev in items],
            key=key,
        )


def _function_url_source(ctx: CheckContext, src: SourceFile, bindings: SourceIndex) -> Iterator[Hit]:
    assert src.tree is not None
    for call in iter_calls(src.tree, "add_function_url", "FunctionUrl"):
        auth = kwarg(call, "auth_type")
        if auth is None or not dotted(auth).endswith(".NONE"):
            continue  # add_function_url defaults to AWS_IAM
        if isinstance(call.func, ast.Attribute) and call.func.attr == "add_function_url":
            key = bindings.owner(call.func.value)
        else:
            key = bindings.owner(kwarg(call, "function")) or construct_call_id(call)
        if not key:
            continue
        yield Hit(
            f"Function URL of {pretty(key)} has auth_type=FunctionUrlAuthType.NONE: anyone with the URL can invoke the function",
            [ctx.source.at(src, call, value="auth_type=FunctionUrlAuthType.NONE")],
            key=key,
        )
