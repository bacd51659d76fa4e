"""Render one sample's failure report (markdown) from its SampleResult with jinja2.

The report says only what the result holds (and, for the comparison, its reference's result):
it reads no file, so a result.json read back renders the same report.md."""

from __future__ import annotations

from dataclasses import dataclass

from iacgrade.graders.kinds import KINDS, Kind
from iacgrade.graders.models import Evidence, Finding, SampleResult
from iacgrade.graders.rubric import Rubric
from iacgrade.reports.templating import markdown_environment

_ENV = markdown_environment()

SECTION_TITLES = {
    "syntax": "Syntax Issues",
    "deployment": "Deployment Issues",
    "security": "Security Concerns",
    "performance": "Performance Optimizations",
    "best_practices": "Best Practices",
}


@dataclass
class Comparison:
    fixed: list[Finding]  # in this answer, gone in the reference
    shared: list[Finding]  # in both
    only_reference: list[Finding]
    reference_total: float | None
    reference_synth: str


def format_evidence(ev: Evidence) -> str:
    """`lib/tap_stack.py:88` (md 140) · TapStack/UserTable (UserTable1234) = value."""
    parts: list[str] = []
    if ev.file:
        loc = f"{ev.file}:{ev.line}" if ev.line else ev.file
        parts.append(f"`{loc}`" + (f" (answer line {ev.md_line})" if ev.md_line else ""))
    if ev.resource:
        where = f"{ev.stack}/{ev.resource}" if ev.stack else ev.resource
        parts.append(f"`{where}`" + (f" at `{ev.cdk_path}`" if ev.cdk_path else ""))
    if ev.value:
        value = ev.value if len(ev.value) <= 160 else ev.value[:159] + "…"
        parts.append(f"`{value.replace('`', chr(39))}`")
    return " · ".join(parts)


def compare(result: SampleResult, reference: SampleResult) -> Comparison:
    mine = {f.check for f in result.findings}
    theirs = {f.check for f in reference.findings}
    return Comparison(
        fixed=_first_per_check(f for f in result.findings if f.check not in theirs),
        shared=_first_per_check(f for f in result.findings if f.check in theirs),
        only_reference=_first_per_check(f for f in reference.findings if f.check not in mine),
        reference_total=reference.total,
        reference_synth=reference.synth.status,
    )


def _first_per_check(findings) -> list[Finding]:  # type: ignore[no-untyped-def]
    seen: dict[str, Finding] = {}
    for f in findings:
        seen.setdefault(f.check, f)
    return list(seen.values())


def render_report(
    result: SampleResult,
    rubric: Rubric,
    *,
    reference: SampleResult | None = None,
    reference_in_run: bool = False,
) -> str:
    """The report.md text for one sample."""
    sections = []
    for n, (category, spec) in enumerate(rubric.categories.items(), start=1):
        score = next((c for c in result.categories if c.category == category), None)
        in_category = [f for f in result.findings if f.category == category and f.check != "grader-error"]
        findings = [f for f in in_category if f.severity != "info"]
        notes = [f for f in in_category if f.severity == "info"]  # reported, not scored
        fixes: list[str] = []
        for f in findings:
            if f.fix and f.fix not in fixes:
                fixes.append(f.fix)
        sections.append(
            {
                "number": n,
                "key": category,
                "title": SECTION_TITLES.get(category, spec.title),
                "name": spec.title,
                "score": score,
                "findings": findings,
                "notes": notes,
                "fixes": fixes,
            }
        )
    grader_errors = [f for f in result.findings if f.check == "grader-error"]
    comparison = (
        compare(result, reference) if reference is not None and reference.status == "graded" else None
    )
    template = _ENV.get_template("report.md.j2")
    kind = KINDS.get(result.kind or "") or Kind  # an old result without a kind: the base's words
    return template.render(
        r=result,
        build_name=kind.build_name,
        entry_name=kind.entry_name,
        sections=sections,
        ev=format_evidence,
        comparison=comparison,
        reference_in_run=reference_in_run,
        grader_errors=grader_errors,
        claims=result.reviewer_claims if result.status == "graded" else [],
    )
