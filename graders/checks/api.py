"""API checks: methods anyone may call, CORS open to every origin, stages without throttling.

Each check reads API Gateway REST APIs (v1), HTTP/WebSocket APIs (v2) and Lambda function URLs
through both lenses and reports one finding per API, listing every method or stage involved.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graders.checks import check
from graders.checks._ast import call_name, dotted, iter_calls, kwarg, literal, parents, str_literal, walk
from graders.checks._cfn import as_list, is_intrinsic, policy_statements
from graders.checks._constructs import (
    Bindings,
    construct_call_id,
    construct_label,
    display_name,
    is_cdk_file,
    is_test_file,
    pretty,
    reconcile,
    ref_target,
    template_key,
)
from graders.checks._inline import source_inline_code
from graders.checks.context import CheckContext, Hit, Resource, SourceFile
from graders.models import Evidence

_REST_API_CLASSES = frozenset({"RestApi", "LambdaRestApi", "SpecRestApi", "StepFunctionsRestApi"})
_HTTP_API_CLASSES = frozenset({"HttpApi"})
_WS_API_CLASSES = frozenset({"WebSocketApi"})
_AUTHORIZED_TYPES = frozenset({"AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS", "JWT"})
# Resource-policy condition keys that keep an API to a network (IP allow-list, VPC endpoint).
_NETWORK_KEYS = ("aws:sourceip", "aws:sourcevpc", "aws:sourcevpce")
_ACAO = "access-control-allow-origin"


# ==== shared: the template ==================================================================


class _Template:
    """Resources of every stack by (stack, logical id), for following Refs."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.by_id: dict[tuple[str, str], Resource] = {
            (r.stack, r.logical_id): r for r in ctx.resources(include_helpers=True)
        }

    def target(self, res: Resource, value: Any) -> Resource | None:
        lid = ref_target(value)
        return self.by_id.get((res.stack, lid)) if lid else None

    def api_key(self, res: Resource, prop: str) -> tuple[str, Resource | None]:
        """Key and resource of the API a method/stage/route belongs to (via its RestApiId/ApiId)."""
        api = self.target(res, res.properties.get(prop))
        if api is not None:
            return template_key(api), api
        lid = ref_target(res.properties.get(prop))
        return "~" + (lid or "UnknownApi"), None

    def resource_path(self, method: Resource) -> str:
        """`/users/{userId}` for a method, following ParentId up to the API root."""
        parts: list[str] = []
        rid = method.properties.get("ResourceId")
        for _ in range(40):
            if isinstance(rid, dict) and "Fn::GetAtt" in rid:
                break  # the RestApi's RootResourceId
            node = self.target(method, rid)
            if node is None or node.type != "AWS::ApiGateway::Resource":
                parts.append("?")
                break
            part = node.properties.get("PathPart")
            parts.append(part if isinstance(part, str) else "?")
            rid = node.properties.get("ParentId")
        return "/" + "/".join(reversed(parts))


def _api_label(api: Resource | None, key: str) -> str:
    kind = {"AWS::ApiGateway::RestApi": "RestApi", "AWS::ApiGatewayV2::Api": "API"}.get(
        api.type if api else "", "API"
    )
    return f"{kind} {display_name(key)}"


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
        if any(k in cond for k in _NETWORK_KEYS):
            return True
    return False


# ==== shared: the source ====================================================================


@dataclass
class _Api:
    """An API construct found in the source."""

    key: str
    label: str  # the id as written (`Api-{env}`), for messages
    kind: str  # rest | http | ws
    src: SourceFile
    call: ast.Call
    default_auth: str  # yes | no | unknown
    restricted: bool = False


@dataclass
class _SourceView:
    """The answer's infrastructure files with their bindings and API constructs."""

    files: list[tuple[SourceFile, Bindings]] = field(default_factory=list)
    apis: list[_Api] = field(default_factory=list)

    def api_for(self, bindings: Bindings, receiver: ast.AST, kinds: tuple[str, ...]) -> _Api | None:
        """The API a resource/route expression belongs to; the only API of that kind when unsure."""
        key = bindings.owner(receiver)
        candidates = [a for a in self.apis if a.kind in kinds]
        if key:
            return next((a for a in candidates if a.key == key), None)
        return candidates[0] if len(candidates) == 1 else None


def _source_view(ctx: CheckContext) -> _SourceView:
    view = _SourceView()
    for src in ctx.parsed():
        if src.tree is None or src.inline_of is not None or not is_cdk_file(src.tree):
            continue
        bindings = Bindings(src.tree)
        view.files.append((src, bindings))
        restricted_file = _mentions_network_restriction(src.text)
        for call in iter_calls(src.tree, *_REST_API_CLASSES, *_HTTP_API_CLASSES, *_WS_API_CLASSES):
            key = construct_call_id(call)
            if not key:
                continue
            name, label = call_name(call), construct_label(call) or key
            if name in _REST_API_CLASSES:
                auth = _auth_of(kwarg(call, "default_method_options"))
                view.apis.append(_Api(key, label, "rest", src, call, auth, restricted_file))
            elif name in _HTTP_API_CLASSES:
                auth = "no" if kwarg(call, "default_authorizer") is None else "yes"
                view.apis.append(_Api(key, label, "http", src, call, auth, restricted_file))
            else:
                view.apis.append(_Api(key, label, "ws", src, call, "unknown", restricted_file))
    return view


def _mentions_network_restriction(text: str) -> bool:
    low = text.lower()
    return "endpointtype.private" in low or any(k in low for k in _NETWORK_KEYS)


def _options(node: ast.AST | None) -> dict[str, ast.expr] | None:
    """Keyword arguments of a props call (`MethodOptions(...)`) or string keys of a dict literal."""
    if isinstance(node, ast.Call):
        return {kw.arg: kw.value for kw in node.keywords if kw.arg}
    if isinstance(node, ast.Dict):
        out: dict[str, ast.expr] = {}
        for k, v in zip(node.keys, node.values, strict=False):
            name = str_literal(k)
            if name:
                out[name] = v
        return out
    return None


def _is_none(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _auth_of(node: ast.AST | None) -> str:
    """yes / no / unknown: whether method options (kwargs or a props object) authorize callers."""
    if node is None or _is_none(node):
        return "no"
    opts = _options(node)
    if opts is None:
        return "unknown"
    return _auth_of_items(opts)


def _auth_of_items(opts: dict[str, ast.expr]) -> str:
    result = "no"
    for name, value in opts.items():
        if name == "authorizer" and not _is_none(value):
            return "yes"
        if name == "authorization_type" and not _is_none(value):
            if not (dotted(value).endswith(".NONE") or str_literal(value) == "NONE"):
                return "yes"
        if name == "api_key_required":
            flag = literal(value, None)
            if flag is True:
                return "yes"
            if flag is not False and not _is_none(value):
                result = "unknown"
    return result


def _http_methods(call: ast.Call, bindings: Bindings) -> list[str]:
    """The verbs of an `add_method` call: a literal, or the literal list a loop variable runs over."""
    node = call.args[0] if call.args else kwarg(call, "http_method")
    value = str_literal(node)
    if value:
        return [value.upper()]
    if isinstance(node, ast.Name):
        cur = bindings.parents.get(call)
        while cur is not None and not isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            if isinstance(cur, ast.For) and isinstance(cur.target, ast.Name) and cur.target.id == node.id:
                verbs = [str_literal(e) for e in _elements(cur.iter)]
                if verbs and all(verbs):
                    return [v.upper() for v in verbs if v]
                break
            cur = bindings.parents.get(cur)
    return ["{" + ast.unparse(node) + "}"] if node is not None else ["?"]


def _source_path(bindings: Bindings, expr: ast.AST, depth: int = 0) -> str:
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


# ==== api-no-auth ===========================================================================


@check("api-no-auth", lenses=("source", "template"))
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
    template_hits = list(_no_auth_template(ctx)) if ctx.has_template else []
    yield from reconcile(ctx, template_hits, _no_auth_source(ctx))


def _no_auth_template(ctx: CheckContext) -> Iterator[Hit]:
    tpl = _Template(ctx)
    open_methods: dict[str, list[tuple[Resource, str]]] = {}
    apis: dict[str, Resource | None] = {}
    for method in ctx.resources("AWS::ApiGateway::Method"):
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
    for route in ctx.resources("AWS::ApiGatewayV2::Route"):
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
            f"{_api_label(apis[key], key)}: {_count(names, 'method')} with no authorizer, IAM auth or API key: "
            f"{', '.join(names)}",
            [res.evidence(value=name) for res, name in methods],
            key=key,
            lens="template",
        )
    for url in ctx.resources("AWS::Lambda::Url"):
        if url.properties.get("AuthType") != "NONE":
            continue
        fn = tpl.target(url, url.properties.get("TargetFunctionArn"))
        key = template_key(fn) if fn is not None else template_key(url)
        yield Hit(
            f"Function URL of {display_name(key)} has AuthType NONE: anyone with the URL can invoke the function",
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
    view = _source_view(ctx)
    found: dict[str, list[tuple[str, Evidence]]] = {}
    labels: dict[str, str] = {}

    def add(api: _Api, name: str, ev: Evidence) -> None:
        found.setdefault(api.key, []).append((name, ev))
        labels[api.key] = f"{'RestApi' if api.kind == 'rest' else 'API'} {api.label}"

    for api in view.apis:
        if api.kind == "rest" and call_name(api.call) == "LambdaRestApi" and api.default_auth == "no":
            if literal(kwarg(api.call, "proxy"), True) is not False:
                for name in ("ANY /", "ANY /{proxy+}"):
                    add(api, name, ctx.at(api.src, api.call, value=f"{name} (LambdaRestApi proxy)"))
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
                methods = [dotted(m).rsplit(".", 1)[-1] for m in _elements(kwarg(call, "methods"))] or ["ANY"]
                for verb in methods:
                    add(http_api, f"{verb} {route}", ctx.at(src, call, value=f"{verb} {route}"))
                continue
            rest_api = view.api_for(bindings, receiver, ("rest",))
            if rest_api is None or rest_api.restricted:
                continue
            if call.func.attr == "add_proxy":
                if literal(kwarg(call, "any_method"), True) is False:
                    continue
                own = _auth_of(kwarg(call, "default_method_options"))
                verbs, path = ["ANY"], (_source_path(bindings, call) or "/{proxy+}")
            else:
                verbs = [v for v in _http_methods(call, bindings) if v != "OPTIONS"]
                if not verbs or any(kw.arg is None for kw in call.keywords):
                    continue
                if _is_mock_integration(src, call):
                    continue
                own = _auth_of_items({kw.arg: kw.value for kw in call.keywords if kw.arg})
                path = _source_path(bindings, receiver) or "?"
            if own != "no" or rest_api.default_auth != "no":
                continue
            for verb in verbs:
                add(rest_api, f"{verb} {path}", ctx.at(src, call, value=f"{verb} {path}"))
        yield from _function_url_source(ctx, src, bindings)
    for key, items in found.items():
        names = [name for name, _ in items]
        yield Hit(
            f"{labels[key]}: {_count(names, 'method')} with no authorizer, IAM auth or API key: "
            f"{', '.join(names)}",
            [ev for _, ev in items],
            key=key,
        )


def _elements(node: ast.AST | None) -> list[ast.expr]:
    return list(node.elts) if isinstance(node, (ast.List, ast.Tuple)) else []


def _function_url_source(ctx: CheckContext, src: SourceFile, bindings: Bindings) -> Iterator[Hit]:
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
            [ctx.at(src, call, value="auth_type=FunctionUrlAuthType.NONE")],
            key=key,
        )


# ==== cors-allow-all ========================================================================


@check("cors-allow-all", lenses=("source", "template"))
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
    template_hits = list(_cors_template(ctx)) if ctx.has_template else []
    source_hits, handler_evidence = _cors_source(ctx)
    hits = reconcile(ctx, template_hits, source_hits)
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


def _has_http_front_door(ctx: CheckContext) -> bool:
    """An API Gateway API or a function URL in the template or the source."""
    if ctx.has_template:
        kinds = ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api", "AWS::Lambda::Url")
        return any(True for _ in ctx.resources(*kinds))
    if _source_view(ctx).apis:
        return True
    return any(
        next(iter_calls(src.tree, "add_function_url", "FunctionUrl"), None) is not None
        for src in ctx.parsed()
        if src.tree is not None
    )


def _cors_template(ctx: CheckContext) -> Iterator[Hit]:
    tpl = _Template(ctx)
    per_api: dict[str, list[tuple[Resource, str]]] = {}
    apis: dict[str, Resource | None] = {}
    for method in ctx.resources("AWS::ApiGateway::Method"):
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
    for resp in ctx.resources("AWS::ApiGateway::GatewayResponse"):
        if _star_header(resp.properties.get("ResponseParameters")):
            key, api = tpl.api_key(resp, "RestApiId")
            apis[key] = api
            per_api.setdefault(key, []).append(
                (resp, f"gateway response {resp.properties.get('ResponseType', '?')}")
            )
    for key, items in per_api.items():
        names = [name for _, name in items]
        yield Hit(
            f"{_api_label(apis[key], key)} answers CORS with `Access-Control-Allow-Origin: '*'` "
            f"({', '.join(names)})",
            [res.evidence(value=f"{name}: Access-Control-Allow-Origin '*'") for res, name in items],
            key=key,
            lens="template",
        )
    for api in ctx.resources("AWS::ApiGatewayV2::Api"):
        cors = api.properties.get("CorsConfiguration")
        if isinstance(cors, dict) and "*" in as_list(cors.get("AllowOrigins")):
            key = template_key(api)
            yield Hit(
                f"{_api_label(api, key)} CORS configuration allows origin `*`",
                [api.evidence(value="CorsConfiguration.AllowOrigins: ['*']")],
                key=key,
                lens="template",
            )
    for url in ctx.resources("AWS::Lambda::Url"):
        cors = url.properties.get("Cors")
        if isinstance(cors, dict) and "*" in as_list(cors.get("AllowOrigins")):
            fn = tpl.target(url, url.properties.get("TargetFunctionArn"))
            key = template_key(fn) if fn is not None else template_key(url)
            yield Hit(
                f"Function URL of {display_name(key)} allows CORS from origin `*`",
                [url.evidence(value="Cors.AllowOrigins: ['*']")],
                key=key,
                lens="template",
            )
    for bucket in ctx.resources("AWS::S3::Bucket"):
        cors = bucket.properties.get("CorsConfiguration")
        rules = cors.get("CorsRules") if isinstance(cors, dict) else None
        if any(isinstance(r, dict) and "*" in as_list(r.get("AllowedOrigins")) for r in as_list(rules)):
            key = template_key(bucket)
            yield Hit(
                f"Bucket {display_name(key)} has a CORS rule with AllowedOrigins `*`",
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
    return any(str_literal(e) == "*" for e in _elements(node))


def _cors_source(ctx: CheckContext) -> tuple[list[Hit], list[Evidence]]:
    hits: list[Hit] = []
    handler: list[Evidence] = []
    view = _source_view(ctx)
    for src in ctx.parsed():
        if src.tree is None or is_test_file(src.path):
            continue
        if src.inline_of is not None or not is_cdk_file(src.tree):
            handler.extend(_handler_star_origin(ctx, src))
            continue
        handler.extend(_inline_star_origin(ctx, src))
        kinds = {api.key: "RestApi" if api.kind == "rest" else "API" for api in view.apis}
        bindings = Bindings(src.tree)
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
            elif owner_name in _REST_API_CLASSES | _HTTP_API_CLASSES:
                text = f"{'RestApi' if owner_name in _REST_API_CLASSES else 'API'} {label} allows CORS from every origin ({what})"
            else:
                text = f"{kinds.get(key, 'API')} {label} allows CORS from every origin ({what})"
            hits.append(Hit(text, [ctx.at(src, value_node, value=what)], key=key))
    return hits, handler


def _single_api_id(tree: ast.Module) -> str | None:
    ids = [construct_call_id(c) for c in iter_calls(tree, *_REST_API_CLASSES, *_HTTP_API_CLASSES)]
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


def _owner_via_use(bindings: Bindings, tree: ast.Module, node: ast.AST) -> str | None:
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
                    yield ctx.at(src, v, value="'Access-Control-Allow-Origin': '*'")


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


# ==== api-throttling-missing ================================================================


@check("api-throttling-missing", lenses=("source", "template"))
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
    template_hits = list(_throttle_template(ctx)) if ctx.has_template else []
    yield from reconcile(ctx, template_hits, _throttle_source(ctx))


def _throttled_settings(settings: Any) -> bool:
    return isinstance(settings, dict) and any(
        settings.get(k) is not None for k in ("ThrottlingRateLimit", "ThrottlingBurstLimit")
    )


def _throttle_template(ctx: CheckContext) -> Iterator[Hit]:
    tpl = _Template(ctx)
    plan_stages = _usage_plan_throttled_stages(ctx, tpl)
    per_api: dict[str, list[tuple[Resource, str]]] = {}
    apis: dict[str, Resource | None] = {}
    for stage in ctx.resources("AWS::ApiGateway::Stage"):
        name = stage.properties.get("StageName")
        if any(_throttled_settings(m) for m in as_list(stage.properties.get("MethodSettings"))):
            continue
        api_lid = ref_target(stage.properties.get("RestApiId"))
        if (stage.stack, stage.logical_id) in plan_stages or (stage.stack, api_lid, name) in plan_stages:
            continue
        key, api = tpl.api_key(stage, "RestApiId")
        apis[key] = api
        per_api.setdefault(key, []).append((stage, f"stage {name if isinstance(name, str) else '?'}"))
    for dep in ctx.resources("AWS::ApiGateway::Deployment"):
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
    for stage in ctx.resources("AWS::ApiGatewayV2::Stage"):
        props = stage.properties
        if _throttled_settings(props.get("DefaultRouteSettings")):
            continue
        routes = props.get("RouteSettings")
        if isinstance(routes, dict) and any(_throttled_settings(v) for v in routes.values()):
            continue
        key, api = tpl.api_key(stage, "ApiId")
        apis[key] = api
        name = props.get("StageName")
        per_api.setdefault(key, []).append((stage, f"stage {name if isinstance(name, str) else '?'}"))
    for key, stages in per_api.items():
        names = [n for _, n in stages]
        yield Hit(
            f"{_api_label(apis[key], key)}: {', '.join(names)} without throttling (no rate/burst limit on the "
            "stage and no usage plan with a throttle attached)",
            [res.evidence(value=n) for res, n in stages],
            key=key,
            lens="template",
        )


def _usage_plan_throttled_stages(ctx: CheckContext, tpl: _Template) -> set[tuple[Any, ...]]:
    """Stages (as (stack, stage id) or (stack, api id, stage name)) covered by a throttled usage plan."""
    out: set[tuple[Any, ...]] = set()
    for plan in ctx.resources("AWS::ApiGateway::UsagePlan"):
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
    view = _source_view(ctx)
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
            opts = _options(options) if options is not None else {}
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
                [ctx.at(api.src, options if options is not None else api.call, value=where)],
                key=api.key,
            )
        elif api.kind == "http":
            if literal(kwarg(api.call, "create_default_stage"), True) is False:
                continue
            if "throttle" in all_text or "default_route_settings" in all_text:
                continue
            yield Hit(
                f"API {api.label}: default stage without throttling (HttpApi sets no route throttling by default)",
                [ctx.at(api.src, api.call, value="HttpApi default stage")],
                key=api.key,
            )
