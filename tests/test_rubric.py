"""rubric.yaml: loads, validates with clear errors, and matches the check registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iacgrade.graders.checks import (
    GRADER_ERROR,
    known_ids,
    load_checked_rubric,
    option_models,
    registry,
    run_checks,
)
from iacgrade.graders.checks.best_practices.tags_missing import TagsMissingOptions
from iacgrade.graders.models import Finding
from iacgrade.graders.rubric import DEFAULT_RUBRIC, Rubric, RubricError, load_rubric
from tests.checkkit import make_context


def test_default_rubric_loads() -> None:
    rubric = load_rubric()
    assert set(rubric.categories) == {"syntax", "deployment", "security", "performance", "best_practices"}
    assert abs(sum(rubric.normalized_weights().values()) - 1) < 1e-9
    assert rubric.digest


def test_registry_and_rubric_ids_are_identical() -> None:
    rubric = load_rubric()
    assert set(rubric.checks) == set(registry()) | {GRADER_ERROR}


def test_registry_matches_design_catalogue() -> None:
    design = Path(__file__).resolve().parents[2] / "shared" / "DESIGN.md"
    if not design.exists():
        pytest.skip("../shared/DESIGN.md not present")
    # Only the catalogue's table: DESIGN.md has other tables (kinds of answer) with id-like cells.
    text = design.read_text().split("## Check catalogue", 1)[-1].split("\n## ", 1)[0]
    ids = set()
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| id") and line.count("|") >= 3:
            cell = line.split("|")[1].strip()
            if re.fullmatch(r"[a-z][a-z0-9-]+", cell) and cell != "id":
                ids.add(cell)
    assert ids, "catalogue not found"
    # Every id the design promises is a check; checks beyond it join the catalogue as they come.
    assert ids <= set(registry()), sorted(ids - set(registry()))


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rubric.yaml"
    p.write_text(text)
    return p


def _default_text() -> str:
    return DEFAULT_RUBRIC.read_text()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("version:", "version: [unclosed\nfoo:", 1), "not valid YAML"),
        (lambda t: t.replace('  syntax:         {title: "Syntax", weight: 0.20}\n', ""), "categories"),
        (
            lambda t: t.replace("    severity: critical\n", "    severity: catastrophic\n", 1),
            "checks.parse-error.severity",
        ),
        (
            lambda t: t.replace("    category: syntax\n", "    category: style\n", 1),
            "checks.parse-error.category",
        ),
        (lambda t: t.replace("weight: 0.20", "weight: -1", 1), "categories.syntax.weight"),
        (
            lambda t: t + "  no-such-check:\n    category: syntax\n    severity: low\n    title: x\n",
            "checks.no-such-check",
        ),
        (
            lambda t: t.replace("  parse-error:\n", "  parse-error:\n    colour: red\n", 1),
            "checks.parse-error.colour",
        ),
    ],
)
def test_bad_rubric_names_file_and_key(tmp_path: Path, edit, expected: str) -> None:
    path = _write(tmp_path, edit(_default_text()))
    with pytest.raises(RubricError) as info:
        load_rubric(path, known_checks=known_ids())
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_all_zero_weights_rejected(tmp_path: Path) -> None:
    text = _default_text()
    for w in ("0.20", "0.25", "0.15"):
        text = text.replace(f"weight: {w}", "weight: 0")
    with pytest.raises(RubricError, match="weights must not all be 0"):
        load_rubric(_write(tmp_path, text))


def test_missing_rubric_file(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="cannot read"):
        load_rubric(tmp_path / "nope.yaml")


def test_weights_need_not_sum_to_one(tmp_path: Path) -> None:
    text = _default_text().replace("weight: 0.20", "weight: 2.0", 1)
    rubric = load_rubric(_write(tmp_path, text))
    assert abs(sum(rubric.normalized_weights().values()) - 1) < 1e-9


def _lines_of(text: str, first: str, second: str) -> tuple[int, int]:
    """1-based lines of the line equal to ``first`` and of the next line after it equal to ``second``
    (the same line when ``second`` is empty)."""
    lines = text.splitlines()
    a = lines.index(first) + 1
    b = a if not second else lines.index(second, a) + 1
    return a, b


@pytest.mark.parametrize(
    ("edit", "first", "second", "key"),
    [
        # a check id listed twice under checks (the later one would silently replace the first)
        (
            lambda t: t + "  parse-error:\n    category: syntax\n    severity: low\n    title: again\n",
            "  parse-error:",
            "  parse-error:",
            "checks.parse-error",
        ),
        # a field twice in one check
        (
            lambda t: t.replace("    severity: critical\n", "    severity: critical\n    severity: low\n", 1),
            "    severity: critical",
            "    severity: low",
            "checks.parse-error.severity",
        ),
        # a top-level section twice
        (lambda t: t + "severities:\n  low: 1\n", "severities:", "severities:", "severities"),
        # inside a flow mapping, on one line
        (
            lambda t: t.replace(
                '{title: "Syntax", weight: 0.20}', '{title: "Syntax", weight: 0.20, weight: 2}'
            ),
            '  syntax:         {title: "Syntax", weight: 0.20, weight: 2}',
            "",
            "categories.syntax.weight",
        ),
    ],
)
def test_duplicate_key_names_file_line_and_key(
    tmp_path: Path, edit, first: str, second: str, key: str
) -> None:
    text = edit(_default_text())
    path = _write(tmp_path, text)
    with pytest.raises(RubricError) as info:
        load_rubric(path, known_checks=known_ids())
    first_line, second_line = _lines_of(text, first, second)
    assert str(info.value).startswith(
        f"{path}: line {second_line}: {key}: duplicate key (first at line {first_line})"
    ), str(info.value)


def test_same_key_in_different_mappings_is_fine(tmp_path: Path) -> None:
    # every check has its own `severity`; anchors and merge keys may override a field once
    text = _default_text().replace(
        "  parse-error:\n    category: syntax\n",
        "  parse-error: &base\n    category: syntax\n",
        1,
    )
    text += "x-unused: {<<: *base, severity: low}\n"
    path = _write(tmp_path, text)
    with pytest.raises(RubricError, match="x-unused"):  # the unknown key, not a duplicate
        load_rubric(path)
    path = _write(tmp_path, text.replace("x-unused: {<<: *base, severity: low}\n", ""))
    assert load_rubric(path).checks["parse-error"].severity == "critical"


def test_recursive_anchor_does_not_hang(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: &v [*v]\n")
    with pytest.raises(RubricError):
        load_rubric(path)


# ---- check options --------------------------------------------------------------------------
def _with_options(check_id: str, options: str) -> str:
    """The bundled rubric with an ``options:`` block (YAML flow mapping) added to one check."""
    return _default_text().replace(f"  {check_id}:\n", f"  {check_id}:\n    options: {options}\n", 1)


def test_bundled_rubric_loads_with_option_models() -> None:
    rubric = load_checked_rubric()
    assert rubric.options(TagsMissingOptions) == TagsMissingOptions()
    assert option_models()["tags-missing"] is TagsMissingOptions


@pytest.mark.parametrize(
    ("check_id", "options", "expected"),
    [
        (
            "tags-missing",
            "{required_tag: [Team]}",
            "checks.tags-missing.options.required_tag: no such option",
        ),
        ("tags-missing", "{keys_from_prompt: maybe}", "checks.tags-missing.options.keys_from_prompt: Input"),
        ("tags-missing", "{required_tags: Team}", "checks.tags-missing.options.required_tags: Input"),
        ("dlq-missing", "{scheduled_rules: [true]}", "checks.dlq-missing.options.scheduled_rules: Input"),
        ("parse-error", "{strict: true}", "checks.parse-error.options.strict: this check takes no options"),
    ],
)
def test_bad_check_options_name_file_check_and_key(
    tmp_path: Path, check_id: str, options: str, expected: str
) -> None:
    path = _write(tmp_path, _with_options(check_id, options))
    with pytest.raises(RubricError) as info:
        load_checked_rubric(path)
    assert str(info.value).startswith(f"{path}: {expected}"), str(info.value)


def test_rubric_option_overrides_the_default(tmp_path: Path) -> None:
    tagged = [{"Key": k, "Value": "x"} for k in ("Environment", "Owner", "Project")]
    resources = {
        "QueueA1B2C3D4": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"Tags": tagged},
            "Metadata": {"aws:cdk:path": "Stack/Queue/Resource"},
        }
    }

    def tags_findings(rubric: Rubric) -> list[Finding]:
        for cid, spec in rubric.checks.items():
            spec.enabled = cid == "tags-missing"
        return run_checks(make_context({}, {"Stack": {"Resources": resources}}, rubric=rubric))

    assert tags_findings(load_checked_rubric()) == []
    path = _write(tmp_path, _with_options("tags-missing", "{required_tags: [Owner, CostCenter]}"))
    rubric = load_checked_rubric(path)
    assert rubric.options(TagsMissingOptions).required_tags == ("Owner", "CostCenter")
    (finding,) = tags_findings(rubric)
    assert "CostCenter" in finding.message and "Environment" not in finding.message
