"""rubric.yaml: loads, validates with clear errors, and matches the check registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graders.checks import GRADER_ERROR, known_ids, registry
from graders.rubric import DEFAULT_RUBRIC, RubricError, load_rubric


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
    ids = set()
    for line in design.read_text().splitlines():
        if line.startswith("| ") and not line.startswith("| id") and line.count("|") >= 3:
            cell = line.split("|")[1].strip()
            if re.fullmatch(r"[a-z][a-z0-9-]+", cell) and cell != "id":
                ids.add(cell)
    assert ids, "catalogue not found"
    assert ids == set(registry())


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
