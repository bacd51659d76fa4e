"""The command line, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iacgrade.cli import app
from iacgrade.graders.checks import registry

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def test_every_command_has_help() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help and command.help.strip(), f"command {name} has no help text"
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output


def test_explain_every_check() -> None:
    for check_id in registry():
        result = runner.invoke(app, ["explain", check_id])
        assert result.exit_code == 0, result.output
        assert "What it finds:" in result.output and "Fix:" in result.output


def test_explain_unknown_check() -> None:
    result = runner.invoke(app, ["explain", "no-such-check"])
    assert result.exit_code == 1


def test_grade_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["grade", str(tmp_path / "absent"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "no such file" in " ".join(result.output.split())  # rich may wrap long paths


def test_grade_bad_rubric_fails_before_work(tmp_path: Path) -> None:
    bad = tmp_path / "rubric.yaml"
    bad.write_text("version: 1\ncategories: {}\n")
    out = tmp_path / "o"
    result = runner.invoke(app, ["grade", str(ROOT / "samples"), "--out", str(out), "--rubric", str(bad)])
    assert result.exit_code == 2
    flat = "".join(result.output.split())
    assert "rubricerror" in flat and "".join(str(bad).split()) in flat
    assert not (out / "results.csv").exists()


def test_grade_bad_scaffold(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "grade",
            str(ROOT / "samples"),
            "--out",
            str(tmp_path / "o"),
            "--scaffold",
            str(tmp_path / "missing"),
        ],
    )
    assert result.exit_code == 2 and "--scaffold" in " ".join(result.output.split())


def test_grade_source_only_writes_contract_outputs(tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = runner.invoke(app, ["grade", str(ROOT / "samples"), "--out", str(out), "--no-synth", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["samples"] == len(list((ROOT / "samples").glob("*RESPONSE*.md")))
    for name in ("results.csv", "findings.csv", "run.json"):
        assert (out / name).exists()
    for sample in (ROOT / "samples").glob("*RESPONSE*.md"):
        sid = sample.stem
        data = json.loads((out / sid / "result.json").read_text())
        assert data["sample_id"] == sid and data["status"] in ("graded", "error")
        assert {"files", "synth", "findings", "scores", "total", "grader_version", "rubric_version"} <= set(
            data
        )
        assert (out / sid / "report.md").read_text().startswith("# ")


@pytest.mark.parametrize("fmt", ["nope"])
def test_grade_unknown_format(tmp_path: Path, fmt: str) -> None:
    result = runner.invoke(app, ["grade", str(ROOT / "samples"), "--out", str(tmp_path), "--format", fmt])
    assert result.exit_code != 0
