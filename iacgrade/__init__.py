"""iacgrade as a library: grade answers from a notebook, a pipeline or a training loop.

    from iacgrade import Grader
    with Grader(workers=4) as g:
        result = g.grade(markdown, prompt=prompt_text)   # a SampleResult, as result.json holds it
        for r in g.grade_many(rows):                      # dicts with "response" (and "prompt", ...)
            ...

Importing this package is cheap (no pandas, no aws_cdk): the pipeline loads when a Grader starts.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {"Grader": "iacgrade.grader"}

__all__ = ["Grader"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'iacgrade' has no attribute {name!r}")
