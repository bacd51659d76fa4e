"""scripts/new_check.py writes a check module, two fixtures and a rubric entry in the right place."""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import new_check  # noqa: E402


def _project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "rubric.yaml", tmp_path / "rubric.yaml")
    (tmp_path / "graders" / "checks" / "security").mkdir(parents=True)
    (tmp_path / "tests" / "fixtures" / "checks").mkdir(parents=True)
    return tmp_path


def test_writes_the_module_fixtures_and_rubric_entry(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert (
        new_check.main(["queue-unencrypted", "security", "--lenses", "source,template", "--root", str(root)])
        == 0
    )
    module = root / "graders" / "checks" / "security" / "queue_unencrypted.py"
    tree = ast.parse(module.read_text())
    [fn] = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert fn.name == "queue_unencrypted" and 'kinds=("cdk-python",)' in module.read_text()
    fixtures = sorted(
        p.name for p in (root / "tests" / "fixtures" / "checks" / "queue-unencrypted").iterdir()
    )
    assert fixtures == ["bad_example.py", "good_example.py"]
    checks = yaml.safe_load((root / "rubric.yaml").read_text())["checks"]
    names = list(checks)
    at = names.index("queue-unencrypted")
    # right after the last security check, before the first check of the next category
    assert checks[names[at - 1]]["category"] == "security"
    assert checks[names[at + 1]]["category"] != "security"
    assert checks["queue-unencrypted"] == {
        "category": "security",
        "severity": "medium",
        "title": "Queue unencrypted",
        "fix": "(one sentence: what to change)",
    }


@pytest.mark.parametrize(
    "args",
    [
        ["Bad_Id", "security"],
        ["x-check", "nowhere"],
        ["s3-public-access", "security"],
        ["x-check", "security", "--lenses", "eyes"],
    ],
)
def test_refuses_what_would_break_the_project(tmp_path: Path, args: list[str]) -> None:
    root = _project(tmp_path)
    with pytest.raises(SystemExit) as stop:
        new_check.main([*args, "--root", str(root)])
    assert stop.value.code == 2
    assert (root / "rubric.yaml").read_text() == (ROOT / "rubric.yaml").read_text()
