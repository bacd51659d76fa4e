"""Render a run comparison (`iacgrade.graders.compare.Comparison`) as markdown with jinja2."""

from __future__ import annotations

from iacgrade.graders.compare import Comparison, fmt_delta
from iacgrade.reports.templating import markdown_environment

__all__ = ["comparison_markdown"]

_ENV = markdown_environment()
_ENV.filters["delta"] = fmt_delta
_ENV.filters["mean"] = lambda value: "–" if value is None else f"{value:.1f}"

# Answers listed by id in each list (lost, recovered, unpaired); the JSON has every one.
LISTED = 50


def comparison_markdown(c: Comparison) -> str:
    """The comparison as a markdown report."""
    return _ENV.get_template("comparison.md.j2").render(c=c, listed=LISTED)
