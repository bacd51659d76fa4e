"""Shared analysis from the former deployment checks (to be folded into the model)."""

from __future__ import annotations

import ast
import re

from iacgrade.graders.analysis._scope import (
    SourceIndex,
)
from iacgrade.graders.analysis.pyast import construct_id, dotted

# A value that varies only with the account or region (``self.account``, ``Aws.REGION``).
ACCOUNT_REGION = object()


AR_ATTRS = {"account", "region", "ACCOUNT_ID", "REGION", "URL_SUFFIX"}


AR_ENV = re.compile(r"(ACCOUNT|REGION)")


Part = str | object


def id_text(idx: SourceIndex, call: ast.Call) -> str | None:
    """The construct id for a reader: f-string parts resolved when they are constants,
    otherwise shown as ``{expression}``."""
    node = call.args[1] if len(call.args) >= 2 else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return construct_id(call)
    pieces = []
    for value in node.values:
        if isinstance(value, ast.FormattedValue):
            parts = name_parts(idx, value.value)
            if parts is not None and all(isinstance(p, str) for p in parts):
                pieces.append("".join(p for p in parts if isinstance(p, str)))
            else:
                pieces.append("{" + idx.segment(value.value, 40) + "}")
        elif isinstance(value, ast.Constant):
            pieces.append(str(value.value))
    return "".join(pieces)


def name_parts(idx: SourceIndex, expr: ast.expr, depth: int = 0) -> list[Part] | None:
    """The pieces of a name value: literal strings and account/region markers; None if it varies."""
    if depth > 8:
        return None
    expr = idx.resolve(expr)
    if isinstance(expr, ast.Constant):
        return [expr.value] if isinstance(expr.value, str) else None
    if isinstance(expr, ast.JoinedStr):
        parts: list[Part] = []
        for value in expr.values:
            sub = (
                name_parts(idx, value.value, depth + 1)
                if isinstance(value, ast.FormattedValue)
                else name_parts(idx, value, depth + 1)
            )
            if sub is None:
                return None
            parts += sub
        return parts
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        left, right = name_parts(idx, expr.left, depth + 1), name_parts(idx, expr.right, depth + 1)
        return None if left is None or right is None else left + right
    if is_account_region(expr):
        return [ACCOUNT_REGION]
    if isinstance(expr, ast.Call):
        return call_parts(idx, expr, depth)
    return None


def call_parts(idx: SourceIndex, call: ast.Call, depth: int) -> list[Part] | None:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in ("lower", "upper", "strip") and not call.args:
        inner = name_parts(idx, func.value, depth + 1)
        if inner is None:
            return None
        return [getattr(p, func.attr)() if isinstance(p, str) else p for p in inner]
    if isinstance(func, ast.Name) and func.id == "str" and len(call.args) == 1:
        return name_parts(idx, call.args[0], depth + 1)
    if (
        isinstance(func, ast.Attribute)
        and func.attr == "join"
        and isinstance(func.value, ast.Constant)
        and isinstance(func.value.value, str)
        and len(call.args) == 1
        and isinstance(call.args[0], ast.List | ast.Tuple)
    ):
        out: list[Part] = []
        for n, elt in enumerate(call.args[0].elts):
            sub = name_parts(idx, elt, depth + 1)
            if sub is None:
                return None
            out += ([func.value.value] if n else []) + sub
        return out
    return None


def is_account_region(expr: ast.expr) -> bool:
    """``self.account``, ``Stack.of(self).region``, ``Aws.ACCOUNT_ID``, ``os.environ["CDK_DEFAULT_REGION"]``."""
    if isinstance(expr, ast.Attribute) and expr.attr in AR_ATTRS:
        return True
    if isinstance(expr, ast.Call) and dotted(expr.func) in (
        "os.getenv",
        "os.environ.get",
        "getenv",
        "environ.get",
    ):
        key = expr.args[0] if expr.args else None
        return isinstance(key, ast.Constant) and isinstance(key.value, str) and bool(AR_ENV.search(key.value))
    if isinstance(expr, ast.Subscript) and dotted(expr.value) in ("os.environ", "environ"):
        key = expr.slice
        return isinstance(key, ast.Constant) and isinstance(key.value, str) and bool(AR_ENV.search(key.value))
    return False
