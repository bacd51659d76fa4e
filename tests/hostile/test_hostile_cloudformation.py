"""Hostile CloudFormation answers graded in ONE ``iacgrade grade`` run, beside a good answer.

Each answer is data, not code: an alias bomb, nesting 100,000 deep (YAML and JSON), a 4 MB
scalar, 50,000 resources, a template that is a list / a single value / null, control bytes in a
yaml fence, NUL bytes and invalid UTF-8. Every one must get a result whose message names what
happened, never a 100 in a category that could not be judged, while the good answer is graded as
usual and the run ends as a run (exit 0, its failures counted), not a crash. Time is bounded by the
parse limits of graders/kinds/cfn_parse.py (MAX_TEMPLATE_BYTES, MAX_DEPTH, MAX_RESOURCES,
MAX_KEYS, MAX_NODES), not by a timed assertion here. The small answers are committed in
``cfn_answers/``; the large and binary ones are written here, into the run's folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from iacgrade.graders.kinds.cfn_parse import MAX_DEPTH, MAX_RESOURCES, MAX_TEMPLATE_BYTES
from tests.hostile import harness as h

ANSWERS = Path(__file__).resolve().parent / "cfn_answers"
_HEAD = "# The stack\n\nHere is the template.\n\n"


def _fenced(template: str, info: str = "yaml") -> str:
    return f"{_HEAD}```{info}\n{template}```\n\nDeploy it with `aws cloudformation deploy`.\n"


def _write_generated(folder: Path) -> None:
    depth = 100_000
    (folder / "deep_yaml_RESPONSE.md").write_text(
        _fenced(
            "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Deep:\n    Type: AWS::S3::Bucket\n"
            "    Metadata:\n      Lists: " + "[" * depth + "]" * depth + "\n"
            "      Maps: " + "{a: " * depth + "1" + "}" * depth + "\n"
        )
    )
    (folder / "deep_json_RESPONSE.md").write_text(
        _fenced(
            '{\n  "AWSTemplateFormatVersion": "2010-09-09",\n  "Resources": {\n    "Deep": {\n'
            '      "Type": "AWS::S3::Bucket",\n      "Metadata": '
            + '{"a": ' * depth
            + "1"
            + "}" * depth
            + "\n"
            "    }\n  }\n}\n",
            "json",
        )
    )
    (folder / "huge_scalar_RESPONSE.md").write_text(
        _fenced(
            "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Big:\n    Type: AWS::S3::Bucket\n"
            "    Metadata:\n      Blob: " + "x" * (4 * 1024 * 1024) + "\n"
        )
    )
    # Under MAX_TEMPLATE_BYTES, so the resource limit is the one met.
    resources = "".join(f"  Q{i}:\n    Type: AWS::SQS::Queue\n" for i in range(50_000))
    (folder / "many_resources_RESPONSE.md").write_text(
        _fenced(f"AWSTemplateFormatVersion: '2010-09-09'\nResources:\n{resources}")
    )
    bucket = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Logs:\n    Type: AWS::S3::Bucket\n"
    control = bucket + "    Properties:\n      BucketName: logs-\x01\x02\x1b-bucket\n"
    (folder / "control_bytes_RESPONSE.md").write_text(_fenced(control))
    head = _fenced(bucket + "    Properties:\n      BucketName: logs-").encode()
    (folder / "nul_bytes_RESPONSE.md").write_bytes(head.replace(b"logs-", b"logs-\x00\x00\xff\xfe"))
    invalid = _fenced(bucket + "    Properties:\n      BucketName: logs-@@-bucket\n").encode()
    (folder / "invalid_utf8_RESPONSE.md").write_bytes(invalid.replace(b"@@", b"\xc3\x28\xff"))


# answer -> (result status, synth status, substring of the synth message); None: not checked.
EXPECTED: dict[str, tuple[str, str | None, str | None]] = {
    "alias_bomb": ("graded", "failed", "once its YAML aliases are expanded: too many aliases"),
    "deep_yaml": ("graded", "failed", f"nested deeper than {MAX_DEPTH} levels"),
    "deep_json": ("graded", "failed", f"nested deeper than {MAX_DEPTH} levels"),
    "huge_scalar": ("graded", "failed", f"over the {MAX_TEMPLATE_BYTES:,} bytes"),
    "many_resources": ("graded", "failed", f"more than {MAX_RESOURCES:,} resources"),
    "template_is_a_list": ("graded", "failed", "the template is a list, not a mapping"),
    "template_is_a_scalar": ("graded", "failed", "the template is a single value (text), not a mapping"),
    "template_is_null": ("graded", "failed", "the template is null (an empty document), not a mapping"),
    "control_bytes": ("graded", "failed", "the template holds the control character 0x0001"),
    "nul_bytes": ("error", None, None),
    "invalid_utf8": ("graded", "ok", None),
    "zz_good": ("graded", "ok", None),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> h.Run:
    tmp = tmp_path_factory.mktemp("hostile-cfn")
    folder = tmp / "answers"
    folder.mkdir()
    for src in ANSWERS.glob("*_RESPONSE.md"):
        shutil.copy(src, folder / src.name)
    _write_generated(folder)
    args = [str(folder), "--kind", "cloudformation-yaml", "--workers", "2", "--timeout", "60"]
    return h.Run(args, tmp / "out").start(h.grader_env()).wait(900)


def _result(run: h.Run, name: str) -> dict[str, Any]:
    return run.result(f"{name}_RESPONSE")


def test_every_answer_has_an_expectation() -> None:
    names = {p.name.removesuffix("_RESPONSE.md") for p in ANSWERS.glob("*_RESPONSE.md")}
    assert names <= set(EXPECTED) and len(EXPECTED) == len(names) + 7


def test_the_run_ends_as_a_run_with_its_failures_counted(run: h.Run) -> None:
    assert run.proc is not None and run.proc.returncode == 0, run.stderr[-3000:]
    summary = run.summary()
    assert summary["samples"] == len(EXPECTED), summary
    assert summary["error"] == 1 and summary["graded"] == len(EXPECTED) - 1, (
        summary
    )  # NUL bytes: not markdown
    failed = sum(e[1] == "failed" for e in EXPECTED.values())
    assert summary["synth_failed"] == failed and summary["synth_timeout"] == 0, summary
    assert json.loads((run.out / "run.json").read_text())["finished"]
    assert len((run.out / "results.csv").read_text().splitlines()) == len(EXPECTED) + 1


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_answer_gets_a_clear_result(run: h.Run, name: str) -> None:
    status, synth_status, message = EXPECTED[name]
    result = _result(run, name)
    assert result["status"] == status, result.get("error") or result["synth"]
    if status == "error":
        assert "binary file" in result["error"], result["error"]
        return
    synth = result["synth"]
    assert synth["status"] == synth_status, synth
    if synth_status != "failed":
        return
    assert message is not None and message in synth["message"], synth["message"]
    assert synth["cause"] == "syntax" and synth["file"] in ("template.yaml", "template.json"), synth
    # The parse failure is named twice: the file that does not parse, and the failed build.
    findings = {f["check"]: f["message"] for f in result["findings"]}
    assert message in findings["parse-error"] and message in findings["synth-failed"], findings


def test_a_control_byte_is_reported_on_its_line(run: h.Run) -> None:
    synth = _result(run, "control_bytes")["synth"]
    assert (synth["file"], synth["line"]) == ("template.yaml", 6), synth


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e[1] == "failed"))
def test_an_unread_template_scores_no_category_it_could_not_judge(run: h.Run, name: str) -> None:
    result = _result(run, name)
    scores = {c["category"]: c["score"] for c in result["categories"]}
    for category in ("security", "performance", "best_practices"):
        assert scores[category] is None, scores  # nothing but the template could be judged
    assert scores["syntax"] < 100 and scores["deployment"] < 100, scores
    assert result["total"] is not None and result["total"] < 100


def test_the_good_answer_is_graded_as_usual(run: h.Run) -> None:
    result = _result(run, "zz_good")
    assert result["synth"]["stacks"] == ["template"], result["synth"]
    scores = {c["category"]: c["score"] for c in result["categories"]}
    assert None not in scores.values() and scores["syntax"] == 100, scores
    assert result["total"] >= 80, result["total"]
    checks = {f["check"] for f in result["findings"]}
    assert not checks & {"synth-failed", "parse-error"}, checks


def test_invalid_utf8_is_graded_with_a_warning(run: h.Run) -> None:
    result = _result(run, "invalid_utf8")
    assert any("invalid UTF-8" in w for w in result["warnings"]), result["warnings"]
    assert result["synth"]["status"] == "ok" and result["synth"]["stacks"] == ["template"]
