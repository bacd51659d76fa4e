"""iacgrade's pipeline: ingest, extract, workspace, sandboxed synth, checks, scoring, runs.

The public API is importable from here; modules load on first use so that importing
``graders`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "discover": "iacgrade.graders.ingest",
    "read_answer": "iacgrade.graders.ingest",
    "extract_files": "iacgrade.graders.extract",
    "safe_relpath": "iacgrade.graders.extract",
    "assemble": "iacgrade.graders.workspace",
    "grade": "iacgrade.graders.pipeline",
    "GradeOptions": "iacgrade.graders.pipeline",
    "load_rubric": "iacgrade.graders.rubric",
    "score_findings": "iacgrade.graders.scoring",
    "load_run": "iacgrade.graders.runs",
    "run_checks": "iacgrade.graders.checks",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'graders' has no attribute {name!r}")
