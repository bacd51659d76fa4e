"""The report's section on the task reviewer's claims quotes the answer's own lines on each
topic no check confirmed, so a reader can see whether the claim holds."""

from __future__ import annotations

from pathlib import Path

from graders.models import SampleResult, SynthResult
from graders.reviewer import answer_lines, answer_settings
from graders.rubric import load_rubric
from reports.markdown import render_report

_STACK = """\
import os
from aws_cdk import aws_apigateway as apigw

def build(stack, handler):
    # throttling_rate_limit in a comment is not a setting
    return apigw.LambdaRestApi(
        stack, "Api", handler=handler,
        deploy_options=apigw.StageOptions(throttling_rate_limit=100, throttling_burst_limit=200),
    )

ENV = {"region": os.getenv("CDK_DEFAULT_REGION", "us-east-1")}
"""


def test_answer_settings_quotes_code_lines_not_comments(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "api.py").write_text(_STACK)
    lines = answer_lines(tmp_path)
    seen = answer_settings(lines, "throttling")
    assert seen == [
        "`deploy_options=apigw.StageOptions(throttling_rate_limit=100, throttling_burst_limit=200),` (lib/api.py:8)"
    ]
    assert answer_settings(lines, "region")[0].endswith("(lib/api.py:11)")
    assert answer_settings(lines, "imports") == []  # no pattern for that topic
    assert answer_settings(answer_lines(tmp_path / "missing"), "region") == []


def test_unconfirmed_claims_show_what_the_answer_has(tmp_path: Path) -> None:
    files = tmp_path / "files"
    (files / "lib").mkdir(parents=True)
    (files / "lib" / "api.py").write_text(_STACK)
    result = SampleResult(
        sample_id="Pr1/lib/MODEL_RESPONSE", source="x.md", status="graded", role="model",
        synth=SynthResult(status="ok"),
    )  # fmt: skip
    reviewer = (
        "## Failures\n- No throttling limits are configured for API Gateway.\n- CORS allows all origins.\n"
    )
    text = render_report(result, load_rubric(), reviewer_text=reviewer, files_dir=files)
    section = text[text.index("## The task reviewer's claims") :]
    assert "Not found in this answer: throttling, CORS." in " ".join(section.split())
    assert "- throttling: `deploy_options=apigw.StageOptions(throttling_rate_limit=100" in section
    assert "(lib/api.py:8)" in section


def test_missing_imports_are_not_confirmed_by_an_unused_import() -> None:
    from graders.reviewer import confirming_checks

    missing = "- **Missing Imports**: the answer does not import aws_cdk.Tags and aws_cdk.aws_logs."
    assert "unused-import" not in confirming_checks("imports", missing)
    assert "undefined-name" in confirming_checks("imports", missing)
    unused = "- The stack has unused imports (json, os)."
    assert confirming_checks("imports", unused) == frozenset({"unused-import"})
    vague = "- Imports are disorganised."
    assert {"unused-import", "undefined-name"} <= confirming_checks("imports", vague)
