"""Bad configuration through the command line: a clear error naming the file and key, before any work.

tests/test_rubric.py covers the rubric loader's messages; here each defect goes through
``iacgrade grade`` and we check that nothing was started: no answer graded, no sandbox opened,
no output folder, table or run.json written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import iacgrade.graders.pipeline
from iacgrade.cli import app
from iacgrade.graders.rubric import DEFAULT_RUBRIC, RubricError, load_rubric
from tests.run_factory import ROOT, dev_rubric

runner = CliRunner()
SAMPLES = ROOT / "samples"


@pytest.fixture(autouse=True)
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any grading or sandbox start fails the test: a bad configuration must stop before them
    (a run opens its services and journal before it grades an answer, a Session its services)."""

    def forbidden(*_a: object, **_k: object) -> None:
        raise AssertionError("work started despite a bad configuration")

    monkeypatch.setattr(iacgrade.graders.pipeline, "open_services", forbidden)
    monkeypatch.setattr(iacgrade.graders.pipeline, "RunJournal", forbidden)


def _grade(tmp_path: Path, *extra: str) -> tuple[int, str, Path]:
    out = tmp_path / "out"
    result = runner.invoke(app, ["grade", str(SAMPLES), "--out", str(out), "--quiet", *extra])
    return result.exit_code, " ".join(result.output.split()), out


def _nothing_written(out: Path) -> None:
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))


def _edit(tmp_path: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    """A copy of the rubric with one defect: ``change`` edits the parsed rubric in place, or
    returns the file's whole text."""
    data = yaml.safe_load(dev_rubric(tmp_path).read_text())
    text = change(data)
    path = tmp_path / "bad-rubric.yaml"
    path.write_text(text if isinstance(text, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def _set(*keys: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value

    return change


def _first_check(data: dict[str, Any]) -> dict[str, Any]:
    return data["checks"][next(iter(data["checks"]))]  # type: ignore[no-any-return]


def _zero_weights(data: dict[str, Any]) -> None:
    for spec in data["categories"].values():
        spec["weight"] = 0


RUBRIC_DEFECTS: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "malformed yaml": (lambda d: "version: 1\ncategories: [oops\n", "not valid YAML"),
    "not a mapping": (lambda d: "- just\n- a list\n", "expected a mapping"),
    "empty file": (lambda d: "", "expected a mapping"),
    "binary garbage": (lambda d: "\x00\x01\x02", "not valid YAML"),
    "unknown check id": (
        _set("checks", "made-up-check", value={"category": "syntax", "severity": "low", "title": "x"}),
        "checks.made-up-check",
    ),
    "all weights zero": (_zero_weights, "categories"),
    "negative weight": (_set("categories", "security", "weight", value=-0.25), "categories.security.weight"),
    "infinite weight": (
        _set("categories", "security", "weight", value=float("inf")),
        "categories.security.weight",
    ),
    "not-a-number weight": (
        _set("categories", "security", "weight", value=float("nan")),
        "categories.security.weight",
    ),
    "text weight": (_set("categories", "security", "weight", value="heavy"), "categories.security.weight"),
    "infinite penalty": (_set("severities", "critical", value=float("inf")), "severities"),
    "negative penalty": (_set("severities", "low", value=-4), "severities"),
    "infinite check weight": (lambda d: _first_check(d).update(weight=float("inf")), ".weight"),
    "negative check weight": (lambda d: _first_check(d).update(weight=-1), ".weight"),
    "unknown category of a check": (lambda d: _first_check(d).update(category="style"), ".category"),
    "unknown severity of a check": (lambda d: _first_check(d).update(severity="dire"), ".severity"),
    "unknown key": (_set("colour", value="red"), "colour"),
    "unknown check option": (
        _set("checks", "tags-missing", "options", value={"required_tag": ["Team"]}),
        "checks.tags-missing.options.required_tag",
    ),
    "check option of the wrong type": (
        _set("checks", "dlq-missing", "options", value={"scheduled_rules": "sometimes"}),
        "checks.dlq-missing.options.scheduled_rules",
    ),
    "missing categories": (lambda d: d.pop("categories"), "categories"),
}


@pytest.mark.parametrize("defect", sorted(RUBRIC_DEFECTS))
def test_bad_rubric_stops_before_any_work(tmp_path: Path, defect: str) -> None:
    change, key = RUBRIC_DEFECTS[defect]
    path = _edit(tmp_path, change)
    code, output, out = _grade(tmp_path, "--rubric", str(path))
    assert code == 2, output
    assert "rubric error" in output and str(path) in output and key in output, output
    _nothing_written(out)


def _with_duplicate(tmp_path: Path, where: str) -> tuple[Path, str, int, int]:
    """The dev rubric with one key given twice: (file, dotted key, first line, second line)."""
    data = yaml.safe_load(dev_rubric(tmp_path).read_text())
    check_id = next(iter(data["checks"]))
    data["checks"] = data.pop("checks")  # last, so a check can be appended at the end
    text = yaml.safe_dump(data, sort_keys=False, width=10_000)
    lines = text.splitlines()
    at = lines.index(f"  {check_id}:") + 1  # 1-based line of the check's id
    if where == "check id":
        text += f"  {check_id}:\n    category: syntax\n    severity: low\n    title: again\n"
        key, first, second = f"checks.{check_id}", at, len(lines) + 1
    else:  # a field twice in one check: a new first `severity`, the original one now repeats it
        text = text.replace(f"  {check_id}:\n", f"  {check_id}:\n    severity: low\n", 1)
        original = next(n for n in range(at + 1, len(lines) + 1) if lines[n - 1].startswith("    severity:"))
        key, first, second = f"checks.{check_id}.severity", at + 1, original + 1
    path = tmp_path / "dup-rubric.yaml"
    path.write_text(text)
    return path, key, first, second


@pytest.mark.parametrize("where", ["check id", "field of a check"])
def test_duplicate_rubric_key_stops_before_any_work(tmp_path: Path, where: str) -> None:
    path, key, first, second = _with_duplicate(tmp_path, where)
    assert yaml.safe_load(path.read_text())  # plain YAML would load it, silently keeping the last
    code, output, out = _grade(tmp_path, "--rubric", str(path))
    assert code == 2, output
    assert "rubric error" in output and str(path) in output, output
    assert f"line {second}: {key}: duplicate key (first at line {first})" in output, output
    _nothing_written(out)


def test_each_defect_is_really_only_that_defect(tmp_path: Path) -> None:
    # The edits must change the rubric (a no-op edit would make the tests above vacuous).
    base = dev_rubric(tmp_path).read_text()
    for defect in RUBRIC_DEFECTS:
        assert _edit(tmp_path, RUBRIC_DEFECTS[defect][0]).read_text() != base, defect
    load_rubric(dev_rubric(tmp_path))  # the unedited rubric loads


def test_missing_rubric_file(tmp_path: Path) -> None:
    code, output, out = _grade(tmp_path, "--rubric", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml" in output and "cannot read" in output
    _nothing_written(out)


def test_rubric_that_is_a_folder(tmp_path: Path) -> None:
    code, output, out = _grade(tmp_path, "--rubric", str(tmp_path))
    assert code == 2 and str(tmp_path) in output
    _nothing_written(out)


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_scaffold_that_is_not_a_folder(tmp_path: Path, kind: str) -> None:
    scaffold = tmp_path / "scaffold"
    if kind == "a file":
        scaffold.write_text("tap.py")
    code, output, out = _grade(tmp_path, "--scaffold", str(scaffold))
    assert code == 2 and "--scaffold" in output and str(scaffold) in output, output
    _nothing_written(out)


def test_scaffold_checked_by_the_library_too(tmp_path: Path) -> None:
    """Callers of iacgrade.graders.pipeline.grade (not the CLI) get the same early, clear error."""
    options = iacgrade.graders.pipeline.GradeOptions(
        out=tmp_path / "out", scaffold=tmp_path / "absent", synth=False
    )
    with pytest.raises((ValueError, OSError)) as info:
        iacgrade.graders.pipeline.grade([SAMPLES], options)
    assert "absent" in str(info.value) and "scaffold" in str(info.value)
    _nothing_written(tmp_path / "out")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--timeout", "0"),
        ("--timeout", "-5"),
        ("--timeout", "nan"),
        ("--workers", "-1"),
        ("--max-bytes", "0"),
        ("--scratch-mb", "4"),
    ],
)
def test_nonsense_numbers_are_refused(tmp_path: Path, option: str, value: str) -> None:
    code, output, out = _grade(tmp_path, option, value)
    assert code == 2 and option in output, output
    _nothing_written(out)


def test_isolation_must_be_known(tmp_path: Path) -> None:
    code, output, out = _grade(tmp_path, "--isolation", "chroot")
    assert code == 2 and "--isolation" in output
    _nothing_written(out)


def test_out_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("not a folder")
    result = runner.invoke(
        app, ["grade", str(SAMPLES), "--out", str(target), "--quiet", "--rubric", str(dev_rubric(tmp_path))]
    )
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and str(target) in output, output
    assert target.read_text() == "not a folder"


def test_default_rubric_is_untouched() -> None:
    # Belt and braces: these tests edit copies only.
    load_rubric(DEFAULT_RUBRIC)
    with pytest.raises(RubricError):
        load_rubric(DEFAULT_RUBRIC.parent / "no-such-rubric.yaml")
