"""iacgrade's pipeline: ingest, extract, workspace, sandboxed synth, checks, scoring, runs.

The public API is importable from here; modules load on first use so that importing
``graders`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "discover": "graders.ingest",
    "read_answer": "graders.ingest",
    "extract_files": "graders.extract",
    "safe_relpath": "graders.extract",
    "assemble": "graders.workspace",
    "grade": "graders.pipeline",
    "GradeOptions": "graders.pipeline",
    "load_rubric": "graders.rubric",
    "score_findings": "graders.scoring",
    "load_run": "graders.runs",
    "run_checks": "graders.checks",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'graders' has no attribute {name!r}")
