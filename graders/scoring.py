"""Turn findings into category scores and a weighted total.

Formula (documented in README "Scoring"): a category starts at 100 and loses, for each
check with findings in it, the penalty of the heaviest finding's severity times the check's
weight, and a quarter of the penalty of each further finding of the same check, at most twice
the heaviest penalty per check (so splitting one problem into many findings cannot sink a score); it never
goes below 0. A category that could not be looked at is unscored (None), not 0. The total is the
mean of the scored categories weighted by the rubric's category weights, renormalised over
the categories that were scored.
"""

from __future__ import annotations

from iacgrade.graders.models import CATEGORIES, CategoryScore, Finding, SampleResult
from iacgrade.graders.rubric import RewardRule, Rubric


def category_basis(*, has_source: bool, has_template: bool) -> str:
    if has_template:
        return "source+template"
    if has_source:
        return "source"
    return "none"


REPEAT_FACTOR = 0.25
MAX_FACTOR = 2.0


def findings_penalty(rubric: Rubric, check_id: str, findings: list[Finding]) -> float:
    """Penalty of one check's findings, each at its own severity (a check may lower one finding's,
    e.g. to info when the prompt asked for what it reports): the heaviest counts in full, each
    other a quarter, and the whole at most twice the heaviest."""
    spec = rubric.checks.get(check_id)
    if spec is None or not findings:
        return 0.0
    weights = sorted((rubric.severities.get(f.severity, 0) * spec.weight for f in findings), reverse=True)
    return min(MAX_FACTOR * weights[0], weights[0] + REPEAT_FACTOR * sum(weights[1:]))


def _per_check(findings: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in findings:
        out.setdefault(f.check, []).append(f)
    return out


# Categories whose checks read the infrastructure the code describes; Syntax and Deployment are
# judged on any Python the answer gives (code that does not parse fails both).
_NEEDS_READABLE_CODE = ("security", "performance", "best_practices")


def score_findings(
    findings: list[Finding],
    rubric: Rubric,
    *,
    has_source: bool,
    has_template: bool,
    source_readable: bool = True,
    no_code: str = "no code to look at",
    unreadable_note: str = "none of the answer's code parses",
) -> tuple[list[CategoryScore], float | None]:
    """Score each category from its findings; return the category scores and the total.

    ``no_code`` is the note of a category left unscored because the answer has no code of its
    kind. ``source_readable`` is False when the source lens cannot judge the security,
    performance and best-practice categories (no code file of the answer parses, or the kind's
    source lens reads only some of their checks): without a template those categories are then
    unscored rather than a clean 100, their findings listed but not scored.
    """
    basis = category_basis(has_source=has_source, has_template=has_template)
    scores: list[CategoryScore] = []
    for category in CATEGORIES:
        mine = [f for f in findings if f.category == category]
        # Deployment is always judged: an answer with no code at all has failed to deploy.
        assessed = basis != "none" or (category == "deployment" and bool(mine))
        # Without a template and with a source lens that cannot read these categories (no code
        # parses, or a kind whose source lens covers only some of their checks), they stay
        # unscored even when one of those checks found something: a category scored from its one
        # finding would raise the total of an answer that has more problems, and make the totals
        # of two answers judged from different categories incomparable. Its findings are listed.
        unreadable = basis == "source" and not source_readable and category in _NEEDS_READABLE_CODE
        if not assessed or unreadable:
            note = unreadable_note if unreadable else no_code
            if unreadable and mine:
                note += f" ({len(mine)} finding{'s' if len(mine) > 1 else ''} listed, not scored)"
            scores.append(
                CategoryScore(
                    category=category,
                    score=None,
                    assessed=False,
                    basis="none",
                    findings=len(mine),
                    note=note,
                )
            )
            continue
        penalty = sum(findings_penalty(rubric, check, fs) for check, fs in _per_check(mine).items())
        note = "judged from the source alone: no template was synthesized" if basis == "source" else ""
        scores.append(
            CategoryScore(
                category=category,
                score=round(max(0.0, 100.0 - penalty), 1),
                assessed=True,
                basis="source" if basis == "none" else basis,  # type: ignore[arg-type]
                findings=len(mine),
                note=note,
            )
        )
    weights = rubric.normalized_weights()
    scored = [(weights[s.category], s.score) for s in scores if s.score is not None]
    weight_sum = sum(w for w, _ in scored)
    total = round(sum(w * s for w, s in scored) / weight_sum, 1) if weight_sum > 0 else None
    return scores, total


def reward_of(result: SampleResult, rule: RewardRule) -> float:
    """The result's reward in [0, 1] under the rubric's rule (see RewardRule)."""
    if result.status != "graded" or result.total is None or not result.files:
        return rule.floor
    if rule.floor_failed_build and result.synth.status in ("failed", "timeout"):
        return rule.floor
    return min(1.0, max(0.0, result.total / 100.0))
