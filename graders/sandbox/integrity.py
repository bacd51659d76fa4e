"""Tamper detection for a warm worker: snapshot what jobs must not change, compare after each.

We keep references to the objects themselves (not ids), so a replaced function can never be
mistaken for the original because its id happened to be reused.
"""

from __future__ import annotations

import builtins
import sys
import threading
import types
from typing import Any

# Modules whose attributes and classes a job must leave alone; aws_cdk submodules are added.
_WATCHED_PREFIXES = ("aws_cdk", "constructs", "jsii", "cfnlint.api", "cfnlint.runner")
_WATCHED_EXACT = ("builtins", "os", "os.path", "json", "runpy", "importlib", "shutil", "io", "sys")
_TRUSTED_PREFIXES: tuple[str, ...] = ()


def set_trusted_prefixes(prefixes: tuple[str, ...]) -> None:
    """Code locations (read-only in the sandbox) that functions of watched modules must come from."""
    global _TRUSTED_PREFIXES
    _TRUSTED_PREFIXES = prefixes


def _watched(name: str) -> bool:
    return name in _WATCHED_EXACT or any(name == p or name.startswith(p + ".") for p in _WATCHED_PREFIXES)


def _module_state(mod: types.ModuleType) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for key, value in list(vars(mod).items()):
        state[key] = value
        if isinstance(value, type) and getattr(value, "__module__", None) == mod.__name__:
            state[key + ".__dict__"] = dict(vars(value))
    return state


class Snapshot:
    """What the worker looked like when it was clean."""

    def __init__(self) -> None:
        self.modules: dict[str, types.ModuleType] = {}
        self.states: dict[str, dict[str, Any]] = {}
        self.builtins = dict(vars(builtins))
        self.threads = {t.ident for t in threading.enumerate()}
        self.refresh(check=False)

    def refresh(self, check: bool = True) -> None:
        """Add watched modules imported since (e.g. an aws_cdk submodule a job imported)."""
        for name, mod in list(sys.modules.items()):
            if mod is None or name in self.states or not _watched(name):
                continue
            bad = _foreign_functions(mod) if check else []
            if bad:
                # Imported during a job and already patched: never trust it as a baseline.
                raise TamperedError(bad)
            self.modules[name] = mod
            self.states[name] = _module_state(mod)

    def compare(self) -> list[str]:
        """Names of everything that changed; empty when the worker is clean."""
        changed: list[str] = []
        for name, mod in self.modules.items():
            if sys.modules.get(name) is not mod:
                changed.append(f"sys.modules[{name!r}] replaced")
                continue
            before = self.states[name]
            now = _module_state(mod)
            # Importing a submodule sets it as an attribute of its package: that is no tampering.
            for key in set(now) - set(before):
                value = now[key]
                if (
                    isinstance(value, types.ModuleType)
                    and sys.modules.get(value.__name__) is value
                    and _watched(value.__name__)
                ):
                    before[key] = value
            if now.keys() != before.keys():
                diff = sorted(set(now) ^ set(before))[:3]
                changed.append(f"{name}: attributes added/removed {diff}")
                continue
            for key, value in before.items():
                cur = now[key]
                if key.endswith(".__dict__"):
                    # Python creates a class's __annotations__ lazily on first access.
                    diff = sorted((set(cur) ^ set(value)) - {"__annotations__"}) or [
                        k for k, v in value.items() if cur[k] is not v
                    ]
                    if diff:
                        changed.append(f"{name}.{key[:-9]} modified: {diff[:3]}")
                elif cur is not value:
                    changed.append(f"{name}.{key} replaced")
        current = vars(builtins)
        if current.keys() != self.builtins.keys() or any(
            current[k] is not v for k, v in self.builtins.items()
        ):
            changed.append("builtins modified")
        extra = [t.name for t in threading.enumerate() if t.ident not in self.threads and t.is_alive()]
        if extra:
            changed.append(f"threads left running: {extra[:3]}")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            changed.append("trace/profile hook installed")
        return changed


class TamperedError(RuntimeError):
    """A module imported during a job already carries functions defined by the job."""


def _foreign_functions(mod: types.ModuleType) -> list[str]:
    # Functions of library modules come from read-only library files; anything else was planted.
    if not _TRUSTED_PREFIXES:
        return []
    bad = []
    for key, value in list(vars(mod).items()):
        items = [(key, value)]
        if isinstance(value, type):
            items += [(f"{key}.{k}", v) for k, v in list(vars(value).items())]
        for label, obj in items:
            code = getattr(obj, "__code__", None)
            if code is not None and not code.co_filename.startswith(
                _TRUSTED_PREFIXES + ("<frozen", "<attrs generated")
            ):
                bad.append(f"{mod.__name__}.{label} from {code.co_filename}")
    return bad[:5]
