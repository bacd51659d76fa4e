"""Which construct a thing is, in either lens, so that both lenses can agree on one key.

Source lens: :class:`Bindings` follows a file's assignments so that `users` in
`users = self.api.root.add_resource("users")` is known to belong to the construct
`apigw.RestApi(self, "UserApi")`. Template lens: :func:`template_key` names the construct a
resource was made by (from the CDK path metadata, or from the logical id when a template has no
metadata). :func:`reconcile` then gives a source hit the key of the template hit for the same
construct, so that the runner merges them into one finding.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import replace

from iacgrade.graders.analysis.context import CheckContext, Hit, Resource
from iacgrade.graders.analysis.pyast import call_name, construct_id, dotted, parents, walk

# Methods and attributes that return a part of the construct they are called on
# (API resources of a RestApi, the default stage, ...): the part belongs to that construct.
_PART_OF = frozenset(
    {
        "root",
        "add_resource",
        "resource_for_path",
        "add_proxy",
        "get_resource",
        "deployment_stage",
        "latest_deployment",
        "default_stage",
        "node",
        "default_child",
    }
)

# CDK appends an 8-character hash to logical ids of constructs below the stack's top level.
_LOGICAL_HASH = re.compile(r"[0-9A-F]{8}$")

# Prefix of keys derived from a logical id (no CDK path metadata in the template).
_FROM_LOGICAL_ID = "~"


def template_key(res: Resource) -> str:
    """The construct a resource belongs to: its construct id, or its logical id without the hash."""
    if res.construct_id:
        return res.construct_id
    lid = res.logical_id
    if len(lid) > 8 and _LOGICAL_HASH.search(lid):
        lid = lid[:-8]
    return _FROM_LOGICAL_ID + lid


def display_name(key: str) -> str:
    """A template key as shown in messages."""
    return key.removeprefix(_FROM_LOGICAL_ID)


def pretty(key: str) -> str:
    """A source key as shown in messages: `Api{…}` for an f-string id."""
    return key.replace("{}", "{…}")


def keys_match(source_key: str | None, tkey: str) -> bool:
    """True when a source construct id (`Table{}` for f-strings) names the template construct."""
    if not source_key or len(re.sub(r"[^A-Za-z0-9]", "", source_key.replace("{}", ""))) < 2:
        return False  # `{}` or `{}-{}` would name every construct
    if tkey.startswith(_FROM_LOGICAL_ID):
        # Logical ids drop every non-alphanumeric character and concatenate the whole path.
        clean = re.sub(r"[^A-Za-z0-9{}]", "", source_key)
        pattern = ".*".join(re.escape(part) for part in clean.split("{}"))
        return re.fullmatch(".*" + pattern, tkey[1:]) is not None
    pattern = ".*".join(re.escape(part) for part in source_key.split("{}"))
    return re.fullmatch(pattern, tkey) is not None


def reconcile(
    ctx: CheckContext, template_hits: list[Hit], source_hits: Iterable[Hit], *, keep_unmatched: bool = False
) -> list[Hit]:
    """Template hits first (the template is exact), then source hits re-keyed to match them.

    Without a template the source lens decides alone. With one, a source hit for a construct the
    template does not flag is dropped (the template saw the construct and found it fine, or it
    is never instantiated) unless ``keep_unmatched``.
    """
    if not ctx.has_template:
        return list(source_hits)
    tkeys = list(dict.fromkeys(h.key for h in template_hits if h.key))
    out = list(template_hits)
    for hit in source_hits:
        matched = [k for k in tkeys if keys_match(hit.key, k)]
        out.extend(replace(hit, key=k) for k in matched)
        if not matched and keep_unmatched:
            out.append(hit)
    return out


def construct_call_id(call: ast.Call) -> str | None:
    """The id of `Cls(scope, "Id", ...)` (a class called with a scope first), else None."""
    if not call_name(call)[:1].isupper() or len(call.args) < 2:
        return None
    if not isinstance(call.args[0], (ast.Name, ast.Attribute)):
        return None
    return construct_id(call)


def construct_label(call: ast.Call) -> str | None:
    """The construct id as written, for messages: `OrdersApi-{environment_suffix}` for an f-string."""
    node = call.args[1] if len(call.args) >= 2 else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                parts.append("{" + ast.unparse(value.value) + "}")
        return "".join(parts)
    return construct_call_id(call)


def is_cdk_file(tree: ast.Module) -> bool:
    """True for infrastructure code (imports aws_cdk or constructs), False for application code."""
    for node in walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] in ("aws_cdk", "constructs") for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            "aws_cdk",
            "constructs",
        ):
            return True
    return False


class Bindings:
    """Which construct the names of one file stand for.

    `self.x` attributes are file-wide (methods of a stack share them); plain names are local to
    the function that assigns them. A name assigned more than once is left unknown.
    """

    def __init__(self, tree: ast.Module) -> None:
        self.parents = parents(tree)
        self._values: dict[tuple[ast.AST | None, str], list[ast.expr]] = {}
        for node in walk(tree):
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                targets, value = [node.target], node.value
            if value is None:
                continue
            for target in targets:
                name = dotted(target)
                if name:
                    self._values.setdefault((self._scope(node, name), name), []).append(value)

    def _scope(self, node: ast.AST, name: str) -> ast.AST | None:
        if "." in name:
            return None
        cur = self.parents.get(node)
        while cur is not None and not isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef)):
            cur = self.parents.get(cur)
        return cur

    def value_of(self, expr: ast.AST) -> ast.expr | None:
        """The one expression a name was assigned (in its function, else file-wide), if unique."""
        name = dotted(expr)
        if not name or "()" in name:
            return None
        for scope in (self._scope(expr, name), None):
            values = self._values.get((scope, name))
            if values:
                return values[0] if len(values) == 1 else None
        return None

    def owner(self, expr: ast.AST | None, _depth: int = 0) -> str | None:
        """The construct id `expr` is (or is a part of), when the file tells."""
        if expr is None or _depth > 12:
            return None
        if isinstance(expr, ast.Call):
            func = expr.func
            if isinstance(func, ast.Attribute) and func.attr in _PART_OF:
                return self.owner(func.value, _depth + 1)
            return construct_call_id(expr)
        if isinstance(expr, ast.Attribute) and expr.attr in _PART_OF:
            return self.owner(expr.value, _depth + 1)
        if isinstance(expr, (ast.Name, ast.Attribute)):
            return self.owner(self.value_of(expr), _depth + 1)
        return None

    def enclosing_construct(self, node: ast.AST) -> tuple[str | None, ast.Call | None]:
        """The construct a node configures: the nearest enclosing `Cls(scope, "Id", ...)` call or
        `x.method(...)` call on a construct the file names."""
        cur = self.parents.get(node)
        while cur is not None and not isinstance(cur, ast.stmt):
            if isinstance(cur, ast.Call):
                cid = construct_call_id(cur)
                if cid:
                    return cid, cur
                if isinstance(cur.func, ast.Attribute):
                    owner = self.owner(cur.func.value)
                    if owner:
                        return owner, cur
            cur = self.parents.get(cur)
        return None, None
