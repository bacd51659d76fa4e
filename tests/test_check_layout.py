"""The rules the check package keeps: one check per file, named and filed by its id and category,
and no check importing another. (That a check reports only through the lenses it declares is
asserted on every fixture by test_check_fixtures.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from iacgrade.graders.checks import registry
from iacgrade.graders.rubric import load_rubric

CHECKS = Path(__file__).resolve().parent.parent / "graders" / "checks"
MODULES = sorted(p for p in CHECKS.glob("*/*.py") if p.name != "__init__.py")


def _check_calls(tree: ast.Module) -> list[tuple[ast.FunctionDef, str]]:
    """Each function decorated with @check(...) and the id it registers."""
    found = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            if isinstance(dec, ast.Call) and getattr(dec.func, "id", None) == "check":
                arg = dec.args[0]
                assert isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                found.append((node, arg.value))
    return found


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_one_check_per_file_named_and_filed_by_its_id(path: Path) -> None:
    tree = ast.parse(path.read_text())
    [(fn, check_id)] = _check_calls(tree)
    assert path.stem == check_id.replace("-", "_") == fn.name
    first_def = next(n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef))
    options = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name.endswith("Options")]
    # the check comes first; only its options model may stand above it
    assert first_def is fn or first_def in options, f"{path.name}: the @check function is not first"
    spec = load_rubric().checks.get(check_id)
    assert spec is not None, f"{check_id} has no rubric entry"
    assert path.parent.name == spec.category


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_no_check_module_imports_another(path: Path) -> None:
    categories = {p.name for p in CHECKS.iterdir() if p.is_dir()}
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            assert not (parts[:2] == ["graders", "checks"] and len(parts) > 2 and parts[2] in categories), (
                f"{path.name} imports {name}"
            )


def test_every_registered_check_lives_in_its_own_file() -> None:
    for check_id, info in registry().items():
        assert (
            info.path
            == f"graders/checks/{load_rubric().checks[check_id].category}/{check_id.replace('-', '_')}.py"
        )
