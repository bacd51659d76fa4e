"""Shared analysis from the former synth checks (to be folded into the model)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from iacgrade.graders.analysis.cdkuse import CdkUse
from iacgrade.graders.analysis.context import CheckContext
from iacgrade.graders.analysis.pyast import call_name, dotted, parse_module, walk
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.models import Evidence

LOCATION = re.compile(r"\(([^()\s]+\.py):(\d+)\)\s*$")


@dataclass
class Failure:
    error_type: str
    message: str
    cause: str
    file: str | None
    line: int | None


def current_failure(ctx: CheckContext) -> Failure | None:
    s = ctx.synth
    if s.status not in ("failed", "timeout"):
        return None
    return Failure(s.error_type or "Error", s.message or "", s.cause or "other", s.file, s.line)


def attempt_failures(ctx: CheckContext) -> list[Failure]:
    out: list[Failure] = []
    for attempt in ctx.synth.attempts:
        message = attempt.message or ""
        file, line = attempt.file, attempt.line
        if not file:
            found = LOCATION.search(message)
            if found:
                file, line = found.group(1), int(found.group(2))
        out.append(Failure(attempt.error_type or "Error", message, attempt.cause or "other", file, line))
    return out


def one_line(message: str, error_type: str) -> str:
    """The error's first line, without the type prefix and location suffix the sandbox adds."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    text = LOCATION.sub("", text).strip()
    prefix = f"{error_type}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def failure_source(ctx: CheckContext, path: str | None) -> SourceFile | None:
    return next((s for s in ctx.source.files if s.path == path), None) if path else None


def failure_where(ctx: CheckContext, file: str | None, line: int | None, value: str | None) -> Evidence:
    src = failure_source(ctx, file)
    md = src.md_line(line) if src is not None and line is not None else None
    return Evidence(file=file, line=line, md_line=md, value=value)


@lru_cache(maxsize=64)
def cdk_use(path: str, text: str) -> CdkUse:
    """The API analysis of one file, shared by invalid-api and deprecated-api (keyed by content)."""
    return CdkUse(parse_module(text, filename=path), text).analyse()


def no_entry_reason(ctx: CheckContext) -> str:
    """Why the scaffold entry cannot run the answer, read from the scaffold's own imports when it can be."""
    base = (
        "the answer has no App()/app.synth() of its own and the scaffold entry cannot instantiate its stacks"
    )
    attempts = [
        f for f in attempt_failures(ctx) if f.error_type in ("ImportError", "TypeError", "AttributeError")
    ]
    if attempts:
        return f"{base} ({attempts[0].error_type}: {one_line(attempts[0].message, attempts[0].error_type)})"
    detail = scaffold_import_mismatch(ctx)
    return f"{base}: {detail}" if detail else base


def scaffold_import_mismatch(ctx: CheckContext) -> str | None:
    sample = ctx.sample
    if not sample.task_root or not sample.entry_file:
        return None
    entry = Path(sample.task_root) / sample.entry_file
    try:
        tree = parse_module(entry.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None
    answer = {src.path: src for src in ctx.source.files}
    for node in walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
            continue
        base = node.module.replace(".", "/")
        src = answer.get(f"{base}.py") or answer.get(f"{base}/__init__.py")
        if src is None:
            if node.module.split(".")[0] == "lib":
                return f"{sample.entry_file} imports `{node.module}`, which the answer does not provide"
            continue
        if src.tree is None:
            return None
        defined = top_level_names(src.tree)
        missing = [a.name for a in node.names if a.name != "*" and a.name not in defined]
        if missing:
            names = ", ".join(f"`{n}`" for n in missing)
            return (
                f"{sample.entry_file} imports {names} from `{node.module}`, which the answer does not define"
            )
    return None


def top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def has_own_app(ctx: CheckContext) -> bool:
    """The answer builds an App (cdk.App or its own subclass of it) and calls `.synth()`."""
    app_classes = {"App"}
    for src in ctx.source.parsed():
        for node in walk(src.tree):  # type: ignore[arg-type]
            if isinstance(node, ast.ClassDef) and any(
                dotted(b).rsplit(".", 1)[-1] == "App" for b in node.bases
            ):
                app_classes.add(node.name)
    app = synth = False
    for src in ctx.source.parsed():
        for call in walk(src.tree):  # type: ignore[arg-type]
            if isinstance(call, ast.Call):
                name = call_name(call)
                app = app or name in app_classes
                synth = synth or (name == "synth" and isinstance(call.func, ast.Attribute))
    return app and synth


def stack_classes_of(ctx: CheckContext) -> Iterator[tuple[SourceFile, ast.ClassDef]]:
    for src in ctx.source.parsed():
        for node in walk(src.tree):  # type: ignore[arg-type]
            if isinstance(node, ast.ClassDef) and any(dotted(b).endswith("Stack") for b in node.bases):
                yield src, node


def is_cdk_call(call: ast.Call, src: SourceFile) -> bool:
    """The call's head name comes from an aws_cdk/constructs import (or is not imported at all)."""
    head = dotted(call.func).split(".")[0]
    module = imported_module(head, src)
    return module is None or module.split(".")[0] in ("aws_cdk", "constructs")


def imported_module(name: str, src: SourceFile) -> str | None:
    for node in walk(src.tree):  # type: ignore[arg-type]
        if isinstance(node, ast.ImportFrom) and node.module:
            if any((a.asname or a.name) == name for a in node.names):
                return node.module
        elif isinstance(node, ast.Import):
            for a in node.names:
                if (a.asname or a.name.split(".")[0]) == name:
                    return a.name
    return None
