"""The jinja2 environment the markdown documents (a sample's report, a run comparison) render in."""

from __future__ import annotations

from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"


def markdown_environment() -> jinja2.Environment:
    """Templates from reports/templates; markdown, so nothing is escaped; a missing name is an error."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=False,  # markdown, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        # The templates ship with the package: a template once compiled is used as is, not
        # stat-ed again before each of a run's reports.
        auto_reload=False,
    )
