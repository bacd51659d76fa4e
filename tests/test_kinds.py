"""The seam for kinds of answer: which kind an answer is, and which checks read what on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iacgrade.cli import app
from iacgrade.graders.analysis.source import SourceModel
from iacgrade.graders.checks import CheckContext, registry, run_checks
from iacgrade.graders.extract import extract_files
from iacgrade.graders.kinds import KIND_NAMES, KINDS, kind_of_metadata, resolve_kind
from iacgrade.graders.models import Sample, SynthResult
from iacgrade.graders.rubric import load_rubric

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

_CDK = "```python\nfrom aws_cdk import Stack\nimport os\n\nclass S(Stack):\n    pass\n```\n"
_YAML = "```yaml\nResources:\n  B:\n    Type: AWS::S3::Bucket\n```\n"
_TS = "```typescript\nimport * as cdk from 'aws-cdk-lib';\n```\n"
_PLAIN_YAML = "```yaml\nversion: 0.2\nphases:\n  build: {}\n```\n"


def _sample(**kw: object) -> Sample:
    return Sample(sample_id="a", source="a.md", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("platform", "language", "kind"),
    [
        ("cdk", "py", "cdk-python"),
        ("CDK", "Python ", "cdk-python"),
        ("cdk", "ts", "cdk-typescript"),
        ("cfn", "yaml", "cloudformation-yaml"),
        ("cfn", "json", "cloudformation-json"),
        ("tf", "hcl", None),
    ],
)
def test_kind_of_metadata(platform: str, language: str, kind: str | None) -> None:
    assert kind_of_metadata({"platform": platform, "language": language}) == kind
    assert kind is None or kind in KIND_NAMES


def test_kind_from_blocks_when_nothing_says() -> None:
    resolved = resolve_kind(_sample(), extract_files(_CDK))
    assert resolved.name == "cdk-python" and resolved.kind is KINDS["cdk-python"] and not resolved.notes


def test_a_template_is_recognised_as_cloudformation() -> None:
    resolved = resolve_kind(_sample(), extract_files(_YAML))
    assert resolved.name == "cloudformation-yaml" and not resolved.notes


def test_unrecognised_blocks_are_graded_as_the_default_with_a_note() -> None:
    resolved = resolve_kind(_sample(), extract_files(_PLAIN_YAML))
    assert resolved.name == "cdk-python"
    assert any("could not be told" in n for n in resolved.notes)


def test_typescript_metadata_and_blocks_resolve_to_the_typescript_kind() -> None:
    sample = _sample(metadata={"platform": "cdk", "language": "ts"})
    sample.kind = kind_of_metadata(sample.metadata)
    assert resolve_kind(sample, extract_files(_TS)).name == "cdk-typescript"
    stack = "```typescript\nimport * as cdk from 'aws-cdk-lib';\nexport class S extends cdk.Stack {}\n```\n"
    assert resolve_kind(_sample(), extract_files(stack)).name == "cdk-typescript"


def test_override_wins_over_metadata() -> None:
    sample = _sample(metadata={"platform": "cfn", "language": "yaml"}, kind="cloudformation-yaml")
    assert resolve_kind(sample, extract_files(_CDK), "cdk-python").name == "cdk-python"


def test_every_source_lens_check_names_the_kinds_it_reads() -> None:
    for info in registry().values():
        if "source" in info.lenses:
            assert info.kinds, info.id
            assert set(info.kinds) <= set(KIND_NAMES), info.id


def _context(kind: str) -> CheckContext:
    files = extract_files(_CDK).files
    return CheckContext(
        sample=_sample(),
        files=files,
        workspace=None,
        synth=SynthResult(status="skipped", message="x"),
        rubric=load_rubric(),
        kind=kind,
    )


def test_source_checks_read_only_the_kinds_they_name() -> None:
    # unused-import reads Python: it finds `import os` on a CDK Python answer and nothing when
    # the same files are (pretend) another kind's, whose source model it cannot read.
    as_python = {f.check for f in run_checks(_context("cdk-python"))}
    as_other = {f.check for f in run_checks(_context("cloudformation-yaml"))}
    assert "unused-import" in as_python
    assert "unused-import" not in as_other
    assert "grader-error" not in as_python | as_other


def test_result_names_its_kind(tmp_path: Path) -> None:
    task = tmp_path / "task"
    (task / "lib").mkdir(parents=True)
    (task / "metadata.json").write_text(json.dumps({"platform": "cfn", "language": "yaml"}))
    (task / "lib" / "MODEL_RESPONSE.md").write_text(_YAML)
    ts_task = tmp_path / "ts"
    (ts_task / "lib").mkdir(parents=True)
    (ts_task / "metadata.json").write_text(json.dumps({"platform": "cdk", "language": "ts"}))
    (ts_task / "lib" / "MODEL_RESPONSE.md").write_text(_TS)
    (tmp_path / "answer_RESPONSE.md").write_text(_CDK)
    out = tmp_path / "out"
    paths = [str(task), str(ts_task), str(tmp_path / "answer_RESPONSE.md")]
    args = ["grade", *paths, "--out", str(out), "--no-synth", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    results = [json.loads(p.read_text()) for p in out.rglob("result.json")]
    by_kind = {r["kind"]: r for r in results}
    assert by_kind["cdk-python"]["status"] == "graded"
    assert by_kind["cloudformation-yaml"]["status"] == "graded"
    assert by_kind["cdk-typescript"]["status"] == "graded"
    assert by_kind["cdk-typescript"]["synth"]["status"] == "skipped"  # --no-synth


def test_cli_refuses_an_unknown_kind(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["grade", str(ROOT / "samples"), "--out", str(tmp_path), "--kind", "terraform"]
    )
    assert result.exit_code == 2 and "terraform" in result.output


def test_each_kind_gives_its_own_source_model() -> None:
    """Python: parsed files the lens can read; TypeScript: text and the compiler's errors; a
    CloudFormation template: its text, with the parser's error on a template that did not parse."""
    python = KINDS["cdk-python"].source_model(extract_files(_CDK).files, SynthResult())
    assert [s.tree is not None for s in python.files] == [True] and python.readable()

    failed = SynthResult(
        diagnostics=[{"code": 2304, "file": "lib/a.ts", "line": 3, "message": "Cannot find name 'x'."}]
    )
    typed = KINDS["cdk-typescript"].source_model(extract_files(_TS).files, failed)
    assert [d.code for d in typed.diagnostics] == [2304] and not typed.readable()

    files = extract_files(_YAML).files
    broken = SynthResult(status="failed", cause="syntax", file=files[0].path, line=4, message="bad indent")
    template = KINDS["cloudformation-yaml"].source_model(files, broken).files
    assert (
        len(template) == 1 and template[0].syntax_error is not None and template[0].syntax_error.lineno == 4
    )
    assert (
        KINDS["cloudformation-yaml"].source_model(files, SynthResult(status="ok")).files[0].syntax_error
        is None
    )


def test_a_view_of_the_sources_is_built_once_per_answer() -> None:
    source = KINDS["cdk-python"].source_model(extract_files(_CDK).files, SynthResult())
    built: list[int] = []
    first = source.view("v", lambda: built.append(1) or ["x"])
    assert source.view("v", lambda: built.append(2) or ["y"]) is first and built == [1]


class _UnreadableSource(SourceModel):
    """A source model that fails the check that reads it."""

    def __getattribute__(self, name: str) -> object:
        raise AssertionError(f"a template-lens check read the source model ({name})")


def test_template_lens_checks_read_only_the_template_model() -> None:
    """The seam for a new kind: a check whose lenses are all template never reads the source model,
    so it runs unchanged on a kind whose source model it knows nothing of."""
    from tests.checkkit import FIXTURES, make_context, parse_fixture, parse_template_fixture, run_check

    checked = 0
    for cid, info in registry().items():
        if not set(info.lenses) <= {"template"}:
            continue
        for path in sorted((FIXTURES / cid).glob("bad*.yaml")):
            fx, text = parse_fixture(path), path.read_text()
            templates, marks = parse_template_fixture(text, fx.answer_path)
            synth = SynthResult(status="ok", stacks=sorted(templates), **fx.synth_fields)
            normal = make_context({fx.answer_path: text}, templates, synth=synth, marks=marks)
            blind = make_context({fx.answer_path: text}, templates, synth=synth, marks=marks)
            blind._source = _UnreadableSource()
            found = run_check(cid, blind)  # a grader error (the AssertionError above) fails here
            assert found and [f.message for f in found] == [f.message for f in run_check(cid, normal)], path
            checked += 1
    assert checked >= 9
