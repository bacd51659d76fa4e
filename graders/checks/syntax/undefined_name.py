"""undefined-name: names used but never imported or defined (missing imports)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

import pyflakes.checker
import pyflakes.messages

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.pyast import walk
from iacgrade.graders.analysis.pyflakes_run import flakes
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.synth_failure import failure_where
from iacgrade.graders.checks import check


# ---- undefined-name ------------------------------------------------------------------------------
@check("undefined-name", lenses=("source",), kinds=("cdk-python", "cdk-typescript", "cdk-javascript"))
def undefined_name(ctx: CheckContext) -> Iterator[Hit]:
    """Names used but never imported or defined (missing imports).

    What it finds: pyflakes' undefined names in every Python file of the answer that parses,
    one finding per file listing each name and where it is first used. Files with a star import
    are judged by pyflakes' own rules (names that may come from the star are not reported), and
    names used only in annotations that are never evaluated (string annotations, or
    `from __future__ import annotations`) are left out. For CDK TypeScript, the compiler's
    "Cannot find name" errors on the files the app imports, with their file:line.

    Why it matters: the first use raises NameError: at synth time for stack code, at run time
    for Lambda handlers.

    Bad example:

        from aws_cdk import aws_cloudwatch as cloudwatch
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))  # never imported

    Fix: Import every module and name the code uses (`from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions`).
    """
    for src in ctx.source.parsed():
        names: dict[str, int] = {}
        for msg in flakes(src):
            if isinstance(msg, pyflakes.messages.UndefinedName):
                name = str(msg.message_args[0])
                if name not in names and not _in_lazy_annotation(src, msg.lineno, msg.col):
                    names[name] = msg.lineno
        if not names:
            continue
        listed = ", ".join(f"`{n}` (line {line})" for n, line in names.items())
        message = (
            f"`{src.path}` uses {listed} without importing or defining {'it' if len(names) == 1 else 'them'}"
        )
        evidence = [ctx.source.at(src, line, value=name) for name, line in names.items()]
        yield Hit(message, evidence, key=src.path)
    yield from _compiler_undefined(ctx)


# TypeScript: "Cannot find name 'kms'." (2304), "... Did you mean 'x'?" (2552), "Cannot find
# namespace 'x'." (2503), "... Did you mean the instance member 'this.x'?" (2663). Not 2580/2584
# (a name from type definitions or a library the project's options leave out: not the answer's).
_TS_UNDEFINED = frozenset({2304, 2552, 2503, 2663})
_TS_NAME = re.compile(r"Cannot find (?:name|namespace) '([^']+)'")


def _compiler_undefined(ctx: CheckContext) -> Iterator[Hit]:
    """A typed answer's undefined names as its compiler reports them, one finding per file."""
    per_file: dict[str, dict[str, int | None]] = {}
    for diag in ctx.source.diagnostics:
        found = _TS_NAME.search(diag.message)
        if diag.code not in _TS_UNDEFINED or not found or not diag.file:
            continue
        per_file.setdefault(diag.file, {}).setdefault(found.group(1), diag.line)
    for path, names in per_file.items():
        listed = ", ".join(f"`{n}` (line {line})" for n, line in names.items())
        message = (
            f"`{path}` uses {listed} without importing or defining {'it' if len(names) == 1 else 'them'}"
        )
        evidence = [failure_where(ctx, path, line, name) for name, line in names.items()]
        yield Hit(message, evidence, key=path)


def _in_lazy_annotation(src: SourceFile, line: int, col: int) -> bool:
    """Whether (line, col) is inside an annotation Python never evaluates."""
    assert src.tree is not None
    future = any(
        isinstance(n, ast.ImportFrom)
        and n.module == "__future__"
        and any(a.name == "annotations" for a in n.names)
        for n in src.tree.body
    )
    for node in walk(src.tree):
        annotations: list[ast.expr | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            annotations = [a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs]
            annotations += [a.annotation for a in (args.vararg, args.kwarg) if a is not None]
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        for ann in annotations:
            if ann is None or not _contains(ann, line, col):
                continue
            if future or isinstance(ann, ast.Constant) or _inside_string(ann, line, col):
                return True
    return False


def _contains(node: ast.AST, line: int, col: int) -> bool:
    start = (node.lineno, node.col_offset)  # type: ignore[attr-defined]
    end = (node.end_lineno or node.lineno, node.end_col_offset or 0)  # type: ignore[attr-defined]
    return start <= (line, col) <= end


def _inside_string(node: ast.AST, line: int, col: int) -> bool:
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and _contains(n, line, col)
        for n in walk(node)
    )
