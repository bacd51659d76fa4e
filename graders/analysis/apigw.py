"""Shared analysis from the former api checks (to be folded into the model)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from iacgrade.graders.analysis.cfn import ref_target
from iacgrade.graders.analysis.context import CheckContext
from iacgrade.graders.analysis.model import (
    SourceIndex,
    construct_call_id,
    construct_label,
    infrastructure_files,
    key_text,
    template_key,
)
from iacgrade.graders.analysis.pyast import call_name, dotted, iter_calls, kwarg, literal, str_literal
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.template import Resource

REST_API_CLASSES = frozenset({"RestApi", "LambdaRestApi", "SpecRestApi", "StepFunctionsRestApi"})


HTTP_API_CLASSES = frozenset({"HttpApi"})


WS_API_CLASSES = frozenset({"WebSocketApi"})


# Resource-policy condition keys that keep an API to a network (IP allow-list, VPC endpoint).
NETWORK_KEYS = ("aws:sourceip", "aws:sourcevpc", "aws:sourcevpce")


# ==== shared: the template ==================================================================


class Template:
    """Resources of every stack by (stack, logical id), for following Refs."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.by_id: dict[tuple[str, str], Resource] = {
            (r.stack, r.logical_id): r for r in ctx.template.resources(include_helpers=True)
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


def api_label(api: Resource | None, key: str) -> str:
    kind = {"AWS::ApiGateway::RestApi": "RestApi", "AWS::ApiGatewayV2::Api": "API"}.get(
        api.type if api else "", "API"
    )
    return f"{kind} {key_text(key)}"


# ==== shared: the source ====================================================================


@dataclass
class Api:
    """An API construct found in the source."""

    key: str
    label: str  # the id as written (`Api-{env}`), for messages
    kind: str  # rest | http | ws
    src: SourceFile
    call: ast.Call
    default_auth: str  # yes | no | unknown
    restricted: bool = False


@dataclass
class SourceView:
    """The answer's infrastructure files with their bindings and API constructs."""

    files: list[tuple[SourceFile, SourceIndex]] = field(default_factory=list)
    apis: list[Api] = field(default_factory=list)

    def api_for(self, bindings: SourceIndex, receiver: ast.AST, kinds: tuple[str, ...]) -> Api | None:
        """The API a resource/route expression belongs to; the only API of that kind when unsure."""
        key = bindings.owner(receiver)
        candidates = [a for a in self.apis if a.kind in kinds]
        if key:
            return next((a for a in candidates if a.key == key), None)
        return candidates[0] if len(candidates) == 1 else None


def source_view(ctx: CheckContext) -> SourceView:
    """The API constructs of the answer's infrastructure files, found once per answer."""
    return ctx.source.view("apigw", lambda: _source_view(ctx))


def _source_view(ctx: CheckContext) -> SourceView:
    view = SourceView()
    for bindings in infrastructure_files(ctx):
        src = bindings.src
        view.files.append((src, bindings))
        restricted_file = mentions_network_restriction(src.text)
        for call in iter_calls(bindings.tree, *REST_API_CLASSES, *HTTP_API_CLASSES, *WS_API_CLASSES):
            key = construct_call_id(call)
            if not key:
                continue
            name, label = call_name(call), construct_label(call) or key
            if name in REST_API_CLASSES:
                auth = auth_of(kwarg(call, "default_method_options"))
                view.apis.append(Api(key, label, "rest", src, call, auth, restricted_file))
            elif name in HTTP_API_CLASSES:
                auth = "no" if kwarg(call, "default_authorizer") is None else "yes"
                view.apis.append(Api(key, label, "http", src, call, auth, restricted_file))
            else:
                view.apis.append(Api(key, label, "ws", src, call, "unknown", restricted_file))
    return view


def mentions_network_restriction(text: str) -> bool:
    low = text.lower()
    return "endpointtype.private" in low or any(k in low for k in NETWORK_KEYS)


def options_of(node: ast.AST | None) -> dict[str, ast.expr] | None:
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


def is_none(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def auth_of(node: ast.AST | None) -> str:
    """yes / no / unknown: whether method options (kwargs or a props object) authorize callers."""
    if node is None or is_none(node):
        return "no"
    opts = options_of(node)
    if opts is None:
        return "unknown"
    return auth_of_items(opts)


def auth_of_items(opts: dict[str, ast.expr]) -> str:
    result = "no"
    for name, value in opts.items():
        if name == "authorizer" and not is_none(value):
            return "yes"
        if name == "authorization_type" and not is_none(value):
            if not (dotted(value).endswith(".NONE") or str_literal(value) == "NONE"):
                return "yes"
        if name == "api_key_required":
            flag = literal(value, None)
            if flag is True:
                return "yes"
            if flag is not False and not is_none(value):
                result = "unknown"
    return result


def elements_of(node: ast.AST | None) -> list[ast.expr]:
    return list(node.elts) if isinstance(node, (ast.List, ast.Tuple)) else []
