"""compare: paired deltas with t intervals, regressions, finding and synth changes, the CI gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from graders.compare import EXIT_REGRESSION, compare_runs, comparison_markdown, t_quantile
from graders.runs import load_run
from tests.run_factory import corpus_like, make_result, rubric, write_run

runner = CliRunner()


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 12.7062), (2, 4.3027), (5, 2.5706), (10, 2.2281), (30, 2.0423), (1_000_000, 1.9600)],
)
def test_t_quantile(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=1e-4)


def test_identical_runs_pass_the_gate(tmp_path: Path) -> None:
    r = rubric()
    base = write_run(tmp_path / "base", corpus_like(r))
    new = write_run(tmp_path / "new", corpus_like(r))
    result = runner.invoke(
        app, ["compare", str(base), str(new), "--fail-on-regression", "--json", str(tmp_path / "c.json")]
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "c.json").read_text())
    total = next(s for s in data["stats"] if s["metric"] == "total")
    assert total["mean_delta"] == 0 and total["ci_low"] == 0 and total["ci_high"] == 0
    assert not data["regression"] and not data["regressed_most"] and not data["check_changes"]


def test_a_raised_severity_is_a_regression(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", corpus_like(rubric()), label="rubric-v1")
    # The same answers regraded under a rubric where unused-import is critical instead of low.
    new = write_run(tmp_path / "new", corpus_like(rubric(unused_import="critical")), label="rubric-v2")
    result = runner.invoke(
        app, ["compare", str(base), str(new), "--fail-on-regression", "--out", str(tmp_path / "c.md")]
    )
    assert result.exit_code == EXIT_REGRESSION, result.output
    text = (tmp_path / "c.md").read_text()
    assert "REGRESSION" in text and "## Answers that regressed most" in text
    c = compare_runs(load_run(base), load_run(new))
    syntax = c.stat("syntax")
    assert syntax.mean_delta == pytest.approx(-46.0) and syntax.ci_high is not None and syntax.ci_high < 0
    assert c.stat("security").mean_delta == 0
    assert c.regression and c.paired == 12
    assert [(x.check, x.base, x.new) for x in c.severity_changes] == [("unused-import", "low", "critical")]
    assert "## Rubric severity changes" in text
    # A drop smaller than the threshold does not fail the gate.
    lenient = runner.invoke(
        app, ["compare", str(base), str(new), "--fail-on-regression", "--threshold", "50"]
    )
    assert lenient.exit_code == 0
    # Without the flag the report is written and the exit is 0.
    assert runner.invoke(app, ["compare", str(base), str(new)]).exit_code == 0


def test_findings_and_synth_changes_and_pairing(tmp_path: Path) -> None:
    r = rubric()
    base = write_run(
        tmp_path / "base",
        [
            make_result("t1/lib/MODEL_RESPONSE", [("iam-wildcard-action", "RoleA", 10)], r, task_id="t1"),
            make_result("t2/lib/MODEL_RESPONSE", [], r, task_id="t2", synth="failed"),
            make_result("old/t3", [], r, task_id="t3"),
            make_result("gone", [], r),
        ],
    )
    new = write_run(
        tmp_path / "new",
        [
            make_result("t1/lib/MODEL_RESPONSE", [("iam-wildcard-action", "RoleB", 10)], r, task_id="t1"),
            make_result("t2/lib/MODEL_RESPONSE", [("tags-missing", None, None)], r, task_id="t2"),
            make_result("new/t3", [("unused-import", None, 3)], r, task_id="t3"),
            make_result("added", [], r),
        ],
    )
    c = compare_runs(load_run(base), load_run(new))
    assert c.paired == 3 and c.paired_by == {"sample_id": 2, "task_kind": 1}
    assert c.only_base == ["gone"] and c.only_new == ["added"]
    changes = {(f.sample_id, f.check, f.where, f.change) for f in c.finding_changes}
    assert ("t1/lib/MODEL_RESPONSE", "iam-wildcard-action", "RoleB", "appeared") in changes
    assert ("t1/lib/MODEL_RESPONSE", "iam-wildcard-action", "RoleA", "disappeared") in changes
    assert ("new/t3", "unused-import", "lib/tap_stack.py", "appeared") in changes
    assert [(s.base, s.new, s.count) for s in c.synth_changes] == [("failed", "ok", 1)]
    md = comparison_markdown(c)
    assert "## Synth status changes" in md and "RoleB" in md and "too few" not in md
