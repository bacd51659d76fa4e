"""Tamper detection for a warm worker: snapshot what jobs must not change, compare after each.

We keep references to the objects themselves (not ids), so a replaced function can never be
mistaken for the original because its id happened to be reused.
"""

from __future__ import annotations

import builtins
import sys
import threading
import types
from itertools import chain, repeat
from operator import is_not
from typing import Any

# Modules whose attributes and classes a job must leave alone; aws_cdk submodules are added.
_WATCHED_PREFIXES = ("aws_cdk", "constructs", "jsii", "cfnlint", "iacgrade.graders.lint")
# Modules the grader itself changes while it works (cfn-lint fills caches as it lints): their
# baseline is taken again after each lint, so a job is compared with the state the grader left.
GRADER_MUTATED = ("cfnlint", "iacgrade.graders.lint")
_WATCHED_EXACT = (
    "builtins",
    "os",
    "os.path",
    "json",
    "json.encoder",
    "json.decoder",
    "json.scanner",
    "struct",
    "runpy",
    "importlib",
    "shutil",
    "io",
    "sys",
    # The worker's own frame writer: its captured encoder must stay the one it started with.
    "iacgrade.graders.sandbox.protocol",
    # Copies Node's console into each job's log: patched, it would write into later answers' logs.
    "iacgrade.graders.sandbox.jsii_console",
)
_TRUSTED_PREFIXES: tuple[str, ...] = ()


def set_trusted_prefixes(prefixes: tuple[str, ...]) -> None:
    """Code locations (read-only in the sandbox) that functions of watched modules must come from."""
    global _TRUSTED_PREFIXES
    _TRUSTED_PREFIXES = prefixes


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _watched(name: str) -> bool:
    return name in _WATCHED_EXACT or _under(name, _WATCHED_PREFIXES)


_MISSING = object()


def _classes(mod: types.ModuleType) -> list[tuple[type, dict[str, Any]]]:
    out = []
    for value in list(vars(mod).values()):
        if isinstance(value, type) and getattr(value, "__module__", None) == mod.__name__:
            if "__annotations__" not in vars(value):
                # Python adds an empty __annotations__ to a class the first time anything asks
                # (jsii asks of whichever classes a job uses): add it now, into the baseline.
                try:
                    value.__annotations__  # noqa: B018
                except (AttributeError, TypeError):  # a built-in type has none to make
                    pass
            out.append((value, dict(vars(value))))
    return out


def _dict_changes(current: Any, saved: dict[str, Any]) -> list[str]:
    """Keys whose value is not the saved object, plus keys added (cheap when nothing changed)."""
    # Fast path, run for every class of every watched module after each job: the identity test
    # in C (map/operator) instead of a Python loop; only a dict that changed takes the long way.
    if len(current) == len(saved) and not any(
        map(is_not, map(current.get, saved, repeat(_MISSING)), saved.values())
    ):
        return []
    changed = [k for k, v in saved.items() if current.get(k, _MISSING) is not v]
    if len(current) != len(saved) or changed:
        # Python creates a class's __annotations__ lazily on first access: not a change.
        changed += [k for k in current.keys() - saved.keys() if k != "__annotations__"]
    return changed


class _ClassIndex:
    """The saved attributes of many classes as flat lists, compared in a few C-level passes.

    A warm CDK worker watches ~11,800 classes (aws_cdk's) with ~200,000 attributes. Class by
    class, the compare after each job took ~35 ms; with this index ~26 ms (measured in one
    process). One pass checks every class's size, one every key and one every value, each an
    identity test (``is_not``: an object with its own ``__eq__`` cannot pass for the saved one).
    Same size, same keys in the same order and the same values is the same dict; anything else
    sends the caller to the class-by-class walk, which names the change."""

    def __init__(self) -> None:
        self.views: list[types.MappingProxyType[str, Any]] = []
        self.sizes: list[int] = []
        self.keys: list[str] = []
        self.values: list[Any] = []

    def add(self, classes: list[tuple[type, dict[str, Any]]]) -> None:
        for cls, saved in classes:
            self.views.append(vars(cls))
            self.sizes.append(len(saved))
            self.keys.extend(saved)
            self.values.extend(saved.values())

    def changed(self) -> bool:
        views = self.views
        return (
            list(map(len, views)) != self.sizes
            or any(map(is_not, chain.from_iterable(map(_KEYS, views)), self.keys))
            or any(map(is_not, chain.from_iterable(map(_VALUES, views)), self.values))
        )


_KEYS = types.MappingProxyType.keys
_VALUES = types.MappingProxyType.values


class Snapshot:
    """What the worker looked like when it was clean."""

    def __init__(self) -> None:
        self.modules: dict[str, types.ModuleType] = {}
        self.states: dict[str, dict[str, Any]] = {}
        self.classes: dict[str, list[tuple[type, dict[str, Any]]]] = {}
        # Classes of the modules whose baseline is taken once (all but GRADER_MUTATED's, which
        # `rebase` takes again after every lint): checked together, see _ClassIndex.
        self._index = _ClassIndex()
        self._indexed: set[str] = set()
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
            self._take(name, mod)

    def rebase(self, prefixes: tuple[str, ...]) -> None:
        """Take the baseline of the watched modules under ``prefixes`` again (after the grader's
        own work in them), and add such modules imported since."""
        for name, mod in list(sys.modules.items()):
            if mod is not None and _under(name, prefixes) and _watched(name):
                self._take(name, mod)

    def _take(self, name: str, mod: types.ModuleType) -> None:
        self.modules[name] = mod
        self.states[name] = dict(vars(mod))
        self.classes[name] = _classes(mod)
        if name not in self._indexed and not _under(name, GRADER_MUTATED):
            self._indexed.add(name)
            self._index.add(self.classes[name])

    def compare(self) -> list[str]:
        """Names of everything that changed; empty when the worker is clean."""
        changed: list[str] = []
        for name, mod in self.modules.items():
            if sys.modules.get(name) is not mod:
                changed.append(f"sys.modules[{name!r}] replaced")
                continue
            saved = self.states[name]
            current = vars(mod)
            diff = _dict_changes(current, saved)
            for key in list(diff):
                value = current.get(key, _MISSING)
                # Importing a submodule sets it as an attribute of its package: no tampering.
                if (
                    key not in saved
                    and isinstance(value, types.ModuleType)
                    and sys.modules.get(value.__name__) is value
                    and _watched(value.__name__)
                ):
                    saved[key] = value
                    diff.remove(key)
            if diff:
                changed.append(f"{name}: attributes changed {sorted(diff)[:3]}")
        changed += self._changed_classes()
        if _dict_changes(vars(builtins), self.builtins):
            changed.append("builtins modified")
        extra = [t.name for t in threading.enumerate() if t.ident not in self.threads and t.is_alive()]
        if extra:
            changed.append(f"threads left running: {extra[:3]}")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            changed.append("trace/profile hook installed")
        return changed

    def _changed_classes(self) -> list[str]:
        indexed_clean = not self._index.changed()
        changed: list[str] = []
        stale = False
        for name, classes in self.classes.items():
            indexed = name in self._indexed
            if indexed and indexed_clean:
                continue
            for cls, cls_saved in classes:
                current = vars(cls)
                cls_diff = _dict_changes(current, cls_saved)
                if cls_diff:
                    changed.append(f"{name}.{cls.__name__} modified: {sorted(cls_diff)[:3]}")
                elif indexed and list(current) != list(cls_saved):
                    # The same objects, with an __annotations__ made on first access (of a class
                    # that had none at its baseline) or a key put back in another place: the
                    # baseline from now on, or the index would send every later compare here.
                    cls_saved.clear()
                    cls_saved.update(current)
                    stale = True
        if stale and not changed:
            self._index = _ClassIndex()
            self._index.add([c for name in self._indexed for c in self.classes[name]])
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
