"""The library API: `from iacgrade import Grader`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iacgrade import Grader
from iacgrade.graders.models import SampleResult

ROOT = Path(__file__).resolve().parent.parent
GOOD = (ROOT / "samples" / "good_api_RESPONSE.md").read_text(encoding="utf-8")
FLAWED = (ROOT / "samples" / "flawed_api_RESPONSE.md").read_text(encoding="utf-8")
NO_CODE = (ROOT / "samples" / "no_code_RESPONSE.md").read_text(encoding="utf-8")


def test_importing_iacgrade_is_cheap() -> None:
    code = (
        "import sys, iacgrade, iacgrade.reward\n"
        "from iacgrade import Grader\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('pandas', 'aws_cdk', 'pyarrow', 'jsii')"
        " or m == 'iacgrade.graders.pipeline']\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_grade_one_answer_without_synth(tmp_path: Path) -> None:
    with Grader(workers=1, synth=False, out=tmp_path) as g:
        result = g.grade(GOOD, prompt="Build an API. Everything must be destroyable.", id="good")
    assert isinstance(result, SampleResult)
    assert result.status == "graded" and result.total is not None and result.files
    assert result.synth.status == "skipped"
    saved = json.loads((tmp_path / "good" / "result.json").read_text())
    assert saved["total"] == result.total  # the same model the CLI saves
    assert result.prompt_digest is not None


def test_grade_many_keeps_order_and_owns_a_temp_folder() -> None:
    rows = [{"response": GOOD, "id": "a"}, FLAWED, {"response": NO_CODE}, {"response": 5}]
    with Grader(workers=2, synth=False) as g:
        out = g.out
        results = list(g.grade_many(rows, in_flight=2))
        assert out.is_dir()
    assert not out.exists()  # the Grader's own folder goes with it
    assert results[0].sample_id == "a" and results[0].files
    assert results[1].status == "graded" and results[1].total is not None
    assert results[2].files == []
    assert results[3].status == "error" and "not a string" in (results[3].error or "")


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_grade_with_a_real_synth(tmp_path: Path) -> None:
    with Grader(workers=1, out=tmp_path, cache=False) as g:
        result = g.grade(GOOD, id="good")
    assert result.status == "graded"
    assert result.synth.status == "ok", result.synth.message


def test_reward_adapters(monkeypatch: pytest.MonkeyPatch) -> None:
    from iacgrade import reward

    monkeypatch.setenv("IACGRADE_REWARD_WORKERS", "1")
    monkeypatch.setenv("IACGRADE_REWARD_SYNTH", "0")
    reward.close()  # one started before would keep its settings
    try:
        good = reward.compute_score("iac", GOOD, None)
        assert isinstance(good, float) and 0.0 < good <= 1.0
        assert reward.compute_score("iac", NO_CODE, None) == reward.FLOOR
        detail = reward.compute_score("iac", GOOD, None, return_dict=True)
        assert isinstance(detail, dict) and detail["score"] == good and 0.0 <= detail["security"] <= 1.0
        chat = [{"role": "user", "content": "build it"}, {"role": "assistant", "content": GOOD}]
        assert reward.reward_fn([GOOD, NO_CODE, chat]) == [good, reward.FLOOR, good]
    finally:
        reward.close()


class _FlakyGrader:
    """A grader whose infrastructure fails on an answer a given number of times, then grades it."""

    def __init__(self, graded: SampleResult, failures: dict[str, int]) -> None:
        self.graded, self.failures, self.calls = graded, dict(failures), 0

    def grade_many(self, rows: list[dict[str, Any]]) -> Iterator[SampleResult]:
        self.calls += 1
        for row in rows:
            if self.failures.get(row["response"], 0) > 0:
                self.failures[row["response"]] -= 1
                yield self.graded.model_copy(update={"status": "infra_error", "reward": None, "total": None})
            else:
                yield self.graded


def test_an_infra_error_is_graded_again_then_left_out_of_the_reward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iacgrade import reward

    with Grader(workers=1, out=tmp_path, cache=False, synth=False) as g:
        graded = g.grade(GOOD, id="good")
    assert graded.status == "graded" and graded.reward is not None
    flaky = _FlakyGrader(graded, {"once": 1, "always": 9})
    monkeypatch.setattr(reward, "_shared_grader", lambda: flaky)
    # "once" fails, is graded again and gets its reward; "always" fails twice and is left out.
    assert reward.reward_fn(["fine", "once", "always"]) == [graded.reward, graded.reward, None]
    assert flaky.calls == 2 and flaky.failures == {"once": 0, "always": 7}
    detail = reward.compute_score("iac", "always", None, return_dict=True)
    assert isinstance(detail, dict) and detail["infra_error"] == 1.0 and detail["score"] == reward.FLOOR
    assert reward.compute_score("iac", "fine", None, return_dict=True)["infra_error"] == 0.0  # type: ignore[index]


def test_the_reward_is_the_same_through_the_cli_the_api_and_compute_score(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from iacgrade import reward
    from iacgrade.cli import app

    answers = {"good": GOOD, "flawed": FLAWED, "none": NO_CODE}
    for name, text in answers.items():
        (tmp_path / f"{name}_RESPONSE.md").write_text(text, encoding="utf-8")
    out = tmp_path / "run"
    ran = CliRunner().invoke(app, ["grade", str(tmp_path), "--out", str(out), "--no-synth", "--no-cache"])
    assert ran.exit_code == 0, ran.output
    table = pd.read_csv(out / "results.csv").set_index("sample_id")["reward"]
    with Grader(workers=1, synth=False, cache=False) as g:
        api = {name: g.grade(text).reward for name, text in answers.items()}
    monkeypatch.setenv("IACGRADE_REWARD_SYNTH", "0")
    reward.close()
    try:
        verl = {name: reward.compute_score("iac", text, None) for name, text in answers.items()}
    finally:
        reward.close()
    cli = {name: float(table[f"{name}_RESPONSE"]) for name in answers}
    assert cli == api == verl
    assert cli["none"] == 0.0 and cli["flawed"] < cli["good"] <= 1.0


def test_the_rubric_sets_the_reward_floor(tmp_path: Path) -> None:
    rubric = tmp_path / "rubric.yaml"
    text = (ROOT / "rubric.yaml").read_text(encoding="utf-8")
    rubric.write_text(text.replace("  floor: 0.0\n", "  floor: 0.05\n"), encoding="utf-8")
    with Grader(rubric, workers=1, synth=False, cache=False) as g:
        assert g.grade(NO_CODE).reward == 0.05
    rubric.write_text(text.replace("  floor: 0.0\n", "  floor: 2\n"), encoding="utf-8")
    with pytest.raises(Exception, match="reward.floor"):
        Grader(rubric, workers=1, synth=False).start()


def test_an_answer_can_bring_its_task_folder(tmp_path: Path) -> None:
    task = tmp_path / "task"
    task.mkdir()
    (task / "cdk.json").write_text(
        '{"app": "python3 tap.py", "context": {"@aws-cdk/core:newStyleStackSynthesis": true}}'
    )
    (task / "tap.py").write_text("import aws_cdk as cdk\napp = cdk.App()\napp.synth()\n")
    with Grader(workers=1, synth=False, cache=False) as g:
        graded = g.grade(GOOD, id="with-task", scaffold=task)
        missing = g.grade(GOOD, id="no-task", scaffold=tmp_path / "nowhere")
    assert graded.status == "graded" and graded.files
    assert missing.status == "error" and "not a folder" in (missing.error or "")
