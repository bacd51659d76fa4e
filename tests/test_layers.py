"""The packages depend one way: reports/ renders graders' models, graders/ never imports reports/.

The pipeline is handed its renderers (`graders.pipeline.Writers`) by the layer above (cli.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

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
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in _imported_modules(tree):
            if module == target or module.startswith(target + "."):
                hits.append(f"{path.relative_to(ROOT).as_posix()}:{line} {module}")
    return hits


def test_graders_never_imports_reports() -> None:
    assert imports_of("graders", "reports") == []


def test_the_rule_sees_every_form_of_import() -> None:
    source = "import reports\nimport reports.markdown as m\ndef f():\n    from reports.sarif import x\n"
    assert [m for _, m in _imported_modules(ast.parse(source))] == [
        "reports",
        "reports.markdown",
        "reports.sarif",
    ]
    assert imports_of("reports", "graders"), "reports/ reads graders' models: the scan should see it"
