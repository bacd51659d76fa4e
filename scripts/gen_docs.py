"""Regenerate docs/checks.md from the checks' docstrings."""

from pathlib import Path

from iacgrade.graders.rubric import load_rubric
from iacgrade.reports.docs import checks_markdown

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    (ROOT / "docs" / "checks.md").write_text(checks_markdown(load_rubric()))
    print("wrote docs/checks.md")
