"""unused-import: imports never used."""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pyflakes.checker
import pyflakes.messages

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.inline import pair_inline_code
from iacgrade.graders.analysis.pyast import walk
from iacgrade.graders.analysis.pyflakes_run import flakes
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.checks import check


# ---- unused-import -------------------------------------------------------------------------------
@check("unused-import", lenses=("source", "template"), kinds=("cdk-python",))
def unused_import(ctx: CheckContext) -> Iterator[Hit]:
    """Imports never used.

    What it finds: pyflakes' unused imports in every Python file of the answer that parses
    (unit tests and Lambda handlers included) and in inline Lambda code, one finding per file.
    `__init__.py` files (re-exports), files that do not parse (whose unused imports are
    often an artefact of a cut-off answer) and blocks of nothing but imports (a file's header
    sketched in prose) are skipped.

    Why it matters: dead imports mislead the reader about what the code uses, slow the import
    of Lambda handlers and often hint at code that was planned but never written.

    Bad example:

        import json                      # never used
        from aws_cdk import aws_kms as kms   # never used

    Fix: Remove the imports the code does not use.
    """
    for src in ctx.source.parsed():
        if src.path.rsplit("/", 1)[-1] == "__init__.py" or _imports_only(src):
            continue
        found = list(_unused_imports(src))
        if found:
            names = ", ".join(f"`{text}` (line {line})" for text, line in found)
            yield Hit(
                f"`{src.path}` imports {names} but never uses {'it' if len(found) == 1 else 'them'}",
                [ctx.source.at(src, line, value=text) for text, line in found],
                key=src.path,
            )
    for s, t in pair_inline_code(ctx):
        ic = s if s is not None and s.exact else t if t is not None and t.exact else s
        if ic is None or ic.language != "python":
            continue
        inline = ic.as_source()
        if inline.tree is None:
            continue
        found = list(_unused_imports(inline))
        if not found:
            continue
        names = ", ".join(f"`{text}`" for text, _ in found)
        key = f"inline-import:{ic.label}:{hash(ic.code)}"
        message = f"inline code of `{ic.label}` imports {names} but never uses {'it' if len(found) == 1 else 'them'}"
        if s is not None:
            exact_lines = s is ic or s.code.strip() == ic.code.strip()
            yield Hit(
                message,
                [s.evidence(ctx, line if exact_lines else None, value=text) for text, line in found],
                key=key,
            )
        if t is not None and t.resource is not None:
            yield Hit(message, [t.resource.evidence(value=names)], key=key, lens="template")


def _imports_only(src: SourceFile) -> bool:
    """A block of nothing but imports (an answer sketching a file's header): nothing uses them yet."""
    body = list(src.tree.body) if src.tree is not None else []
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # the module docstring
    return bool(body) and all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in body)


def _unused_imports(src: SourceFile) -> Iterator[tuple[str, int]]:
    """(the import as written, its line) for each unused import of a parsed file."""
    assert src.tree is not None
    statements = {
        node.lineno: node for node in walk(src.tree) if isinstance(node, (ast.Import, ast.ImportFrom))
    }
    for msg in flakes(src):
        if not isinstance(msg, pyflakes.messages.UnusedImport):
            continue
        display = str(msg.message_args[0])
        stmt = statements.get(msg.lineno)
        alias = _alias_of(stmt, display) if stmt is not None else None
        if alias is None:
            yield display, msg.lineno
            continue
        text = alias.name + (f" as {alias.asname}" if alias.asname else "")
        yield text, getattr(alias, "lineno", msg.lineno)


def _alias_of(stmt: ast.Import | ast.ImportFrom, display: str) -> ast.alias | None:
    bound = display.split(" as ")[-1]
    for alias in stmt.names:
        name = alias.asname or alias.name
        if name == bound or display == alias.name or display.endswith("." + name):
            return alias
    return None
