"""Run folders read back: load_run's DataFrames, find_runs, `iacgrade runs`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iacgrade.cli import app
from iacgrade.graders.models import WorkerInfo
from iacgrade.graders.runs import RunError, find_runs, load_run, result_differences, run_summary
from tests.run_factory import corpus_like, rubric, write_run


def test_load_run_reads_parquet_then_csv(tmp_path: Path) -> None:
    results = corpus_like(rubric(), 6)
    folder = write_run(tmp_path / "r1", results, label="model-a")
    run = load_run(folder)
    assert run.name == "model-a" and len(run.results) == 6
    assert run.results["total"].dtype == "float64"
    assert len(run.findings) == sum(len(r.findings) for r in results)
    for name in ("results.parquet", "findings.parquet"):
        (folder / name).unlink()
    from_csv = load_run(folder / "run.json")
    assert list(from_csv.results["sample_id"]) == list(run.results["sample_id"])
    assert from_csv.results["total"].tolist() == run.results["total"].tolist()
    assert str(from_csv.findings["md_line"].dtype) == "Int64"
    assert run.result(results[0].sample_id) == results[0]


def test_unfinished_run_is_read_from_its_results(tmp_path: Path) -> None:
    results = corpus_like(rubric(), 4)
    folder = write_run(tmp_path / "r", results, finished=False)
    (folder / "results.csv").write_text("sample_id\n")  # stale tables of a killed run
    run = load_run(folder)
    assert len(run.results) == 4


def test_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(RunError):
        load_run(tmp_path)


def test_find_runs_and_summary(tmp_path: Path) -> None:
    r = rubric()
    write_run(tmp_path / "runs" / "b", corpus_like(r, 3), label="b")
    write_run(tmp_path / "runs" / "a", corpus_like(r, 5), label="a")
    found = find_runs([tmp_path / "runs"])
    assert [p.name for p in found] == ["a", "b"]
    assert find_runs([tmp_path / "runs" / "b", tmp_path / "runs"]) == [found[1], found[0]]
    summary = run_summary(load_run(found[0]))
    assert summary["samples"] == 5 and summary["label"] == "a" and summary["mean_total"] is not None


def test_runs_command(tmp_path: Path) -> None:
    write_run(tmp_path / "x", corpus_like(rubric(), 3), label="lbl")
    result = CliRunner().invoke(app, ["runs", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.strip().splitlines()]
    assert rows[0]["label"] == "lbl" and rows[0]["samples"] == 3
    table = CliRunner().invoke(app, ["runs", str(tmp_path)])
    assert table.exit_code == 0 and "lbl" in table.output


def test_result_differences_ignores_timings_and_names_what_differs(tmp_path: Path) -> None:
    results = corpus_like(rubric(), 4)
    a = write_run(tmp_path / "a", results)
    slower = [r.model_copy(deep=True) for r in results]
    for r in slower:
        r.synth.seconds += 3.0
        r.synth.worker = WorkerInfo(id=7, jobs=40)
    b = write_run(tmp_path / "b", slower)
    assert result_differences(a, b) == []

    changed = [r.model_copy(deep=True) for r in results]
    graded = next(r for r in changed if r.findings)
    graded.findings[0].message += " (worded otherwise)"
    c = write_run(tmp_path / "c", changed)
    assert result_differences(a, c) == [
        f"{graded.sample_id}: result.json differs",
        f"{graded.sample_id}: report.md differs",  # the report quotes the message
    ]
    assert result_differences(a, c, scores_only=True) == []  # same check ids, severities, totals
    graded.findings.pop()
    c = write_run(tmp_path / "c2", changed)
    assert result_differences(a, c, scores_only=True) == [f"{graded.sample_id}: scores or findings differ"]


def test_infra_errors_are_counted_apart_and_kept_out_of_the_mean(tmp_path: Path) -> None:
    results = corpus_like(rubric(), 4)
    broken = results[0].model_copy(update={"status": "infra_error", "total": None, "error": "node lost"})
    run = load_run(write_run(tmp_path / "r", [broken, *results[1:]]))
    summary = run_summary(run)
    assert summary["infra_errors"] == 1 and summary["errors"] == 0 and summary["graded"] == 3
    graded_totals = [r.total for r in results[1:] if r.status == "graded" and r.total is not None]
    assert summary["mean_total"] == pytest.approx(sum(graded_totals) / len(graded_totals), abs=0.01)
