"""The source model: the answer's own code as its kind reads it.

Each kind of answer gives one (graders.kinds): CDK Python its files parsed with ``ast`` (the
analysis model of graders.analysis.model is built on it once per answer, a ``view``); CDK
TypeScript its files' text (with their tree-sitter syntax trees as a view, graders.analysis.tsast)
and the compiler's diagnostics against aws-cdk-lib's types; a
CloudFormation answer its template text. Source-lens checks read it, and say which kinds they
can read; on any other kind they are handed an empty one.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from iacgrade.graders.analysis.pyast import parse_module
from iacgrade.graders.models import Diagnostic, Evidence, ExtractedFile

_T = TypeVar("_T")


@dataclass
class SourceFile:
    """One file of the answer's code (or an inline Lambda body): its text and, for Python, its parse."""

    path: str
    text: str
    tree: ast.Module | None
    syntax_error: SyntaxError | None
    extracted: ExtractedFile | None = None
    # For inline code: the file and line of the call that holds it.
    inline_of: tuple[str, int] | None = None

    def md_line(self, line: int | None) -> int | None:
        if line is None or self.extracted is None:
            return None
        return self.extracted.md_line(line)


@dataclass
class SourceModel:
    """The files of the answer's code; what else a kind knows of them is in its subclass's fields."""

    files: list[SourceFile] = field(default_factory=list)
    # The compiler's errors on the files (a typed kind: CDK TypeScript), from the build's type check.
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # What several checks derive from the files, built once per answer (see ``view``).
    _views: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def view(self, name: str, build: Callable[[], _T]) -> _T:
        """A view of the files that several checks read (the Python analysis model of
        graders.analysis.model, the IAM statements, the API constructs), built by ``build`` on
        first use and kept for every check of this answer. Checks only read it."""
        if name not in self._views:
            self._views[name] = build()
        return cast(_T, self._views[name])

    def parsed(self) -> Iterator[SourceFile]:
        """The files that have a syntax tree (Python files that parse)."""
        for src in self.files:
            if src.tree is not None:
                yield src

    def readable(self) -> bool:
        """Whether the source lens has anything to judge, so that a category can be scored from it
        when there is no template. Only a kind whose source-lens checks read the code says yes."""
        return False

    def at(self, src: SourceFile, node: ast.AST | int, value: str | None = None) -> Evidence:
        """Evidence for a node (or line) of a source file: file:line plus the markdown line."""
        line = node if isinstance(node, int) else getattr(node, "lineno", None)
        if src.inline_of is not None:
            file, call_line = src.inline_of
            outer = next((s for s in self.files if s.path == file), None)
            return Evidence(
                file=f"{file} (inline code, line {line})",
                line=call_line,
                md_line=outer.md_line(call_line) if outer else None,
                value=value,
            )
        return Evidence(file=src.path, line=line, md_line=src.md_line(line), value=value)


def parse_source(path: str, text: str, extracted: ExtractedFile | None = None) -> SourceFile:
    try:
        tree = parse_module(text, filename=path)
        return SourceFile(path, text, tree, None, extracted)
    except SyntaxError as exc:
        return SourceFile(path, text, None, exc, extracted)
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        err = SyntaxError(str(exc) or type(exc).__name__)
        err.lineno = 1
        return SourceFile(path, text, None, err, extracted)
