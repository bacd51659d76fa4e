"""--format junit: one test case per answer, failed below --min-score, error when not graded."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from iacgrade.reports.junit import junit_xml
from tests.run_factory import make_result, rubric


def test_junit_parses_and_counts() -> None:
    r = rubric()
    results = [
        make_result("good", [], r),
        make_result(
            "bad",
            [("iam-wildcard-action", "Role", 9), ("synth-failed", None, None), ("parse-error", None, 4)],
            r,
            synth="failed",
            task_id="Pr1",
        ),
        make_result("broken", [], r, status="error"),
    ]
    root = ET.fromstring(junit_xml(results, min_score=80))
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "3",
        "1",
        "1",
        "0",
    )
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert sorted(cases) == ["bad", "broken", "good"]
    failure = cases["bad"].find("failure")
    assert failure is not None and "below 80" in (failure.get("message") or "")
    assert "iam-wildcard-action" in (failure.text or "")
    assert cases["bad"].get("classname") == "iacgrade.Pr1"
    assert cases["broken"].find("error") is not None
    assert cases["good"].find("failure") is None and cases["good"].find("error") is None


def test_junit_is_deterministic() -> None:
    r = rubric()
    results = [make_result(f"s{i}", [("unused-import", None, 3)], r) for i in range(3)]
    assert junit_xml(results, min_score=99) == junit_xml(list(reversed(results)), min_score=99)
