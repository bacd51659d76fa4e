"""compare: paired deltas with t intervals, regressions, finding and synth changes, the CI gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iacgrade.cli import app
from iacgrade.graders.compare import EXIT_REGRESSION, compare_runs, t_quantile
from iacgrade.graders.runs import load_run
from iacgrade.reports.comparison import comparison_markdown
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
    base = write_run(tmp_path / "base", corpus_like(rubric()), label="rubric-v1", graded_with=rubric())
    # The same answers regraded under a rubric where unused-import is critical instead of low.
    raised = rubric(unused_import="critical")
    new = write_run(tmp_path / "new", corpus_like(raised), label="rubric-v2", graded_with=raised)
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
    assert c.paired == 3 and c.paired_by == {"sample_id": 2, "prompt_kind": 0, "task_kind": 1}
    assert c.only_base == ["gone"] and c.only_new == ["added"]
    assert c.lost == ["gone"] and c.regression  # BASE graded it; NEW has nothing to pair with it
    changes = {(f.sample_id, f.check, f.where, f.change) for f in c.finding_changes}
    assert ("t1/lib/MODEL_RESPONSE", "iam-wildcard-action", "RoleB", "appeared") in changes
    assert ("t1/lib/MODEL_RESPONSE", "iam-wildcard-action", "RoleA", "disappeared") in changes
    assert ("new/t3", "unused-import", "lib/tap_stack.py", "appeared") in changes
    assert [(s.base, s.new, s.count) for s in c.synth_changes] == [("failed", "ok", 1)]
    md = comparison_markdown(c)
    assert "## Synth status changes" in md and "RoleB" in md and "too few" not in md


def test_answers_lost_in_new_fail_the_gate_without_a_score_drop(tmp_path: Path) -> None:
    """Answers NEW can no longer grade (errors) or lacks are worse, not left out of the means."""
    r = rubric()
    answers = corpus_like(r)
    base = write_run(tmp_path / "base", answers)
    broken = [
        make_result(a.sample_id, [], r, status="error", task_id=a.task_id) if i < 3 else a
        for i, a in enumerate(answers)
    ]
    new = write_run(tmp_path / "new", broken)
    c = compare_runs(load_run(base), load_run(new))
    assert c.stat("total").mean_delta == 0  # the answers left score the same
    assert c.lost == sorted(a.sample_id for a in answers[:3]) and c.regression
    assert c.verdict.startswith("REGRESSION: 3 answer(s)")
    assert "## Answers lost and recovered" in comparison_markdown(c)
    gate = runner.invoke(app, ["compare", str(base), str(new), "--fail-on-regression"])
    assert gate.exit_code == EXIT_REGRESSION, gate.output
    # the other way round they are recovered, which is no regression
    back = compare_runs(load_run(new), load_run(base))
    assert back.lost == [] and len(back.recovered) == 3 and not back.regression
    # a NEW run with nothing in it lost everything
    empty = write_run(tmp_path / "empty", [])
    assert (
        runner.invoke(app, ["compare", str(base), str(empty), "--fail-on-regression"]).exit_code
        == EXIT_REGRESSION
    )


def test_answers_pair_by_prompt_when_ids_and_tasks_differ(tmp_path: Path) -> None:
    r = rubric()
    base_results, new_results = [], []
    for n in range(3):
        digest = f"{n:016x}"
        base_results.append(
            make_result(f"modelA/task{n}", [], r, task_id=f"A{n}").model_copy(
                update={"prompt_digest": digest}
            )
        )
        new_results.append(
            make_result(
                f"modelB/renamed-{n}/response", [("unused-import", None, 3)], r, task_id=f"B{n}"
            ).model_copy(update={"prompt_digest": digest})
        )
    c = compare_runs(
        load_run(write_run(tmp_path / "a", base_results)), load_run(write_run(tmp_path / "b", new_results))
    )
    assert c.paired == 3 and c.paired_by == {"sample_id": 0, "prompt_kind": 3, "task_kind": 0}
    assert ("modelA/task1", "modelB/renamed-1/response") in {(d.base_id, d.new_id) for d in c.regressed_most}


def test_unscored_notes_are_not_read_as_a_rubric_change(tmp_path: Path) -> None:
    """A check that lowers some findings to info notes (the prompt asks for it) keeps its severity."""
    r = rubric()
    base = corpus_like(r)
    new = corpus_like(r)
    first = new[0]
    note = first.findings[0].model_copy(update={"severity": "info"})
    new[0] = first.model_copy(update={"findings": [note, *first.findings[1:]]})
    runs = [load_run(write_run(tmp_path / name, rs)) for name, rs in (("base", base), ("new", new))]
    assert compare_runs(*runs).severity_changes == []
    recorded = [
        load_run(write_run(tmp_path / f"{name}2", rs, graded_with=r))
        for name, rs in (("base", base), ("new", new))
    ]
    assert compare_runs(*recorded).severity_changes == []


def test_json_on_stdout_and_through_a_symlink(tmp_path: Path) -> None:
    r = rubric()
    base = write_run(tmp_path / "base", corpus_like(r))
    new = write_run(tmp_path / "new", corpus_like(r))
    shown = runner.invoke(app, ["compare", str(base), str(new), "--json", "-"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["paired"] == 12  # the JSON alone on stdout, no markdown
    target = tmp_path / "kept" / "compare.json"
    target.parent.mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(target)
    written = runner.invoke(
        app, ["compare", str(base), str(new), "--json", str(link), "--out", str(tmp_path / "c.md")]
    )
    assert written.exit_code == 0, written.output
    assert link.is_symlink() and json.loads(target.read_text())["paired"] == 12


def test_runs_on_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["runs", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no such file or folder" in result.output


def test_markdown_lists_each_change_and_cuts_long_lists_at_fifty(tmp_path: Path) -> None:
    r = rubric()
    base = write_run(
        tmp_path / "base",
        [make_result(f"s{i:02}", [("unused-import", None, 3)], r) for i in range(60)],
    )
    new = write_run(
        tmp_path / "new",
        [make_result("s00", [("iam-wildcard-action", "RoleB", 10)], r)]
        + [make_result(f"t{i:02}", [], r) for i in range(55)],
        label="next",
    )
    c = compare_runs(load_run(base), load_run(new))
    lines = comparison_markdown(c).splitlines()
    assert lines[0] == f"# Run comparison: next vs {c.base['run_id']}"
    assert (
        f"| BASE |  `{c.base['run_id']}` | {c.base['started']} | {c.base['rubric_version']} | 60 |" in lines
    )
    assert (
        "1 answers paired (1 by sample id, 0 by prompt and kind, 0 by task and kind); 59 only in BASE, 55 only in NEW."
        in lines
    )
    total = next(line for line in lines if line.startswith("| total |"))
    assert total.endswith("| – |")  # one pair: no interval
    assert sum(line.startswith("- lost: ") for line in lines) == 50
    assert "- ... (59 lost, 0 recovered in all; the JSON lists every one)" in lines
    assert sum(line.startswith("- only in BASE: ") for line in lines) == 50
    assert sum(line.startswith("- only in NEW: ") for line in lines) == 50
    assert "- appeared: `s00` iam-wildcard-action at `RoleB`" in lines
    assert "- disappeared: `s00` unused-import at `lib/tap_stack.py`" in lines
    assert lines[-1] == "- only in NEW: `t49`"
