"""Check docs: every docstring has its headings, and docs/checks.md is up to date."""

from __future__ import annotations

from pathlib import Path

from iacgrade.graders.checks import registry
from iacgrade.graders.rubric import load_rubric
from iacgrade.reports.docs import checks_markdown, missing_headings

ROOT = Path(__file__).resolve().parent.parent


def test_every_check_docstring_has_the_headings() -> None:
    bad = {cid: missing_headings(info) for cid, info in registry().items() if missing_headings(info)}
    assert not bad, f"checks whose docstring lacks headings: {bad}"


def test_docs_checks_md_is_current() -> None:
    current = (ROOT / "docs" / "checks.md").read_text()
    assert current == checks_markdown(load_rubric()), "docs/checks.md is stale: run `make docs`"


def test_every_check_names_its_own_file() -> None:
    for cid, info in registry().items():
        assert info.path.startswith("graders/checks/") and info.path.endswith(f"/{cid.replace('-', '_')}.py")
        assert (ROOT / info.path).is_file(), info.path
