"""The packages depend one way: reports/ renders graders' models, graders/ never imports reports/.

The pipeline is handed its renderers (`iacgrade.graders.pipeline.Writers`) by the layer above (cli.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import in ``tree``, at any depth (function-level imports too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def imports_of(package: str, target: str) -> list[str]:
    """``file:line module`` for each import of ``target`` (or a module in it) under ``package``."""
    hits = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if "fixtures" in path.relative_to(ROOT).parts:
            continue  # the answers of check fixtures, not the project's code
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in _imported_modules(tree):
            if module == target or module.startswith(target + "."):
                hits.append(f"{path.relative_to(ROOT).as_posix()}:{line} {module}")
    return hits


def test_graders_never_imports_reports() -> None:
    assert imports_of("graders", "iacgrade.reports") == []


def test_the_rule_sees_every_form_of_import() -> None:
    source = "import iacgrade.reports\nimport iacgrade.reports.markdown as m\ndef f():\n    from iacgrade.reports.sarif import x\n"
    assert [m for _, m in _imported_modules(ast.parse(source))] == [
        "iacgrade.reports",
        "iacgrade.reports.markdown",
        "iacgrade.reports.sarif",
    ]
    assert imports_of("reports", "iacgrade.graders"), "reports/ reads graders' models: the scan should see it"


@pytest.mark.parametrize("folder", ["graders", "reports", "iacgrade", "tests", "scripts"])
def test_one_import_namespace(folder: str) -> None:
    """graders, reports and cli are imported only as iacgrade.graders, iacgrade.reports and
    iacgrade.cli: the bare names are not what the wheel installs, and importing a module under two
    names makes two copies of it (two registries, two classes of one name)."""
    bare = [hit for top in ("graders", "reports", "cli") for hit in imports_of(folder, top)]
    assert bare == []


def test_the_pipeline_renders_only_what_it_is_handed(tmp_path: Path) -> None:
    from iacgrade.graders.pipeline import GradeOptions, grade
    from iacgrade.reports.writers import run_writers

    answer = ROOT / "samples" / "no_code_RESPONSE.md"
    grade([answer], GradeOptions(out=tmp_path / "bare", synth=False, use_cache=False))
    assert [p.name for p in (tmp_path / "bare").rglob("result.json")] == ["result.json"]
    assert not list((tmp_path / "bare").rglob("report.md"))
    options = GradeOptions(out=tmp_path / "ci", synth=False, use_cache=False, formats=["junit"])
    with pytest.raises(ValueError, match="junit"):
        grade([answer], options)  # asked for a format nobody renders: refused before any work
    assert not (tmp_path / "ci").exists()
    grade([answer], options, writers=run_writers())
    assert len(list((tmp_path / "ci").rglob("report.md"))) == 1 and (tmp_path / "ci" / "junit.xml").is_file()


def test_a_report_that_cannot_be_rendered_does_not_end_the_run(tmp_path: Path) -> None:
    from iacgrade.graders.pipeline import GradeOptions, Writers, grade
    from iacgrade.reports.markdown import render_report

    def render(result, *args, **kwargs):  # type: ignore[no-untyped-def]
        if result.sample_id == "good_api_RESPONSE":
            raise KeyError("confirmed_by")
        return render_report(result, *args, **kwargs)

    answers = [ROOT / "samples" / "good_api_RESPONSE.md", ROOT / "samples" / "no_code_RESPONSE.md"]
    outcome = grade(
        answers, GradeOptions(out=tmp_path, synth=False, use_cache=False), writers=Writers(render)
    )
    assert len(outcome.results) == 2
    broken = (tmp_path / "good_api_RESPONSE" / "report.md").read_text()
    assert "could not be rendered" in broken and "KeyError" in broken
    assert "could not be rendered" not in (tmp_path / "no_code_RESPONSE" / "report.md").read_text()


def test_the_pipeline_loads_no_table_or_markdown_library_until_it_needs_one() -> None:
    """pandas (~0.3 s to import) is for the tables and markdown-it for extraction: the library's
    Session, serve and a run whose answers all come from the cache start without them."""
    import subprocess
    import sys

    code = (
        "import sys, iacgrade.graders.pipeline, iacgrade.graders.cache;"
        "print(sorted(m for m in ('pandas', 'markdown_it') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
