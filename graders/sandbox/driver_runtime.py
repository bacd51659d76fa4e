"""Helpers the generated driver calls inside the sandbox to build an answer's stack.

Required constructor arguments are filled from their names and annotations: the environment
suffix gets ``"dev"``, props classes are built the same way, anything else its default or None.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

SUFFIX = "dev"
_SUFFIX_NAMES = (
    "environment_suffix",
    "env_suffix",
    "suffix",
    "stage",
    "environment",
    "env_name",
    "stage_name",
)


def _hints(func: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - unresolved annotations: fall back to names only
        return {}


def _value_for(name: str, annotation: Any, depth: int) -> Any:
    lname = name.lower()
    if annotation is str or any(lname == n or lname.endswith("_" + n) for n in _SUFFIX_NAMES):
        return SUFFIX
    if annotation is int or annotation is float:
        return 1
    if annotation is bool:
        return False
    origin = typing.get_origin(annotation)
    if annotation is list or origin is list:
        return []
    if annotation is dict or origin is dict:
        return {}
    if origin is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _value_for(name, args[0], depth) if args else None
    if isinstance(annotation, type) and depth < 3 and annotation.__module__ not in ("builtins",):
        if annotation.__module__.startswith(("aws_cdk", "constructs")):
            return None
        return build(annotation, depth + 1)
    return None


def build(cls: Any, depth: int = 0, skip: int = 0, given: dict[str, Any] | None = None) -> Any:
    """Instantiate ``cls`` filling every required parameter after the first ``skip`` ones."""
    given = dict(given or {})
    try:
        # jsii classes have a metaclass __call__(*args, **kwargs): read __init__ instead.
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return cls(*given.pop("__args__", []), **given)
    hints = _hints(cls.__init__)
    args: list[Any] = list(given.pop("__args__", []))
    kwargs: dict[str, Any] = {}
    for i, p in enumerate(params):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or i < skip:
            continue
        if p.name in given:
            kwargs[p.name] = given[p.name]
        elif p.default is p.empty:
            value = _value_for(
                p.name, hints.get(p.name, p.annotation if p.annotation is not p.empty else None), depth
            )
            if p.kind is p.POSITIONAL_ONLY:
                args.append(value)
            else:
                kwargs[p.name] = value
        elif any(p.name.lower() == n for n in _SUFFIX_NAMES[:2]):
            kwargs[p.name] = SUFFIX
    return cls(*args, **kwargs)


def instantiate(app: Any, cls: Any, name: str) -> Any:
    """Create one top-level stack of the answer under ``app``."""
    return build(cls, skip=2, given={"__args__": [app, name]})
