"""JUnit XML output (``--format junit``): one test case per answer, for CI test reports.

An answer passes when its total is at least ``min_score``; it fails below it (the failure lists
its findings), is an error when it could not be graded, and is skipped when it has no score.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from iacgrade.graders.models import CATEGORIES, SampleResult
from iacgrade.graders.store import write_text_atomic

__all__ = ["junit_xml", "write_junit"]


def write_junit(path: Path, results: Sequence[SampleResult], *, min_score: float) -> None:
    """Write ``junit.xml`` atomically."""
    write_text_atomic(path, junit_xml(results, min_score=min_score))


def junit_xml(results: Sequence[SampleResult], *, min_score: float) -> str:
    """The JUnit XML document of a run, deterministic (sorted, no timestamps)."""
    ordered = sorted(results, key=lambda r: r.sample_id)
    suite = ET.Element("testsuite", name="iacgrade")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="min_score", value=f"{min_score:g}")
    for r in ordered:
        counts["tests"] += 1
        seconds += r.synth.seconds
        case = ET.SubElement(
            suite, "testcase", classname=_classname(r), name=r.sample_id, time=f"{r.synth.seconds:.3f}"
        )
        if r.status == "error":
            counts["errors"] += 1
            ET.SubElement(
                case, "error", message=r.error or "could not be graded", type="error"
            ).text = r.error
        elif r.total is None:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message="not scored: no category could be assessed")
        elif r.total < min_score:
            counts["failures"] += 1
            failure = ET.SubElement(
                case, "failure", message=f"total {r.total:g} is below {min_score:g}", type="score"
            )
            failure.text = _details(r)
        ET.SubElement(case, "system-out").text = _scores(r)
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{seconds:.3f}")
    root = ET.Element("testsuites", {"name": "iacgrade", "time": f"{seconds:.3f}"})
    for key, value in counts.items():
        root.set(key, str(value))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _classname(r: SampleResult) -> str:
    """The task, else the answer's folder: CI UIs group test cases by it."""
    if r.task_id:
        return f"iacgrade.{r.task_id}"
    return "iacgrade." + (r.sample_id.rsplit("/", 1)[0] if "/" in r.sample_id else "answers")


def _scores(r: SampleResult) -> str:
    parts = [f"{c}={r.scores.get(c) if r.scores.get(c) is not None else '-'}" for c in CATEGORIES]
    return f"total={r.total if r.total is not None else '-'} synth={r.synth.status} " + " ".join(parts)


def _details(r: SampleResult) -> str:
    lines = [
        f"synth: {r.synth.status}"
        + (f" ({r.synth.error_type}: {r.synth.message})" if r.synth.message else "")
    ]
    for f in r.findings:
        where = next(
            (f"{e.file}:{e.line}" if e.file else e.resource for e in f.evidence if e.file or e.resource), ""
        )
        lines.append(f"[{f.severity}] {f.check}: {f.message}" + (f" ({where})" if where else ""))
    return "\n".join(lines)
