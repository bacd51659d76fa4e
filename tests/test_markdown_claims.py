"""The task reviewer's claims: judged in the pipeline and saved in result.json, rendered by the
report, which quotes the answer's own lines on each topic no check confirmed so a reader can see
whether the claim holds. report.md is rendered from result.json alone."""

from __future__ import annotations

import shutil
from pathlib import Path

from iacgrade.graders.models import Evidence, ExtractedFile, Finding, SampleResult, SynthResult
from iacgrade.graders.pipeline import GradeOptions, grade
from iacgrade.graders.reviewer import confirming_checks, judge_claims
from iacgrade.graders.rubric import load_rubric
from iacgrade.graders.store import read_result
from iacgrade.reports.markdown import render_report
from iacgrade.reports.writers import run_writers

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

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

_REVIEW = "## Failures\n- No throttling limits are configured for API Gateway.\n- CORS allows all origins.\n"


def _file(path: str, content: str, line: int = 10) -> ExtractedFile:
    return ExtractedFile(path=path, language="python", line=line, path_source="heading", content=content)


def _cors_finding() -> Finding:
    return Finding(check="cors-allow-all", category="security", severity="medium", title="CORS", message="*")


def test_unconfirmed_claims_quote_code_lines_not_comments() -> None:
    claims = judge_claims(_REVIEW, [], [_file("lib/api.py", _STACK)])
    assert [(c.topic, c.confirmed, c.checks) for c in claims] == [
        ("throttling", False, ["api-throttling-missing"]),
        ("CORS", False, ["cors-allow-all"]),
    ]
    [seen] = claims[0].seen
    assert seen == Evidence(
        file="lib/api.py",
        line=8,
        md_line=18,
        value="deploy_options=apigw.StageOptions(throttling_rate_limit=100, throttling_burst_limit=200),",
    )
    assert claims[1].seen == []  # the answer has no CORS setting to quote


def test_a_confirmed_claim_names_its_checks_and_quotes_nothing() -> None:
    claims = judge_claims(_REVIEW, [_cors_finding()], [_file("lib/api.py", _STACK)])
    cors = next(c for c in claims if c.topic == "CORS")
    assert cors.confirmed and cors.confirmed_by == ["cors-allow-all"] and cors.seen == []
    assert judge_claims(None, [_cors_finding()], []) == [] and judge_claims("", [], []) == []


def test_seen_lines_follow_the_files_in_folder_order_and_stop_at_three() -> None:
    """Python files only, in path order part by part (``lib/a/b.py`` before ``lib/a.py``, as the
    report quoted them when it walked the saved files), at most three lines."""
    retention = "logs.LogGroup(self, 'L', retention=logs.RetentionDays.ONE_WEEK)\n"
    files = [
        _file("lib/a.py", retention),
        _file("lib/a/b.py", "# retention=1\n" + retention * 2),
        _file("cdk.json", retention),
        _file("lib/c.py", retention),
    ]
    [claim] = judge_claims("- Log retention is not set.", [], files)
    assert [(e.file, e.line) for e in claim.seen] == [("lib/a/b.py", 2), ("lib/a/b.py", 3), ("lib/a.py", 1)]


def test_the_report_renders_the_claims_the_result_holds() -> None:
    result = SampleResult(
        sample_id="Pr1/lib/MODEL_RESPONSE", source="x.md", status="graded", role="model",
        synth=SynthResult(status="ok"),
        reviewer_claims=judge_claims(_REVIEW, [], [_file("lib/api.py", _STACK)]),
    )  # fmt: skip
    text = render_report(result, load_rubric())
    section = text[text.index("## The task reviewer's claims") :]
    assert "Not found in this answer: throttling, CORS." in " ".join(section.split())
    assert (
        "- throttling: `deploy_options=apigw.StageOptions(throttling_rate_limit=100, "
        "throttling_burst_limit=200),` (lib/api.py:8)\n" in section
    )
    assert "- CORS:" not in section
    # The same result without claims renders no such section: nothing else is read.
    assert "reviewer's claims" not in render_report(
        result.model_copy(update={"reviewer_claims": []}), load_rubric()
    )


def test_report_md_is_rendered_from_result_json_alone(tmp_path: Path) -> None:
    """Grade a task (MODEL answer with a reviewer's report, IDEAL reference), take away the task
    folder and the extracted files, and render each report again from the result.json files
    read back: the same report.md, byte for byte."""
    lib = tmp_path / "Pr1" / "lib"
    lib.mkdir(parents=True)
    (lib.parent / "metadata.json").write_text('{"platform": "cdk", "language": "py"}')
    # The good answer as MODEL, so the reviewer's claims go unconfirmed and its code is quoted.
    shutil.copy(SAMPLES / "good_api_RESPONSE.md", lib / "MODEL_RESPONSE.md")
    shutil.copy(SAMPLES / "flawed_api_RESPONSE.md", lib / "IDEAL_RESPONSE.md")
    (lib / "MODEL_FAILURES.md").write_text(
        "- Unused imports.\n- CORS allows every origin.\n- No throttling.\n"
        "- The Lambda functions have no log retention and no X-Ray tracing.\n"
    )
    out = tmp_path / "out"
    options = GradeOptions(out=out, workers=1, synth=False, use_cache=False)
    grade([tmp_path / "Pr1"], options, writers=run_writers())
    shutil.rmtree(tmp_path / "Pr1")
    for files in out.glob("**/files"):
        shutil.rmtree(files)

    reports = sorted(out.glob("**/report.md"))
    assert [p.parent.relative_to(out).as_posix() for p in reports] == [
        "lib/IDEAL_RESPONSE",
        "lib/MODEL_RESPONSE",
    ]
    for path in reports:
        result = read_result(path.parent / "result.json")
        assert result is not None
        reference = read_result(out / result.reference_id / "result.json") if result.reference_id else None
        again = render_report(
            result, load_rubric(), reference=reference, reference_in_run=reference is not None
        )
        assert again == path.read_text(), path
    model = reports[1].read_text()
    assert "## The task reviewer's claims" in model and "## Compared with the reference answer" in model
    assert "- tracing: `tracing=_lambda.Tracing.ACTIVE,` (lib/orders_stack.py:38)" in model


def test_missing_imports_are_not_confirmed_by_an_unused_import() -> None:
    missing = "- **Missing Imports**: the answer does not import aws_cdk.Tags and aws_cdk.aws_logs."
    assert "unused-import" not in confirming_checks("imports", missing)
    assert "undefined-name" in confirming_checks("imports", missing)
    unused = "- The stack has unused imports (json, os)."
    assert confirming_checks("imports", unused) == frozenset({"unused-import"})
    vague = "- Imports are disorganised."
    assert {"unused-import", "undefined-name"} <= confirming_checks("imports", vague)
