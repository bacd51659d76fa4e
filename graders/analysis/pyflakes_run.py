"""Shared analysis from the former syntax checks (to be folded into the model)."""

from __future__ import annotations

import ast

import pyflakes.checker
import pyflakes.messages

from iacgrade.graders.analysis.pyast import memoised
from iacgrade.graders.analysis.source import SourceFile


def flakes(src: SourceFile) -> list[pyflakes.messages.Message]:
    """pyflakes' messages on the file's tree, run once per tree inside `memo_scope` (undefined-name
    and unused-import both read them)."""
    tree = src.tree
    assert tree is not None
    return list(memoised(f"pyflakes:{src.path}", tree, lambda: _run(tree, src.path)))


def _run(tree: ast.Module, path: str) -> tuple[pyflakes.messages.Message, ...]:
    try:
        return tuple(pyflakes.checker.Checker(tree, filename=path).messages)
    except (RecursionError, ValueError):  # absurd nesting: nothing reliable to say
        return ()
