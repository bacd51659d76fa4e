"""Reading run folders back: ``load_run`` for notebooks, ``find_runs`` and ``run_summary`` for ``iacgrade runs``.

A run folder is one with a ``run.json``. Its tables are read from Parquet (exact dtypes), else
CSV; a run that never finished (killed) is read from its result.json files, which are complete
even when the tables lag behind.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from iacgrade.graders.models import RunManifest, SampleResult
from iacgrade.graders.store import (
    finding_rows,
    findings_frame,
    iter_results,
    read_json_object,
    read_result,
    result_row,
    results_frame,
)

__all__ = ["RunData", "RunError", "find_runs", "load_run", "result_differences", "run_summary"]


class RunError(ValueError):
    """The folder is not a run (no readable run.json)."""


@dataclass
class RunData:
    """One run: its manifest and its two tables as pandas DataFrames."""

    path: Path
    manifest: RunManifest
    results: pd.DataFrame
    findings: pd.DataFrame

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    @property
    def name(self) -> str:
        """What to call the run in a table or chart: its label, else its id."""
        return self.manifest.label or self.manifest.run_id

    def result(self, sample_id: str) -> SampleResult | None:
        """The full result of one answer of this run."""
        return read_result(self.path / sample_id / "result.json")


def load_run(path: str | Path) -> RunData:
    """Load a run folder (or its run.json) into a RunData with ``results`` and ``findings`` DataFrames."""
    folder = Path(path)
    if folder.name == "run.json":
        folder = folder.parent
    raw = read_json_object(folder / "run.json")
    if raw is None:
        raise RunError(f"{folder}: not a run folder (no readable run.json)")
    manifest = _manifest(raw, folder)
    if manifest.finished is None:
        results, findings = _tables_from_results(folder)
    else:
        results, findings = _read_tables(folder)
    return RunData(folder, manifest, results, findings)


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """Run folders at or below ``paths``: explicit runs in the order given, found ones sorted."""
    found: list[Path] = []
    for arg in paths:
        root = Path(arg)
        if (root / "run.json").is_file():
            found.append(root)
            continue
        below: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(root):
            if "run.json" in filenames:
                below.append(Path(dirpath))
                dirnames[:] = []  # sample folders of a run hold no runs
            else:
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(sorted(below))
    unique: list[Path] = []
    for p in found:
        if p not in unique:
            unique.append(p)
    return unique


def run_summary(run: RunData) -> dict[str, Any]:
    """One line of ``iacgrade runs``: id, label, times, versions, counts and mean scores."""
    r = run.results
    graded = r[r["status"] == "graded"] if len(r) else r
    total = graded["total"].dropna() if len(graded) else pd.Series(dtype="float64")
    synth = r["synth_status"].value_counts().to_dict() if len(r) else {}
    return {
        "run_id": run.manifest.run_id,
        "label": run.manifest.label,
        "path": str(run.path),
        "started": run.manifest.started,
        "finished": run.manifest.finished,
        "grader_version": run.manifest.grader_version,
        "rubric_version": run.manifest.rubric_version,
        "samples": len(r),
        "graded": len(graded),
        "errors": int((r["status"] == "error").sum()) if len(r) else 0,
        "infra_errors": int((r["status"] == "infra_error").sum()) if len(r) else 0,
        "synth_ok": int(synth.get("ok", 0)),
        "mean_total": _round(total.mean()) if len(total) else None,
        "findings": len(run.findings),
    }


# What may differ between two gradings of one answer: how long it took and which worker ran it.
_TIMING_FIELDS = ("seconds", "worker")


def result_differences(a: str | Path, b: str | Path, *, scores_only: bool = False) -> list[str]:
    """How two run folders' answers differ, apart from timings: one line per answer whose
    result.json, report.md or set of files is not the same (empty when the runs agree).

    ``scores_only`` compares what a score is made of: status, synth status, total, category
    scores and the findings' check ids and severities (not their wording or evidence)."""
    folders = [Path(a), Path(b)]
    answers = [{p.parent.relative_to(f).as_posix() for p in f.rglob("result.json")} for f in folders]
    out = [f"only in {folders[i]}: {sid}" for i in (0, 1) for sid in sorted(answers[i] - answers[1 - i])]
    for sid in sorted(answers[0] & answers[1]):
        results = [_comparable(f / sid / "result.json", scores_only) for f in folders]
        if scores_only:
            if results[0] != results[1]:
                out.append(f"{sid}: scores or findings differ")
            continue
        files = [
            sorted(p.relative_to(f / sid).as_posix() for p in (f / sid).rglob("*") if p.is_file())
            for f in folders
        ]
        reports = [
            (f / sid / "report.md").read_text(encoding="utf-8") if (f / sid / "report.md").is_file() else None
            for f in folders
        ]
        for what, pair in (("result.json", results), ("files", files), ("report.md", reports)):
            if pair[0] != pair[1]:
                out.append(f"{sid}: {what} differs")
    return out


def _comparable(path: Path, scores_only: bool = False) -> dict[str, Any]:
    data = read_json_object(path) or {}
    if scores_only:
        findings = sorted((f["check"], f["severity"]) for f in data.get("findings") or [])
        keys = ("status", "total", "scores")
        return {
            **{k: data.get(k) for k in keys},
            "synth": (data.get("synth") or {}).get("status"),
            "findings": findings,
        }
    synth = {k: v for k, v in (data.get("synth") or {}).items() if k not in _TIMING_FIELDS}
    attempts = [{k: v for k, v in a.items() if k not in _TIMING_FIELDS} for a in synth.get("attempts") or []]
    return {**data, "synth": {**synth, "attempts": attempts}}


def _manifest(raw: dict[str, Any], folder: Path) -> RunManifest:
    try:
        return RunManifest.model_validate(raw)
    except ValidationError:
        # A run written by a newer iacgrade may carry fields this one does not know: keep ours.
        known = {k: v for k, v in raw.items() if k in RunManifest.model_fields}
        try:
            return RunManifest.model_validate(known)
        except ValidationError as exc:
            raise RunError(f"{folder}/run.json: not a run manifest: {exc.errors()[0]['msg']}") from exc


def _read_tables(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    if (folder / "results.parquet").is_file() and (folder / "findings.parquet").is_file():
        try:
            results = pd.read_parquet(folder / "results.parquet")
            return _role_column(results), pd.read_parquet(folder / "findings.parquet")
        except (OSError, ValueError):
            pass  # fall through to the CSV
    if (folder / "results.csv").is_file() and (folder / "findings.csv").is_file():
        results = _role_column(pd.read_csv(folder / "results.csv", keep_default_na=False, na_values=[""]))
        findings = pd.read_csv(folder / "findings.csv", keep_default_na=False, na_values=[""])
        return (results_frame(_records(results)), findings_frame(_records(findings)))
    return _tables_from_results(folder)


def _role_column(results: pd.DataFrame) -> pd.DataFrame:
    """Tables from before kinds of answer said the role (model, ideal) in ``kind``; all were CDK Python."""
    if "role" in results.columns or "kind" not in results.columns:
        return results
    return results.assign(role=results["kind"], kind="cdk-python")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in df.to_dict("records")
    ]


def _tables_from_results(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    results = list(iter_results(folder))
    return (
        results_frame([result_row(r) for r in results]),
        findings_frame([row for r in results for row in finding_rows(r)]),
    )


def _round(value: float) -> float:
    return round(float(value), 2)
