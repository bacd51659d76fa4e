"""Shared analysis from the former syntax checks (to be folded into the model)."""

from __future__ import annotations

import pyflakes.checker
import pyflakes.messages

from iacgrade.graders.analysis.context import SourceFile


def flakes(src: SourceFile) -> list[pyflakes.messages.Message]:
    assert src.tree is not None
    try:
        return list(pyflakes.checker.Checker(src.tree, filename=src.path).messages)
    except (RecursionError, ValueError):  # absurd nesting: nothing reliable to say
        return []
