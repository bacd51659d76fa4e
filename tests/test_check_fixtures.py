"""Every check: its bad fixtures produce exactly the expected findings, its good ones none."""

from __future__ import annotations

import shutil

import pytest

from iacgrade.graders.checks import registry, run_checks
from iacgrade.graders.models import SynthResult
from tests.checkkit import (
    Fixture,
    all_fixtures,
    make_context,
    only,
    parse_template_fixture,
    synthesize_fixtures,
)

FIXTURES = all_fixtures()
needs_node = pytest.mark.skipif(
    shutil.which("node") is None, reason="Node.js is needed to synthesize fixtures"
)


@pytest.fixture(scope="session")
def synthesized() -> dict:
    if shutil.which("node") is None:
        pytest.skip("Node.js is needed to synthesize fixtures")
    return synthesize_fixtures(FIXTURES)


def test_every_check_has_a_bad_and_a_good_fixture() -> None:
    have: dict[str, set[str]] = {}
    for fx in FIXTURES:
        have.setdefault(fx.check, set()).add("bad" if fx.expects else "good")
    missing = [cid for cid in registry() if have.get(cid) != {"bad", "good"}]
    assert not missing, f"checks without both a bad and a good fixture: {missing}"


APPS = [fx for fx in FIXTURES if fx.path.suffix == ".py"]
TEMPLATES = [fx for fx in FIXTURES if fx.path.suffix == ".yaml"]


@needs_node
@pytest.mark.parametrize("fx", APPS, ids=[f.id for f in APPS])
def test_fixture(fx: Fixture, synthesized: dict) -> None:
    assert fx.check in registry(), f"fixture folder {fx.check} names no registered check"
    text = fx.path.read_text()
    templates = {}
    if fx.synthesize:
        synth = synthesized[str(fx.path)]
        assert synth["error"] is None, f"fixture does not synthesize: {synth['error']}"
        templates = synth["templates"]
    fields = {"status": "ok" if templates else "failed", "stacks": sorted(templates)} | fx.synth_fields
    ctx = make_context({fx.answer_path: text}, templates, synth=SynthResult(**fields), rubric=only(fx.check))
    _assert_findings(fx, run_checks(ctx))


@pytest.mark.parametrize("fx", TEMPLATES, ids=[f.id for f in TEMPLATES])
def test_template_fixture(fx: Fixture) -> None:
    """A CloudFormation fixture, parsed as the cloudformation-yaml kind parses it: findings carry its lines."""
    assert fx.check in registry(), f"fixture folder {fx.check} names no registered check"
    text = fx.path.read_text()
    templates, marks = parse_template_fixture(text, fx.answer_path)
    synth = SynthResult(status="ok", stacks=sorted(templates), **fx.synth_fields)
    ctx = make_context({fx.answer_path: text}, templates, synth=synth, rubric=only(fx.check), marks=marks)
    findings = run_checks(ctx)
    _assert_findings(fx, findings)
    for f in findings:
        assert any(e.file == fx.answer_path and e.line for e in f.evidence), f"no file:line in {f.evidence}"


TS_APPS = [fx for fx in FIXTURES if fx.path.suffix == ".ts"]


@pytest.mark.parametrize("fx", TS_APPS, ids=[f.id for f in TS_APPS])
def test_typescript_fixture(fx: Fixture) -> None:
    """A CDK TypeScript fixture, read by the source lens alone (its synth failed): findings carry its lines."""
    assert fx.check in registry(), f"fixture folder {fx.check} names no registered check"
    synth = SynthResult(**({"status": "failed", "cause": "type-error"} | fx.synth_fields))
    ctx = make_context(
        {fx.answer_path: fx.path.read_text()}, synth=synth, rubric=only(fx.check), kind="cdk-typescript"
    )
    findings = run_checks(ctx)
    _assert_findings(fx, findings)
    for f in findings:
        assert any(e.file == fx.answer_path and e.line for e in f.evidence), f"no file:line in {f.evidence}"


def _assert_findings(fx: Fixture, all_findings: list) -> None:
    findings = [f for f in all_findings if f.check != "grader-error" or pytest.fail(f.message)]
    declared = set(registry()[fx.check].lenses)
    assert all(set(f.lenses) <= declared for f in findings), (
        "a finding came through a lens its check does not declare"
    )
    assert len(findings) == len(fx.expects), [f.message for f in findings]
    for exp in fx.expects:
        match = [
            f
            for f in findings
            if f.check == exp.check
            and (not exp.lenses or set(f.lenses) == exp.lenses)
            and (
                exp.construct is None
                or exp.construct in f.message
                or any(exp.construct in (e.cdk_path or "").split("/") for e in f.evidence)
            )
        ]
        assert match, f"no finding matches {exp}: {[(f.check, f.lenses, f.message) for f in findings]}"
