"""Writing results to disk: atomic files and the batch tables."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from graders.models import CATEGORIES, SampleResult

RESULT_COLUMNS = ["sample_id", "source", "task_id", "kind", "status", "error", "synth_status", "synth_cause",
                  "synth_error_type", "synth_seconds", "entry_kind", "files", "findings",
                  *CATEGORIES, "total", "grader_version", "rubric_version"]
FINDING_COLUMNS = ["sample_id", "check", "category", "severity", "title", "message", "file", "line", "md_line",
                   "stack", "resource", "cdk_path", "lenses"]


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


def result_row(r: SampleResult) -> dict[str, Any]:
    return {
        "sample_id": r.sample_id, "source": r.source, "task_id": r.task_id, "kind": r.kind, "status": r.status,
        "error": r.error, "synth_status": r.synth.status, "synth_cause": r.synth.cause,
        "synth_error_type": r.synth.error_type, "synth_seconds": round(r.synth.seconds, 3),
        "entry_kind": r.synth.entry_kind, "files": len(r.files), "findings": len(r.findings),
        **{c: r.scores.get(c) for c in CATEGORIES}, "total": r.total,
        "grader_version": r.grader_version, "rubric_version": r.rubric_version,
    }


def finding_rows(r: SampleResult) -> list[dict[str, Any]]:
    rows = []
    for f in r.findings:
        src = next((e for e in f.evidence if e.file), None)
        res = next((e for e in f.evidence if e.resource), None)
        rows.append({
            "sample_id": r.sample_id, "check": f.check, "category": f.category, "severity": f.severity,
            "title": f.title, "message": f.message, "file": src.file if src else None,
            "line": src.line if src else None, "md_line": src.md_line if src else None,
            "stack": res.stack if res else None, "resource": res.resource if res else None,
            "cdk_path": res.cdk_path if res else None, "lenses": "+".join(f.lenses),
        })
    return rows


def write_run_tables(out: Path, results: list[SampleResult]) -> None:
    """results.csv (one row per sample) and findings.csv (one row per finding)."""
    results_df = pd.DataFrame([result_row(r) for r in results], columns=RESULT_COLUMNS)
    findings_df = pd.DataFrame([row for r in results for row in finding_rows(r)], columns=FINDING_COLUMNS)
    write_text_atomic(out / "results.csv", results_df.to_csv(index=False))
    write_text_atomic(out / "findings.csv", findings_df.to_csv(index=False))
