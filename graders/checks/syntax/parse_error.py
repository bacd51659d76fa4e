"""parse-error: a Python file of the answer does not parse."""

from __future__ import annotations

import io
import tokenize
from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.pyast import parse_module
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.synth_failure import failure_where
from iacgrade.graders.checks import check
from iacgrade.graders.models import Evidence


# ---- parse-error ---------------------------------------------------------------------------------
@check(
    "parse-error",
    lenses=("source", "synth"),
    kinds=("cdk-python", "cloudformation-yaml", "cloudformation-json", "cdk-typescript", "cdk-javascript"),
)
def parse_error(ctx: CheckContext) -> Iterator[Hit]:
    """A Python file of the answer does not parse.

    What it finds: every Python file the answer gives that `ast.parse` rejects, with the
    SyntaxError's message and line (and every CloudFormation template the decoder rejects); a file whose error sits at its very end (an unclosed
    bracket, an unterminated string) is called out as cut off. Inline Lambda code that does
    not parse is reported by `inline-code-error` instead.

    Why it matters: a file that does not parse cannot be imported, so nothing in the app
    synthesizes; a truncated answer is also an incomplete one.

    Bad example:

        CfnOutput(
            self, "ServiceName",
            value=self.service.service_name
        # the answer stops here

    A TypeScript or JavaScript file that does not parse is found by the build (the transpiler's
    syntax errors, or Node's), with its file:line.

    Fix: Complete or correct the file so that it parses (`python -m py_compile file.py`).
    """
    if ctx.kind in ("cdk-typescript", "cdk-javascript"):
        yield from _node_parse_error(ctx)
        return
    for src in ctx.source.files:
        err = src.syntax_error
        if err is None:
            continue
        line = err.lineno or 1
        lines = src.text.splitlines()
        text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        cut_off = _looks_cut_off(src, err)
        # A decoder's message may name the line itself (cfn-lint's "Duplicate found 'X' (line 52)").
        where = "" if (err.msg or "").endswith(f"(line {line})") else f" (line {line})"
        message = f"`{src.path}` does not parse: {err.msg}{where}"
        if cut_off:
            message += "; the file ends in the middle of a statement, the answer looks cut off"
        yield Hit(message, [ctx.source.at(src, line, value=text or None)], key=src.path, lens="source")
        synth = ctx.synth
        if synth.cause == "syntax" and synth.file == src.path:
            value = f"{synth.error_type or 'SyntaxError'}: {synth.message or err.msg}"
            yield Hit(
                message,
                [
                    Evidence(
                        file=src.path,
                        line=synth.line or line,
                        md_line=src.md_line(synth.line or line),
                        value=value,
                    )
                ],
                key=src.path,
                lens="synth",
            )


def _node_parse_error(ctx: CheckContext) -> Iterator[Hit]:
    """The build's parse failure of a TypeScript/JavaScript file (no syntax tree of ours to read)."""
    synth = ctx.synth
    if synth.cause != "syntax":
        return
    text = (synth.message or "").removeprefix(f"{synth.error_type or 'SyntaxError'}: ")
    if synth.file and synth.line:
        text = text.removeprefix(f"{synth.file}:{synth.line}: ")
    where = f"`{synth.file}`" if synth.file else "a file of the answer"
    line = f" (line {synth.line})" if synth.line else ""
    yield Hit(
        f"{where} does not parse: {text.strip() or 'syntax error'}{line}",
        [failure_where(ctx, synth.file, synth.line, synth.message)],
        key=synth.file or "syntax",
        lens="synth",
    )


def _looks_cut_off(src: SourceFile, err: SyntaxError) -> bool:
    """The file ends in the middle of a statement: closing what is open at its end makes it parse,
    or the error sits in its last lines."""
    msg = err.msg or ""
    lines = [n for n, text in enumerate(src.text.splitlines(), 1) if text.strip()]
    near_end = bool(lines) and lines[-1] - (err.lineno or 0) <= 8
    if "unexpected EOF" in msg or "EOF while" in msg or "unterminated triple-quoted" in msg:
        return True
    if "end of stream" in msg and near_end:  # YAML read to its end with a node still open
        return True
    if "was never closed" in msg:
        return near_end or _parses_when_closed(src.text)
    if "unterminated string literal" in msg:
        return bool(lines) and lines[-1] == err.lineno
    if "expected an indented block" in msg:
        return bool(lines) and lines[-1] - (err.lineno or 0) <= 1
    return False


_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _parses_when_closed(text: str) -> bool:
    """Whether appending the closing brackets still open at the end of ``text`` makes it parse."""
    stack: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.OP and tok.string in _PAIRS:
                stack.append(_PAIRS[tok.string])
            elif tok.type == tokenize.OP and tok.string in _PAIRS.values() and stack:
                stack.pop()
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # EOF inside a bracket: the stack is what is still open
    if not stack:
        return False
    closed = text.rstrip().rstrip(",") + "".join(reversed(stack)) + "\n"
    try:
        parse_module(closed)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
