"""Scoring: penalties by severity, unscored categories, weighted total."""

from __future__ import annotations

from iacgrade.graders.models import Finding
from iacgrade.graders.rubric import load_rubric
from iacgrade.graders.scoring import score_findings


def _finding(check: str) -> Finding:
    rubric = load_rubric()
    spec = rubric.checks[check]
    return Finding(check=check, category=spec.category, severity=spec.severity, title=spec.title, message="m")


def test_no_findings_scores_100_everywhere() -> None:
    cats, total = score_findings([], load_rubric(), has_source=True, has_template=True)
    assert all(c.score == 100 for c in cats)
    assert total == 100


def test_penalties_subtract_and_floor_at_zero() -> None:
    rubric = load_rubric()
    findings = [_finding("iam-wildcard-action"), _finding("cors-allow-all")]
    cats, _ = score_findings(findings, rubric, has_source=True, has_template=True)
    security = next(c for c in cats if c.category == "security")
    assert security.score == 100 - rubric.severities["high"] - rubric.severities["low"]
    many = [
        _finding("hardcoded-secret"),
        _finding("iam-wildcard-action"),
        _finding("s3-public-access"),
        _finding("broad-managed-policy"),
    ]
    cats, _ = score_findings(many, rubric, has_source=True, has_template=True)
    assert next(c for c in cats if c.category == "security").score == 0


def test_repeated_findings_of_one_check_are_damped_and_capped() -> None:
    rubric = load_rubric()
    medium = rubric.severities["medium"]

    def deployment(n: int) -> float:
        cats, _ = score_findings([_finding("hardcoded-name")] * n, rubric, has_source=True, has_template=True)
        return next(c.score for c in cats if c.category == "deployment")

    assert deployment(1) == 100 - medium
    assert deployment(3) == 100 - medium * 1.5
    assert deployment(17) == deployment(50) == 100 - medium * 2


def test_source_only_is_marked_and_nothing_is_unscored() -> None:
    cats, total = score_findings(
        [_finding("synth-failed")], load_rubric(), has_source=True, has_template=False
    )
    assert all(c.basis == "source" and c.assessed for c in cats)
    assert total is not None and total < 100


def test_no_code_leaves_categories_unscored_but_judges_deployment() -> None:
    rubric = load_rubric()
    cats, total = score_findings([_finding("synth-failed")], rubric, has_source=False, has_template=False)
    by = {c.category: c for c in cats}
    assert by["security"].score is None and not by["security"].assessed
    assert by["deployment"].score == 100 - rubric.severities["critical"]
    assert total == by["deployment"].score  # the only scored category


def test_grader_error_costs_nothing() -> None:
    cats, total = score_findings(
        [_finding("grader-error")], load_rubric(), has_source=True, has_template=True
    )
    assert total == 100


def test_code_that_does_not_parse_leaves_the_infrastructure_categories_unscored() -> None:
    rubric = load_rubric()
    findings = [_finding("parse-error"), _finding("synth-failed")]
    cats, total = score_findings(findings, rubric, has_source=True, has_template=False, source_readable=False)
    by = {c.category: c for c in cats}
    assert by["syntax"].score is not None and by["syntax"].score < 100
    assert by["deployment"].score is not None and by["deployment"].score < 100
    for name in ("security", "performance", "best_practices"):
        assert by[name].score is None and not by[name].assessed
        assert "parses" in by[name].note
    assert total is not None and total < 100
    # The same answer with one readable CDK file is judged from the source in every category.
    cats, _ = score_findings(findings, rubric, has_source=True, has_template=False, source_readable=True)
    assert all(c.score is not None for c in cats)


def test_each_finding_counts_at_its_own_severity() -> None:
    rubric = load_rubric()
    noted = _finding("destroy-stateful").model_copy(update={"severity": "info"})
    cats, _ = score_findings([noted, noted], rubric, has_source=True, has_template=True)
    assert next(c for c in cats if c.category == "deployment").score == 100  # notes cost nothing
    real = _finding("destroy-stateful")
    cats, _ = score_findings([noted, real], rubric, has_source=True, has_template=True)
    medium = rubric.severities["medium"]
    assert next(c for c in cats if c.category == "deployment").score == 100 - medium


def test_a_kind_says_why_its_infrastructure_categories_are_unscored() -> None:
    from iacgrade.graders.kinds import KINDS

    note = KINDS["cdk-typescript"].unreadable_note
    cats, _ = score_findings(
        [_finding("synth-failed")], load_rubric(), has_source=True, has_template=False,
        source_readable=False, unreadable_note=note,
    )  # fmt: skip
    security = {c.category: c for c in cats}["security"]
    assert security.score is None and security.note == note and "parses" not in note


def test_a_finding_in_a_category_the_source_cannot_judge_lists_but_does_not_score_it() -> None:
    """Without a template, a TypeScript answer's tags finding must not make best practices a
    scored 96: that would raise the total of the answer with more problems."""
    rubric = load_rubric()
    failed = [_finding("synth-failed"), _finding("hardcoded-name")]
    _, fewer = score_findings(failed, rubric, has_source=True, has_template=False, source_readable=False)
    cats, more = score_findings(
        [*failed, _finding("tags-missing")],
        rubric,
        has_source=True,
        has_template=False,
        source_readable=False,
    )
    best = {c.category: c for c in cats}["best_practices"]
    assert best.score is None and not best.assessed and best.findings == 1
    assert "1 finding listed, not scored" in best.note
    assert more == fewer
