"""The jinja2 environment the markdown documents (a sample's report, a run comparison) render in."""

from __future__ import annotations

from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"


class _BestEffortBytecodeCache(jinja2.FileSystemBytecodeCache):
    """jinja2's bytecode cache in its per-user folder of the system temp dir (made 0700 and checked
    to be the user's own, as the compiled code is loaded from there); a write that fails only
    means the next process compiles the template again."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    # Compiling the report template takes ~0.1 s, a tenth of a cached re-grade of 120 answers;
    # the cache is keyed by the template's source, so an edited template is compiled afresh.
    try:
        return _BestEffortBytecodeCache()
    except (OSError, RuntimeError):  # no temp dir of our own: compile in every process
        return None


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
        bytecode_cache=_bytecode_cache(),
    )
