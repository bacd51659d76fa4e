"""Helpers for reading CloudFormation values that may hold intrinsics or CDK tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

INTRINSICS = (
    "Ref",
    "Fn::GetAtt",
    "Fn::Join",
    "Fn::Sub",
    "Fn::If",
    "Fn::Select",
    "Fn::ImportValue",
    "Fn::FindInMap",
    "Fn::GetAZs",
    "Fn::Split",
    "Fn::Base64",
    "Fn::Cidr",
)


def is_intrinsic(value: Any) -> bool:
    """True for `{"Ref": ...}`, `{"Fn::...": ...}` and unresolved `${Token[...]}` strings."""
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key in INTRINSICS or key.startswith("Fn::")
    return isinstance(value, str) and "${Token[" in value


def as_list(value: Any) -> list[Any]:
    """A CloudFormation 'string or list' value as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def plain_strings(value: Any) -> Iterator[str]:
    """Literal strings inside a value (walking into Fn::Join parts), skipping intrinsics."""
    if isinstance(value, str):
        if "${Token[" not in value:
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from plain_strings(item)
    elif isinstance(value, dict) and len(value) == 1 and "Fn::Join" in value:
        parts = value["Fn::Join"]
        if isinstance(parts, list) and len(parts) == 2:
            yield from plain_strings(parts[1])


def policy_statements(document: Any) -> Iterator[dict[str, Any]]:
    """Statements of an IAM policy document (tolerates a single statement object)."""
    if not isinstance(document, dict):
        return
    for stmt in as_list(document.get("Statement")):
        if isinstance(stmt, dict):
            yield stmt


def ref_target(value: Any) -> str | None:
    """The logical id a `{"Ref": X}` or `{"Fn::GetAtt": [X, ...]}` points at."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        att = value.get("Fn::GetAtt")
        if isinstance(att, list) and att and isinstance(att[0], str):
            return att[0]
        if isinstance(att, str):
            return att.split(".", 1)[0]
    return None


def refs_within(value: Any) -> set[str]:
    """Every logical id referenced (Ref / GetAtt) anywhere inside a value."""
    out: set[str] = set()
    target = ref_target(value)
    if target:
        out.add(target)
    if isinstance(value, dict):
        for v in value.values():
            out |= refs_within(v)
    elif isinstance(value, list):
        for v in value:
            out |= refs_within(v)
    return out
