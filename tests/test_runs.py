"""Run folders read back: load_run's DataFrames, find_runs, `iacgrade runs`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from graders.runs import RunError, find_runs, load_run, run_summary
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
