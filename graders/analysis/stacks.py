"""Shared analysis from the former best_practices checks (to be folded into the model)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from iacgrade.graders.analysis.context import CheckContext
from iacgrade.graders.analysis.model import AnswerModel, Instance
from iacgrade.graders.analysis.pyast import literal, walk
from iacgrade.graders.models import Evidence


def stack_class_evidence(ctx: CheckContext, index: AnswerModel, value: str) -> list[Evidence]:
    stacks = index.stack_classes()
    out = []
    for src in index.sources:
        for node in walk(src.tree) if src.tree else ():
            if isinstance(node, ast.ClassDef) and node.name in stacks:
                out.append(ctx.source.at(src, node, value=f"class {node.name}: {value}"))
    return out


def string_values(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from string_values(v)
    elif isinstance(value, list):
        for v in value:
            yield from string_values(v)


def truthy_kw(node: ast.expr | None) -> bool | None:
    """True/False for a literal, None when the value is an expression we cannot read."""
    if node is None:
        return False
    value = literal(node, default=ast)
    return bool(value) if value is not ast else None


def assigned_call(index: AnswerModel, inst: Instance, name: str) -> ast.Call | None:
    scope = index.enclosing(inst.src, inst.call, (ast.FunctionDef, ast.AsyncFunctionDef)) or inst.src.tree
    found = None
    for node in walk(scope) if scope is not None else ():
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                found = node.value
    return found
