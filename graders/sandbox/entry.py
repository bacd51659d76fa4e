"""Decide what to run for an answer: its own app, the scaffold's entry, or a generated driver.

Everything here reads source with ``ast``; nothing of the answer is imported or executed.
"""

from __future__ import annotations

import ast
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from iacgrade.graders.analysis.pyast import iter_calls, parse_module, walk
from iacgrade.graders.paths import is_test_file

DRIVER_FILE = "_iacgrade_driver.py"
_PREFERRED = ("app.py", "main.py", "tap.py", "cdk_app.py", "bin/app.py", "bin/tap.py", "bin/main.py")
_STACK_BASES = {"Stack"}
_NOT_TOP = {"NestedStack", "Construct", "Stage"}


@dataclass
class EntryPlan:
    """What to run and why."""

    kind: Literal["answer", "scaffold", "driver", "none"]
    path: str | None
    reason: str
    driver_source: str | None = None
    stacks: list[str] = field(default_factory=list)


_parsed = threading.local()


@contextmanager
def parse_scope() -> Iterator[None]:
    """Inside the block, a file whose text was parsed once is not parsed again (`parse_file`):
    choosing an entry reads the answer's files several times. Its trees must not be modified."""
    previous = getattr(_parsed, "trees", None)
    _parsed.trees = {}
    try:
        yield
    finally:
        _parsed.trees = previous


def parse_file(path: Path) -> ast.Module | None:
    """The file's module, or None when it cannot be read or parsed."""
    try:
        text = path.read_text(errors="replace")
    except (ValueError, OSError):
        return None
    trees: dict[tuple[str, str], ast.Module | None] | None = getattr(_parsed, "trees", None)
    key = (str(path), text)
    if trees is not None and key in trees:
        return trees[key]
    try:
        tree: ast.Module | None = parse_module(text)
    except (SyntaxError, ValueError):
        tree = None
    if trees is not None:
        trees[key] = tree
    return tree


def _calls(tree: ast.AST) -> list[ast.Call]:
    return list(iter_calls(tree))


def _call_name(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def builds_app(tree: ast.AST) -> bool:
    """A module that constructs an ``App`` and calls ``synth()``."""
    apps = {"App"} | {n.name for n in walk(tree) if isinstance(n, ast.ClassDef) and "App" in _base_names(n)}
    names = {_call_name(c) for c in _calls(tree)}
    return bool(names & apps) and "synth" in names


def _entry_rank(rel: str) -> tuple[int, int, str]:
    pref = _PREFERRED.index(rel) if rel in _PREFERRED else len(_PREFERRED)
    if pref == len(_PREFERRED) and rel.startswith("bin/"):
        pref -= 1
    return (pref, rel.count("/"), rel)


def find_answer_entry(root: Path, answer_files: list[str]) -> str | None:
    """The answer's own app file, if it has one."""
    found = []
    for rel in answer_files:
        if not rel.endswith(".py") or is_test_file(rel):
            continue
        tree = parse_file(root / rel)
        if tree is not None and builds_app(tree):
            found.append(rel)
        elif (
            tree is None
            and re.search(r"\bApp\s*\(", (root / rel).read_text(errors="replace"))
            and re.search(r"\.synth\s*\(", (root / rel).read_text(errors="replace"))
        ):
            # A broken entry is still the answer's entry: running it reports its syntax error.
            found.append(rel)
    return min(found, key=_entry_rank) if found else None


def scaffold_entry(root: Path, entry_file: str | None) -> str | None:
    """The scaffold's entry: the sample's entry_file, else what cdk.json's ``app`` names."""
    if entry_file and (root / entry_file).is_file():
        return entry_file
    cdk_json = root / "cdk.json"
    if cdk_json.is_file():
        try:
            app = json.loads(cdk_json.read_text()).get("app", "")
        except (ValueError, AttributeError):
            app = ""
        for token in str(app).split():
            if token.endswith(".py") and (root / token).is_file():
                return token
    for rel in ("tap.py", "bin/tap.py", "app.py"):
        if (root / rel).is_file():
            return rel
    return None


def _module_file(root: Path, module: str) -> Path | None:
    base = root / module.replace(".", "/")
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _top_names(tree: ast.Module) -> dict[str, ast.AST]:
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    names[t.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for a in node.names:
                names[(a.asname or a.name).split(".")[0]] = node
    return names


def _accepts(cls: ast.ClassDef, n_pos: int, keywords: list[str]) -> bool:
    """Whether ``cls(...)`` with that many positionals and those keywords can bind."""
    init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is None:
        is_dataclass = any(
            (isinstance(d, ast.Name) and d.id == "dataclass")
            or (isinstance(d, ast.Attribute) and d.attr == "dataclass")
            or (isinstance(d, ast.Call) and _call_name(d) == "dataclass")
            for d in cls.decorator_list
        )
        if not is_dataclass:
            return True  # inherited __init__: cannot tell, let it run
        fields = [
            n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
        ]
        return n_pos <= len(fields) and all(k in fields for k in keywords)
    a = init.args
    params = [p.arg for p in a.posonlyargs + a.args][1:]
    if a.vararg is None and n_pos > len(params):
        return False
    named = set(params[n_pos:]) | {p.arg for p in a.kwonlyargs}
    return a.kwarg is not None or all(k in named for k in keywords)


def scaffold_mismatch(root: Path, entry: str) -> str | None:
    """Why the scaffold entry cannot run this answer (missing module/class/props), or None."""
    tree = parse_file(root / entry)
    if tree is None:
        return "scaffold entry does not parse"
    imported: dict[str, ast.ClassDef] = {}
    for node in walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
            continue
        top = node.module.split(".")[0]
        if top in ("aws_cdk", "constructs", "os", "sys", "typing", "json"):
            continue
        local = _module_file(root, node.module)
        if local is None:
            if (root / top).exists() or (root / f"{top}.py").exists() or top == "lib":
                return f"the scaffold imports {node.module}, which the answer does not provide"
            continue
        mod = parse_file(local)
        if mod is None:
            return None  # a syntax error in the answer's module is the answer's error: run it
        names = _top_names(mod)
        for alias in node.names:
            if alias.name not in names:
                return (
                    f"the scaffold imports {alias.name} from {node.module}, which the answer does not define"
                )
            if isinstance(names[alias.name], ast.ClassDef):
                imported[alias.asname or alias.name] = names[alias.name]  # type: ignore[assignment]
    for call in _calls(tree):
        name = call.func.id if isinstance(call.func, ast.Name) else None
        if name in imported:
            kws = [k.arg for k in call.keywords if k.arg]
            if not _accepts(imported[name], len(call.args), kws):
                return f"the scaffold calls {name}({', '.join(kws)}) but the answer's {name} takes other arguments"
    return None


def _base_names(cls: ast.ClassDef) -> list[str]:
    out = []
    for b in cls.bases:
        if isinstance(b, ast.Name):
            out.append(b.id)
        elif isinstance(b, ast.Attribute):
            out.append(b.attr)
    return out


def find_top_stacks(root: Path, answer_files: list[str]) -> list[tuple[str, str]]:
    """(module, class) of the answer's Stack classes that no other stack creates."""
    classes: dict[str, tuple[str, ast.ClassDef]] = {}
    for rel in sorted(answer_files):
        if not rel.endswith(".py") or is_test_file(rel) or rel == DRIVER_FILE:
            continue
        tree = parse_file(root / rel)
        if tree is None:
            continue
        module = rel[:-3].replace("/", ".")
        if module.endswith(".__init__"):
            module = module[: -len(".__init__")]
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, (module, node))
    stacks: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, (_, cls) in classes.items():
            bases = set(_base_names(cls))
            if name not in stacks and (bases & _STACK_BASES or bases & stacks) and not bases & _NOT_TOP:
                stacks.add(name)
                changed = True
    created: set[str] = set()
    for name in stacks:
        for call in _calls(classes[name][1]):
            callee = _call_name(call)
            if callee in stacks and callee != name:
                created.add(callee)
    # Abstract-looking bases that other stacks derive from are not instantiated either.
    bases_of_stacks = {b for n in stacks for b in _base_names(classes[n][1])}
    top = sorted(n for n in stacks if n not in created and n not in bases_of_stacks)
    return [(classes[n][0], n) for n in top]


def driver_source(stacks: list[tuple[str, str]]) -> str:
    """A small app that instantiates the given stack classes and synthesizes."""
    lines = [
        '"""Generated by iacgrade: the answer has no usable entry point, so its stacks are built here."""',
        "import importlib",
        "",
        "import aws_cdk as cdk",
        "",
        "from graders.sandbox.driver_runtime import instantiate",
        "",
        "app = cdk.App()",
    ]
    for module, cls in stacks:
        lines.append(f"instantiate(app, getattr(importlib.import_module({module!r}), {cls!r}), {cls!r})")
    lines += ["app.synth()", ""]
    return "\n".join(lines)


def plan_entry(root: Path, answer_files: list[str], entry_file: str | None) -> EntryPlan:
    """Choose the entry for a workspace: answer's app, else scaffold's, else a driver."""
    own = find_answer_entry(root, answer_files)
    if own:
        return EntryPlan("answer", own, "the answer builds an App and calls synth()")
    scaffold = scaffold_entry(root, entry_file)
    reason = "the answer has no entry point and there is no scaffold entry"
    if scaffold:
        mismatch = scaffold_mismatch(root, scaffold)
        if mismatch is None:
            return EntryPlan("scaffold", scaffold, "the answer has no entry point; the scaffold's entry fits")
        reason = mismatch
    return make_driver_plan(root, answer_files, reason)


def make_driver_plan(root: Path, answer_files: list[str], reason: str) -> EntryPlan:
    """A generated driver for the answer's top-level stacks (or 'none' when it has none)."""
    stacks = find_top_stacks(root, answer_files)
    if not stacks:
        return EntryPlan("none", None, reason + "; and the answer defines no Stack class")
    return EntryPlan(
        "driver",
        DRIVER_FILE,
        reason,
        driver_source=driver_source(stacks),
        stacks=[f"{m}.{c}" for m, c in stacks],
    )
