"""Build small run folders for the run-store, compare, dashboard and CI-format tests.

Results are scored with the real scoring code and a real rubric, so a rubric change (a raised
severity) moves the scores the way it would in a real regrade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from iacgrade.graders.checks import known_ids
from iacgrade.graders.models import Evidence, ExtractedFile, Finding, RunManifest, SampleResult, SynthResult
from iacgrade.graders.rubric import DEFAULT_RUBRIC, Rubric, load_rubric
from iacgrade.graders.scoring import score_findings
from iacgrade.graders.store import write_json_atomic, write_run_tables, write_text_atomic

ROOT = Path(__file__).resolve().parent.parent

# (check id, logical id or None, markdown line or None)
Spec = tuple[str, str | None, int | None]


def rubric(**severities: str) -> Rubric:
    """The bundled rubric, with some checks' severities changed (``unused_import="critical"``)."""
    r = load_rubric()
    for check_id, severity in severities.items():
        r.checks[check_id.replace("_", "-")].severity = severity
    r.digest = "test" + "".join(f"-{k}={v}" for k, v in sorted(severities.items()))
    return r


def dev_rubric(tmp: Path) -> Path:
    """rubric.yaml limited to the checks registered in this checkout, so `grade` accepts it."""
    data = yaml.safe_load(DEFAULT_RUBRIC.read_text())
    known = known_ids()
    data["checks"] = {k: v for k, v in data["checks"].items() if k in known}
    path = tmp / "rubric.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def make_result(
    sample_id: str,
    specs: list[Spec],
    r: Rubric,
    *,
    synth: str = "ok",
    status: str = "graded",
    task_id: str | None = None,
    role: str = "model",
) -> SampleResult:
    if status == "error":
        return SampleResult(
            sample_id=sample_id,
            source=f"answers/{sample_id}.md",
            status="error",
            error="empty answer",
            task_id=task_id,
            role=role,
            scores={c: None for c in r.categories},
            rubric_version=f"{r.version}+{r.digest}",
        )
    findings = []
    for check_id, resource, md_line in specs:
        spec = r.checks[check_id]
        evidence = [Evidence(file="lib/tap_stack.py", line=(md_line or 10) - 5, md_line=md_line)]
        if resource:
            evidence.append(
                Evidence(stack="TapStack", resource=resource, cdk_path=f"TapStack/{resource}/Resource")
            )
        findings.append(
            Finding(
                check=check_id,
                category=spec.category,
                severity=spec.severity,
                title=spec.title,
                message=f"{check_id} on {resource or 'the code'}",
                evidence=evidence,
                fix=spec.fix,
                lenses=["source"],
            )
        )
    categories, total = score_findings(findings, r, has_source=True, has_template=synth == "ok")
    return SampleResult(
        sample_id=sample_id,
        source=f"answers/{sample_id}.md",
        status="graded",
        task_id=task_id,
        role=role,
        files=[ExtractedFile(path="lib/tap_stack.py", language="python", line=5, path_source="heading")],
        synth=SynthResult(status=synth, seconds=0.25, stacks=["TapStack"] if synth == "ok" else []),  # type: ignore[arg-type]
        findings=findings,
        scores={c.category: c.score for c in categories},
        categories=categories,
        total=total,
        grader_version="test",
        rubric_version=f"{r.version}+{r.digest}",
    )


def write_run(
    folder: Path,
    results: list[SampleResult],
    *,
    label: str | None = None,
    finished: bool = True,
    run_id: str | None = None,
    graded_with: Rubric | None = None,
) -> Path:
    """A run folder as `grade` leaves it: result.json and report.md per answer, tables, run.json."""
    for res in results:
        write_json_atomic(folder / res.sample_id / "result.json", res.model_dump(mode="json"))
        lines = [f"# Report for {res.sample_id}", "", f"Total: {res.total}", ""]
        lines += [
            f"- **{f.check}** ({f.severity}): {f.message} <script>alert(1)</script>" for f in res.findings
        ]
        write_text_atomic(folder / res.sample_id / "report.md", "\n".join(lines) + "\n")
    write_run_tables(folder, results)
    counts: dict[str, Any] = {"samples": len(results)}
    manifest = RunManifest(
        run_id=run_id or f"run-{folder.name}",
        label=label,
        started="2026-11-01T00:00:00+00:00",
        finished="2026-11-01T00:01:00+00:00" if finished else None,
        grader_version="test",
        rubric_version=results[0].rubric_version if results else "",
        counts=counts,
        check_severities={c: s.severity for c, s in graded_with.checks.items()} if graded_with else {},
    )
    write_json_atomic(folder / "run.json", manifest.model_dump(mode="json"))
    return folder


def corpus_like(r: Rubric, n: int = 12) -> list[SampleResult]:
    """``n`` answers with a mix of findings; every answer has an unused import."""
    out = []
    for i in range(n):
        specs: list[Spec] = [("unused-import", None, 12 + i)]
        if i % 2:
            specs.append(("iam-wildcard-action", f"HandlerRole{i}", 40 + i))
        if i % 3 == 0:
            specs.append(("tags-missing", None, None))
        out.append(
            make_result(
                f"Pr{1000 + i}/lib/MODEL_RESPONSE",
                specs,
                r,
                task_id=f"Pr{1000 + i}",
                synth="ok" if i % 4 else "failed",
            )
        )
    return out
