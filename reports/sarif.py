"""SARIF 2.1.0 output (``--format sarif``) for code-scanning UIs and CI annotations.

One rule per check, documented from the check's docstring and the rubric's title and severity.
One result per finding, located in the answer's markdown file at the line of the code block
that holds the problem (``Evidence.md_line``; line 1 when no evidence has one), with the
template resource, when known, as a logical location.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from iacgrade.graders import __version__
from iacgrade.graders.checks import registry
from iacgrade.graders.models import Finding, SampleResult
from iacgrade.graders.rubric import Rubric
from iacgrade.graders.store import write_text_atomic
from iacgrade.reports.docs import doc_sections

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning ranks security rules by this CVSS-like number.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}

__all__ = ["sarif_log", "write_sarif"]


def write_sarif(path: Path, results: Sequence[SampleResult], rubric: Rubric) -> None:
    """Write ``results.sarif`` atomically."""
    write_text_atomic(path, json.dumps(sarif_log(results, rubric), indent=2, ensure_ascii=False) + "\n")


def sarif_log(results: Sequence[SampleResult], rubric: Rubric) -> dict[str, Any]:
    """The SARIF log of a run: one run, its rules, its results and unreadable answers as notifications."""
    ordered = sorted(results, key=lambda r: r.sample_id)
    rule_ids = sorted(set(rubric.checks) | {f.check for r in ordered for f in r.findings})
    rules = [_rule(cid, rubric) for cid in rule_ids]
    index = {cid: n for n, cid in enumerate(rule_ids)}
    sarif_results = [_result(r, f, index, rubric) for r in ordered for f in r.findings]
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{r.sample_id}: {r.error or 'could not be graded'}"},
            "locations": [_location(r.source, 1)],
        }
        for r in ordered
        if r.status == "error"
    ]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "iacgrade",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": rules,
                    }
                },
                "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
                "results": sarif_results,
                "properties": {"rubricVersion": f"{rubric.version}+{rubric.digest}", "answers": len(ordered)},
            }
        ],
    }


def _rule(check_id: str, rubric: Rubric) -> dict[str, Any]:
    spec = rubric.checks.get(check_id)
    info = registry().get(check_id)
    sections = doc_sections(info.doc) if info and info.doc else {"summary": spec.title if spec else check_id}
    title = spec.title if spec else sections["summary"]
    severity = spec.severity if spec else "info"
    text_parts = [sections["summary"]] + [
        f"{h}: {sections[h]}" for h in ("What it finds", "Why it matters", "Fix") if sections.get(h)
    ]
    md_parts = [f"**{sections['summary']}**"]
    for heading in ("What it finds", "Why it matters"):
        if sections.get(heading):
            md_parts.append(f"**{heading}.** {sections[heading]}")
    if sections.get("Bad example"):
        md_parts.append(f"**Bad example.**\n\n```python\n{sections['Bad example']}\n```")
    fix = sections.get("Fix") or (spec.fix if spec else "")
    if fix:
        md_parts.append(f"**Fix.** {fix}")
    properties: dict[str, Any] = {
        "category": spec.category if spec else "",
        "severity": severity,
        "tags": ["iac", "aws-cdk", spec.category if spec else "grader"],
    }
    if spec and spec.category == "security":
        properties["security-severity"] = SECURITY_SEVERITY.get(severity, "0.0")
    return {
        "id": check_id,
        "name": "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", check_id) if part),
        "shortDescription": {"text": title},
        "fullDescription": {"text": sections.get("What it finds") or sections["summary"]},
        "help": {"text": "\n".join(text_parts), "markdown": "\n\n".join(md_parts)},
        "defaultConfiguration": {
            "level": LEVELS.get(severity, "note"),
            "enabled": bool(spec and spec.enabled),
        },
        "properties": properties,
    }


def _result(r: SampleResult, f: Finding, index: dict[str, int], rubric: Rubric) -> dict[str, Any]:
    md_lines = sorted({e.md_line for e in f.evidence if e.md_line and e.md_line > 0})
    primary = _location(r.source, md_lines[0] if md_lines else 1)
    resources = [e for e in f.evidence if e.resource]
    if resources:
        primary["logicalLocations"] = [
            {
                "name": e.resource,
                "fullyQualifiedName": f"{e.stack}/{e.resource}" if e.stack else e.resource,
                "kind": "resource",
            }
            for e in resources
        ]
    where = next(
        (e.resource or e.cdk_path or (f"{e.file}:{e.line}" if e.file else None) for e in f.evidence), ""
    )
    fingerprint = hashlib.sha256(f"{r.sample_id}|{f.check}|{where}|{f.message}".encode()).hexdigest()[:32]
    result: dict[str, Any] = {
        "ruleId": f.check,
        "ruleIndex": index[f.check],
        "level": LEVELS.get(f.severity, "note"),
        "message": {"text": f"{f.message} [{r.sample_id}]"},
        "locations": [primary],
        "partialFingerprints": {"iacgradeFinding/v1": fingerprint},
        "properties": {
            "sampleId": r.sample_id,
            "category": f.category,
            "severity": f.severity,
            "answerTotal": r.total,
            "rubricSeverityPenalty": rubric.severities.get(f.severity, 0),
        },
    }
    if len(md_lines) > 1:
        result["relatedLocations"] = [
            {"id": n, **_location(r.source, line)} for n, line in enumerate(md_lines[1:], 1)
        ]
    return result


def _location(source: str, line: int) -> dict[str, Any]:
    return {
        "physicalLocation": {"artifactLocation": {"uri": _uri(source)}, "region": {"startLine": max(1, line)}}
    }


def _uri(source: str) -> str:
    """A relative path stays relative (code scanning resolves it against the checkout); absolute is file://."""
    path = Path(source)
    if path.is_absolute():
        return path.as_uri()
    return quote(path.as_posix(), safe="/._-~")
