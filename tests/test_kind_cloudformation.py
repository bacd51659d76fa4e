"""CloudFormation answers: their templates found in the markdown, parsed (bounded), linted and graded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from iacgrade.cli import app
from iacgrade.graders.analysis.cfn import DEFAULTED, written_attribute
from iacgrade.graders.analysis.template import TemplateModel
from iacgrade.graders.checks import CheckContext, run_checks
from iacgrade.graders.extract import extract_files
from iacgrade.graders.kinds import KINDS, BuildSettings, Built, Services, kind_of_metadata
from iacgrade.graders.kinds.cfn_parse import (
    MAX_DEPTH,
    MAX_KEYS,
    MAX_NODES,
    MAX_RESOURCES,
    ParsePool,
    parse_text,
    scan_limits,
)
from iacgrade.graders.kinds.cloudformation import task_region
from iacgrade.graders.models import Extraction, Sample, SynthResult
from iacgrade.graders.rubric import load_rubric

_TEMPLATE = (
    "AWSTemplateFormatVersion: '2010-09-09'\n"
    "Parameters:\n"
    "  Env:\n"
    "    Type: String\n"
    "Resources:\n"
    "  Data:\n"
    "    Type: AWS::S3::Bucket\n"
    "    Properties:\n"
    "      BucketName: !Sub '${AWS::StackName}-data'\n"
    "  Table:\n"
    "    Type: AWS::DynamoDB::Table\n"
    "    Properties:\n"
    "      BillingMode: PAY_PER_REQUEST\n"
    "      AttributeDefinitions:\n"
    "        - AttributeName: id\n"
    "          AttributeType: S\n"
    "      KeySchema:\n"
    "        - AttributeName: id\n"
    "          KeyType: HASH\n"
)
_FENCED = f"Here is the template:\n\n```yaml\n{_TEMPLATE}```\n\nDeploy it with the CLI.\n"


# ---- extraction ----------------------------------------------------------------------------------
def test_an_unnamed_yaml_template_is_extracted_as_template_yaml() -> None:
    files = extract_files(_FENCED).files
    assert [(f.path, f.language, f.line) for f in files] == [("template.yaml", "yaml", 3)]


def test_an_untagged_fence_holding_a_template_is_yaml() -> None:
    files = extract_files(f"```\n{_TEMPLATE}```\n").files
    assert [(f.path, f.language) for f in files] == [("template.yaml", "yaml")]


def test_a_named_template_keeps_its_name() -> None:
    files = extract_files(f"## lib/TapStack.yml\n\n```yaml\n{_TEMPLATE}```\n").files
    assert [f.path for f in files] == ["lib/TapStack.yml"]


def test_a_json_template_is_template_json_and_a_yaml_snippet_is_not_a_template() -> None:
    md = (
        '```json\n{\n  "AWSTemplateFormatVersion": "2010-09-09",\n  "Resources": {\n'
        '    "B": {"Type": "AWS::S3::Bucket"}\n  }\n}\n```\n\n'
        "```yaml\nversion: 0.2\nphases:\n  build:\n    commands: [make]\n```\n"
    )
    extraction = extract_files(md)
    assert [(f.path, f.language) for f in extraction.files] == [("template.json", "json")]
    assert [s.reason for s in extraction.skipped] == ["unnamed yaml block"]


def test_several_unnamed_templates_are_numbered_in_order() -> None:
    md = f"## Network\n\n```yaml\n{_TEMPLATE}```\n\n## Storage\n\n```yaml\n{_TEMPLATE}```\n"
    assert [f.path for f in extract_files(md).files] == ["template.yaml", "template-2.yaml"]


def test_a_fenceless_answer_is_the_template_from_its_first_section_on() -> None:
    md = f"## Model Response\n{_TEMPLATE}"
    extraction = extract_files(md)
    [file] = extraction.files
    assert (file.path, file.language, file.line) == ("template.yaml", "yaml", 1)
    assert file.content.startswith("AWSTemplateFormatVersion")
    assert file.md_line(1) == 2  # the template's first line is the answer's second
    assert any("reads as a yaml template" in n for n in extraction.notes)


def test_a_template_that_a_stray_fence_closes_is_read_up_to_the_fence() -> None:
    extraction = extract_files(f"{_TEMPLATE}```\n")
    assert [f.path for f in extraction.files] == ["template.yaml"]
    assert "```" not in extraction.files[0].content


def test_prose_only_answers_give_no_template() -> None:
    md = "# Model response\n\nThe template creates a VPC, an `AWS::S3::Bucket` and Resources: many.\n"
    assert extract_files(md).files == []


# ---- the bounded parse ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    with ParsePool(workers=1, timeout=20) as p:
        yield p


def test_a_template_parses_to_long_form_json_with_lines_and_lint(pool: ParsePool) -> None:
    outcome = pool.parse(_TEMPLATE)
    assert outcome.status == "ok", outcome.message
    template = json.loads(outcome.template_json or "")
    assert template["Resources"]["Data"]["Properties"]["BucketName"] == {"Fn::Sub": "${AWS::StackName}-data"}
    assert outcome.marks == {"Data": 6, "Table": 10}
    assert outcome.entries == {"Parameters/Env": 3}
    assert [m.rule for m in outcome.lint or []] == ["W2001"]  # Env is never used


def test_lint_matches_carry_the_template_line(pool: ParsePool) -> None:
    outcome = pool.parse(_TEMPLATE.replace("BillingMode: PAY_PER_REQUEST", "BillingMode: FREE"))
    assert outcome.lint is not None
    lines = {m.path[-1]: m.line for m in outcome.lint if m.resource == "Table"}
    assert lines["BillingMode"] == 13 and lines["Properties"] == 12


def test_a_cut_off_template_fails_with_its_line(pool: ParsePool) -> None:
    outcome = pool.parse(_TEMPLATE + "  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      Tags: [\n")
    assert outcome.status == "failed" and outcome.line is not None and outcome.line >= 23


def _alias_bomb() -> str:
    text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for i in range(1, 9):
        prev, name = chr(96 + i), chr(97 + i)
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    return text + "Resources:\n  X:\n    Type: AWS::S3::Bucket\n    Properties:\n      Tags: *i\n"


@pytest.mark.parametrize(
    "text",
    [
        _alias_bomb(),
        "Resources:\n  X: " + "[" * 10_000 + "]" * 10_000 + "\n",
        '{"Resources": ' + "[" * 10_000 + "]" * 10_000 + "}",
        "Resources:\n  X:\n    Type: AWS::S3::Bucket\n    Description: " + "y" * 4_000_000 + "\n",
    ],
    ids=["alias-bomb", "deep-yaml", "deep-json", "huge-scalar"],
)
def test_hostile_templates_fail_quickly(pool: ParsePool, text: str) -> None:
    start = time.monotonic()
    outcome = pool.parse(text)
    assert outcome.status == "failed" and outcome.message
    assert time.monotonic() - start < 10
    assert pool.parse(_TEMPLATE).status == "ok"  # and the pool still works


def test_a_parse_over_its_time_is_cut_off_and_the_worker_replaced() -> None:
    with ParsePool(workers=1, timeout=20) as p:
        assert p.parse(_TEMPLATE).status == "ok"  # warm: the next job gets only its own time
        p.timeout = 0.001
        big = _TEMPLATE + "".join(f"  Q{i}:\n    Type: AWS::SQS::Queue\n" for i in range(20_000))
        outcome = p.parse(big)
        assert outcome.status == "timeout" and "did not finish" in (outcome.message or "")
        p.timeout = 20
        assert p.parse(_TEMPLATE).status == "ok"


def test_a_worker_grown_past_its_share_of_memory_is_replaced_after_its_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from iacgrade.graders.kinds import cfn_parse

    with ParsePool(workers=1, timeout=20) as fresh:
        assert fresh.parse(_TEMPLATE).status == "ok"
        assert fresh.recycled == 0 and fresh._idle.qsize() == 1  # small: kept warm
        monkeypatch.setattr(cfn_parse, "RECYCLE_SHARE", 0.01)  # every worker is now "too big"
        first = fresh._idle.queue[0].process.pid
        outcome = fresh.parse(_TEMPLATE)
        assert outcome.status == "ok" and outcome.lint is not None  # the job itself is finished
        assert fresh.recycled == 1 and fresh._idle.qsize() == 0  # ... then the worker is let go
        assert fresh.parse(_TEMPLATE).status == "ok"  # a new worker takes the next template
        assert first not in [w.process.pid for w in fresh._all]


def test_a_worker_that_cannot_run_is_an_exit_not_a_hang() -> None:
    with ParsePool(workers=1, timeout=20, memory_mb=16) as p:  # too little to even start Python
        outcome = p.parse(_TEMPLATE)
    assert outcome.status in ("exited", "memory", "error")  # never "failed": not the template's fault


# ---- the kind ------------------------------------------------------------------------------------
def _build(tmp_path: Path, markdown: str) -> tuple[Built, Extraction]:
    extraction = extract_files(markdown)
    sample = Sample(sample_id="a", source=str(tmp_path / "a.md"), kind="cloudformation-yaml")
    services = Services(
        BuildSettings(timeout=20, scratch_mb=64, isolation="warm", require_sandbox=False, workers=1)
    )
    try:
        built = KINDS["cloudformation-yaml"].build(
            sample, extraction, tmp_path / "ws", tmp_path / "out", services
        )
    finally:
        services.close()
    return built, extraction


def test_the_kind_builds_a_template_with_marks_and_cloudformation_defaults(tmp_path: Path) -> None:
    built, _ = _build(tmp_path, _FENCED)
    synth = built.synth
    assert synth.status == "ok" and synth.stacks == ["template"]
    template = json.loads((tmp_path / "out" / synth.templates["template"]).read_text())
    assert template["Resources"]["Data"]["DeletionPolicy"] == "Delete"  # none given: Delete applies
    # ... marked as a default, so checks can tell it from a policy the answer wrote
    assert template["Resources"]["Data"]["Metadata"] == {DEFAULTED: ["DeletionPolicy"]}
    assert written_attribute(template["Resources"]["Data"], "DeletionPolicy") is None
    assert synth.marks["template"]["Table"] == ("template.yaml", 10, 13)
    assert synth.marks["template"]["Parameters/Env"] == ("template.yaml", 3, 6)
    assert [m.rule for m in synth.lint["template"]] == ["W2001"]


def test_a_written_template_is_laid_out_the_same_whatever_the_worker_sends(tmp_path: Path) -> None:
    """The worker sends compact JSON (json's C encoder); the template file is indented JSON, with
    or without a Resources section to add defaults to."""
    from iacgrade.graders.kinds.cloudformation import with_defaults

    parsed = parse_text(_TEMPLATE)
    assert "\n" not in parsed["template_json"]  # compact: no pure-Python indenting in the worker
    built, _ = _build(tmp_path, _FENCED)
    written = (tmp_path / "out" / built.synth.templates["template"]).read_text()
    assert written == json.dumps(json.loads(written), indent=1)
    no_resources = {"AWSTemplateFormatVersion": "2010-09-09", "Outputs": {"A": {"Value": 1.5}}}
    assert with_defaults(json.dumps(no_resources)) == json.dumps(no_resources, indent=1)


def test_a_template_that_does_not_parse_is_a_failed_build_with_file_and_line(tmp_path: Path) -> None:
    built, _ = _build(tmp_path, "```yaml\n" + _TEMPLATE + "  Bad: [\n")
    synth = built.synth
    assert (synth.status, synth.cause, synth.file) == ("failed", "syntax", "template.yaml")
    assert synth.line is not None and synth.message


def test_drafts_are_left_out_and_siblings_kept(tmp_path: Path) -> None:
    draft = _TEMPLATE.replace("  Table:", "  Old:")
    sibling = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
    md = f"```yaml\n{draft}```\n\n```yaml\n{_TEMPLATE}```\n\n```yaml\n{sibling}```\n"
    built, _ = _build(tmp_path, md)
    assert built.synth.entry == "template-2.yaml"
    assert built.synth.stacks == ["template-2", "template-3"]
    assert any("template.yaml is a draft of template-2.yaml" in n for n in built.notes)


def test_of_drafts_with_as_many_resources_the_fuller_one_in_the_task_s_language_is_main(
    tmp_path: Path,
) -> None:
    shorter = _TEMPLATE.replace("      BucketName: !Sub '${AWS::StackName}-data'\n", "")
    as_json = json.dumps(
        {"Resources": {"Data": {"Type": "AWS::S3::Bucket"}, "Table": {"Type": "AWS::DynamoDB::Table"}}}
    )
    md = f"```yaml\n{_TEMPLATE}```\n\n```json\n{as_json}\n```\n\n```yaml\n{shorter}```\n"
    built, _ = _build(tmp_path, md)
    assert built.synth.entry == "template.yaml"
    assert built.synth.stacks == ["template"]


def test_a_template_written_inline_as_a_nested_stack_s_body_is_graded_with_its_lines(tmp_path: Path) -> None:
    parent = (
        "Resources:\n"
        "  Storage:\n"
        "    Type: AWS::CloudFormation::Stack\n"
        "    Properties:\n"
        "      TemplateBody: |\n"
        "        Resources:\n"
        "          Logs:\n"
        "            Type: AWS::S3::Bucket\n"
        "  Topic:\n"
        "    Type: AWS::SNS::Topic\n"
    )
    built, _ = _build(tmp_path, f"```yaml\n{parent}```\n")
    synth = built.synth
    assert synth.stacks == ["template", "template-Storage"]
    nested = json.loads((tmp_path / "out" / synth.templates["template-Storage"]).read_text())
    assert nested["Resources"]["Logs"]["Type"] == "AWS::S3::Bucket"
    assert synth.marks["template-Storage"]["Logs"] == ("template.yaml", 7, 8)
    assert any("Storage gives inline" in n for n in built.notes)


def test_a_prose_answer_is_no_code(tmp_path: Path) -> None:
    built, _ = _build(tmp_path, "# Model response\n\nThe template creates a bucket.\n")
    assert built.synth.status == "skipped" and "no CloudFormation template" in (built.synth.message or "")


def test_the_region_comes_from_the_task(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "AWS_REGION").write_text("eu-west-2\n")
    sample = Sample(sample_id="a", source=str(tmp_path / "lib" / "MODEL_RESPONSE.md"))
    assert task_region(sample) == "eu-west-2"
    assert task_region(Sample(sample_id="b", source=str(tmp_path / "x.md"))) == "us-east-1"


# ---- end to end ----------------------------------------------------------------------------------
def test_grade_a_cloudformation_task(tmp_path: Path) -> None:
    task = tmp_path / "task"
    (task / "lib").mkdir(parents=True)
    (task / "metadata.json").write_text(json.dumps({"platform": "cfn", "language": "yaml"}))
    (task / "lib" / "MODEL_RESPONSE.md").write_text(_FENCED)
    broken = task.parent / "broken"
    (broken / "lib").mkdir(parents=True)
    (broken / "metadata.json").write_text(json.dumps({"platform": "cfn", "language": "yaml"}))
    (broken / "lib" / "MODEL_RESPONSE.md").write_text("```yaml\n" + _TEMPLATE + "  Bad: [\n")
    twice = task.parent / "twice"  # a key given twice: the decoder's message names the line
    (twice / "lib").mkdir(parents=True)
    (twice / "metadata.json").write_text(json.dumps({"platform": "cfn", "language": "yaml"}))
    (twice / "lib" / "MODEL_RESPONSE.md").write_text("```yaml\n" + _TEMPLATE + "Parameters: {}\n```\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["grade", str(task), str(broken), str(twice), "--out", str(out), "-q", "--no-cache"]
    )
    assert result.exit_code == 0, result.output
    good = json.loads((out / "task" / "lib" / "MODEL_RESPONSE" / "result.json").read_text())
    assert (good["kind"], good["status"], good["synth"]["status"]) == ("cloudformation-yaml", "graded", "ok")
    pitr = next(f for f in good["findings"] if f["check"] == "pitr-disabled")
    assert pitr["evidence"][0] | {"value": None} == {
        "file": "template.yaml",
        "line": 10,
        "md_line": 13,
        "stack": "template",
        "resource": "Table",
        "cdk_path": None,
        "value": None,
    }
    assert "template.yaml:10" in (out / "task" / "lib" / "MODEL_RESPONSE" / "report.md").read_text()
    bad = json.loads((out / "broken" / "lib" / "MODEL_RESPONSE" / "result.json").read_text())
    assert (bad["status"], bad["synth"]["status"], bad["synth"]["cause"]) == ("graded", "failed", "syntax")
    assert {"synth-failed", "parse-error"} <= {f["check"] for f in bad["findings"]}
    assert bad["scores"]["syntax"] < 100 and bad["scores"]["security"] is None
    dup = json.loads((out / "twice" / "lib" / "MODEL_RESPONSE" / "result.json").read_text())
    (parse,) = [f for f in dup["findings"] if f["check"] == "parse-error"]
    assert "Duplicate" in parse["message"] and parse["message"].count("(line ") == 1, parse["message"]
    assert parse["title"] == "Code that does not parse"


def test_the_archive_s_long_platform_name_is_cloudformation_too() -> None:
    assert kind_of_metadata({"platform": "cloudformation", "language": "yaml"}) == "cloudformation-yaml"
    assert kind_of_metadata({"platform": "cloudformation", "language": "json"}) == "cloudformation-json"


def test_template_lens_checks_take_intrinsics_where_cdk_writes_literals() -> None:
    # api-throttling-missing once hashed the stage name: !Ref / !Sub there crashed it.
    template = {
        "Resources": {
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "x"}},
            "Stage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": {"Ref": "Env"}},
            },
        }
    }
    ctx = CheckContext(
        sample=Sample(sample_id="a", source="a.md"),
        files=[],
        workspace=None,
        synth=SynthResult(status="ok"),
        rubric=load_rubric(),
        template=TemplateModel({"t": template}),
        kind="cloudformation-yaml",
    )
    found = {f.check for f in run_checks(ctx)}
    assert "grader-error" not in found and "api-throttling-missing" in found


def test_a_json_template_is_read_up_to_its_closing_brace(pool: ParsePool) -> None:
    text = '{\n  "Resources": {\n    "B": {"Type": "AWS::S3::Bucket"}\n  }\n}```\n\n## Notes\n\nMore prose.\n'
    outcome = pool.parse(text)
    assert outcome.status == "ok" and outcome.marks == {"B": 3}
    assert outcome.note is not None and "line 5" in outcome.note


def test_the_task_region_is_part_of_the_cache_key(tmp_path: Path) -> None:
    from iacgrade.graders.cache import content_hash

    sample = Sample(sample_id="a", source=str(tmp_path / "lib" / "MODEL_RESPONSE.md"))
    (tmp_path / "lib").mkdir()

    def key() -> str:
        return content_hash(sample, Extraction(), rubric_version="r", cdk_version=None, settings={})

    before = key()
    (tmp_path / "lib" / "AWS_REGION").write_text("eu-west-1\n")
    assert key() != before


# ---- the limits checked before the decoder -------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("Resources:\n" + "".join(f"  Q{i}:\n    Type: AWS::SQS::Queue\n" for i in range(MAX_RESOURCES + 1)),
         f"more than {MAX_RESOURCES:,} resources", 2 * MAX_RESOURCES + 2),
        ("Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Metadata:\n"
         + "".join(f"      k{i}: 1\n" for i in range(MAX_KEYS + 1)),
         f"the mapping at line 5 has more than {MAX_KEYS:,} keys", MAX_KEYS + 5),
        ("Resources:\n  X: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
         f"nested deeper than {MAX_DEPTH} levels", 2),
        ('{\n "Resources": {"X": ' + "[" * 10_000 + "]" * 10_000 + "}}",
         f"nested deeper than {MAX_DEPTH} levels", 2),
        # A tab before the first brace: YAML cannot scan it, the JSON decoder reads it; checked as JSON.
        ('\t{"Description": "x", "Resources": {"X": ' + "[" * 10_000 + "]" * 10_000 + "}}",
         f"nested deeper than {MAX_DEPTH} levels", None),
        ('\t{"Description": "x", "Resources": {"X": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}}",
         f"nested deeper than {MAX_DEPTH} levels", None),
        ('\t{"Description": "x", "Resources": {'
         + ",".join(f'"Q{i}": {{"Type": "AWS::SQS::Queue"}}' for i in range(MAX_RESOURCES + 1)) + "}}",
         f"the template declares {MAX_RESOURCES + 1:,} resources", None),
        ('\t{"Description": "x", "Metadata": {' + ",".join(f'"k{i}": 1' for i in range(MAX_KEYS + 1)) + "}}",
         f"more than {MAX_KEYS:,} keys", None),
        ("Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Metadata: [" + ",".join(["1"] * MAX_NODES) + "]\n",
         f"more than {MAX_NODES:,} values to read", 4),
        (_alias_bomb(), "values once its YAML aliases are expanded: too many aliases", 6),
        ("- Resources:\n    B:\n      Type: AWS::S3::Bucket\n", "the template is a list, not a mapping", 1),
        ('\t[{"Resources": {}}]', "the template is a list, not a mapping", 1),
        ('"Resources:\n  B:\n"\n', "the template is a single value (text), not a mapping", 1),
        ("--- !!null 'x'\n", "the template is null (an empty document), not a mapping", 1),
        ("Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Description: a\x07b\n",
         "the control character 0x0007", 4),
    ],
    ids=["resources", "keys", "depth", "depth-flow", "depth-json", "depth-json-101", "resources-json", "keys-json", "values", "aliases", "list", "list-json", "text", "null", "bell"],
)  # fmt: skip
def test_a_template_over_a_limit_is_refused_before_the_decoder(
    text: str, message: str, line: int | None
) -> None:
    refused = scan_limits(text)
    assert refused is not None and message in refused["message"], refused
    assert (refused["status"], refused["line"]) == ("failed", line)
    assert parse_text(text) == refused


def test_templates_within_the_limits_are_left_to_the_decoder() -> None:
    assert scan_limits(_TEMPLATE) is None
    anchors = "Mappings:\n  M: &m {a: {b: c}}\n  N: *m\n" + _TEMPLATE.split("\n", 1)[1]
    assert scan_limits(anchors) is None
    assert scan_limits('{\n\t"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}') is None  # JSON with tabs
    assert scan_limits('\t{"Description": "x", "Resources": {"B": {"Type": "AWS::S3::Bucket"}}}') is None
    assert scan_limits("Resources: [unclosed\n") is None  # a syntax error: the decoder's message names it
    prose = (
        "I will write the template\nthat creates the bucket.\n\nResources:\n  B:\n    Type: AWS::S3::Bucket\n"
    )
    assert scan_limits(prose) is None  # text, then a syntax error: the error is the message, not "text"
    assert "mapping values are not allowed" in parse_text(prose)["message"]


def test_the_lint_of_the_decoded_template_is_the_lint_of_its_text() -> None:
    from iacgrade.graders.lint import WarmLinter

    text = _TEMPLATE.replace("BillingMode: PAY_PER_REQUEST", "BillingMode: FREE")
    keep: list[Any] = []
    assert parse_text(text, keep)["status"] == "ok" and len(keep) == 1
    from_text = WarmLinter(["us-east-1"]).lint(text)
    assert {m["rule"] for m in from_text} >= {"E3030", "W2001"}, from_text  # FREE is no billing mode
    assert WarmLinter(["us-east-1"]).lint(text, keep[0]) == from_text


def test_an_outline_with_elided_entries_is_no_template(tmp_path: Path) -> None:
    outline = (
        '```json\n{\n  "AWSTemplateFormatVersion": "2010-09-09",\n  "Parameters": {"Env": {...}},\n'
        '  "Resources": {\n    "VPC": {...},\n    "Bucket": { "Type": "AWS::S3::Bucket" },\n'
        '    "Table": {...}\n  }\n}\n```\n'
    )
    built, _ = _build(tmp_path, outline)
    assert (built.synth.status, built.synth.cause) == ("skipped", "no-code")
    assert built.notes == [
        "template.json is an outline of a template (its entries are elided as {...} or give a type alone),"
        " not a template"
    ]
    one = _FENCED.replace("BillingMode: PAY_PER_REQUEST", "BillingMode: PAY_PER_REQUEST\n      Tags: [...]")
    assert _build(tmp_path / "one", one)[0].synth.status == "ok"  # one elided value: still a template


def test_a_structure_listing_resources_by_type_alone_is_no_template(tmp_path: Path) -> None:
    listed = ",\n".join(f'    "{n}": {{ "Type": "AWS::{t}" }}' for n, t in _TYPES)
    structure = f'```json\n{{\n  "Resources": {{\n{listed}\n  }}\n}}\n```\n'
    built, _ = _build(tmp_path, structure)
    assert (built.synth.status, built.synth.cause) == ("skipped", "no-code")
    # the same resources with a property somewhere: a (small) template, graded
    real = structure.replace('{ "Type": "AWS::EC2::VPC" }', '{ "Type": "AWS::EC2::VPC", "Properties": {} }')
    assert _build(tmp_path / "real", real)[0].synth.status == "ok"
    # two bare resources are too few to call it an outline
    two = structure.replace('    "Subnets": { "Type": "AWS::RDS::DBSubnetGroup" },\n', "")
    assert two != structure
    assert _build(tmp_path / "two", two)[0].synth.status == "ok"


_TYPES = (("VPC", "EC2::VPC"), ("Subnets", "RDS::DBSubnetGroup"), ("Db", "RDS::DBCluster"))
