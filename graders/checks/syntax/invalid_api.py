"""invalid-api: wrong use of the CDK API: attributes, members, keywords or types aws-cdk-lib v2 does not have."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.jstext import COMMENT_OR_STRING
from iacgrade.graders.analysis.pyast import walk
from iacgrade.graders.analysis.synth_failure import (
    Failure,
    attempt_failures,
    cdk_use,
    current_failure,
    failure_source,
    failure_where,
    one_line,
)
from iacgrade.graders.checks import check


# ---- invalid-api ---------------------------------------------------------------------------------
@check("invalid-api", lenses=("source", "synth"), kinds=("cdk-python", "cdk-typescript", "cdk-javascript"))
def invalid_api(ctx: CheckContext) -> Iterator[Hit]:
    """Wrong use of the CDK API: attributes, members, keywords or types aws-cdk-lib v2 does not have.

    What it finds: through the source lens, every call and attribute that resolves (through the
    file's own `aws_cdk` imports) to the installed aws-cdk-lib and does not fit it: a member that
    does not exist (`logs.RetentionDays.THIRTY_DAYS`), a keyword the constructor does not take
    (`ec2.CfnPlacementGroup(group_name=...)`), a required argument left out or passed as None,
    a literal of the wrong type (`max_image_age=1` where a Duration is required), CDK v1 APIs
    (`from aws_cdk import core`, `node.apply_aspect`); variables assigned one CDK construct are
    followed, so `self.asg.metric_cpu_utilization()` is checked too. Through the synth lens, the
    error synth raised from such a use (also when a fallback got past it). The source lens
    finds the errors masked behind the first one synth stops at. For CDK TypeScript, the
    compiler's errors on aws-cdk-lib's types (an unknown prop or member, a value of the wrong
    type) with their file:line; not those on the answer's own classes and interfaces.

    Why it matters: each of these raises at synth time (TypeError, AttributeError, jsii
    "Unable to deserialize value"), so the app never produces a template.

    Bad example:

        logs.LogGroup(self, "Logs", retention=logs.RetentionDays.THIRTY_DAYS)   # no such member
        ecr.LifecycleRule(max_image_age=1)                                      # needs Duration.days(1)

    Fix: Use the members, keywords and types the aws-cdk-lib v2 API reference lists
    (`RetentionDays.ONE_MONTH`, `Duration.days(1)`, `Aspects.of(app).add(...)`).
    """
    spans: list[tuple[str, int, int, str]] = []  # file, first line, last line, key
    for src in ctx.source.parsed():
        for err in cdk_use(src.path, src.text).errors:
            line = getattr(err.node, "lineno", 1)
            key = f"api:{err.code}:{err.message}"  # one mistake repeated on several lines is one finding
            whole = err.call or err.node  # synth reports the line the call starts on
            first = getattr(whole, "lineno", line)
            spans.append((src.path, first, getattr(whole, "end_lineno", first) or first, key))
            yield Hit(err.message, [ctx.source.at(src, err.node, value=err.code)], key=key, lens="source")
    yield from _compiler_errors(ctx, spans)
    answer_classes = _answer_classes(ctx)
    failures = attempt_failures(ctx) + [f for f in [current_failure(ctx)] if f is not None]
    for failure in failures:
        if failure.cause != "invalid-api" or not _answer_api_use(ctx, failure, answer_classes):
            continue
        text = one_line(failure.message, failure.error_type)
        key = (
            _matching_span(spans, failure.file, failure.line) or f"synth:{failure.file}:{failure.line}:{text}"
        )
        where = f" at {failure.file}:{failure.line}" if failure.file else ""
        message = f"synth raised {failure.error_type}{where}: {text}"
        yield Hit(
            message,
            [failure_where(ctx, failure.file, failure.line, f"{failure.error_type}: {text}")],
            key=key,
            lens="synth",
        )


# A type a TypeScript diagnostic names: `type 'BucketProps'`, `type 'typeof import(".../aws-ec2/index")'`.
_TS_TYPE = re.compile(r"type '([^']+)'")
_TS_DECLARED = re.compile(r"\b(?:class|interface|type|enum)\s+([A-Za-z_$][\w$]*)")


def _compiler_errors(ctx: CheckContext, spans: list[tuple[str, int, int, str]]) -> Iterator[Hit]:
    """A typed answer's compiler errors on aws-cdk-lib's API (CDK TypeScript: an unknown prop or
    member, a wrong type for a prop, a missing required prop), with the compiler's file:line.

    Only an error that names a type or an aws-cdk-lib module (`Namespace '"aws-cdk-lib"' has no
    exported member 'Construct'`: a CDK v1 name), none of them the answer's own (a property missing on its own
    `DatabaseStack`, a prop its own `TapStackProps` does not declare, is a mistake in the answer's
    wiring, reported by type-error and synth-failed, not a misuse of the CDK API)."""
    from iacgrade.graders.kinds.cdk_typescript import diagnostic_category

    if not ctx.source.diagnostics:
        return
    own = {name for f in ctx.files for name in _TS_DECLARED.findall(f.content)}
    texts = {f.path: f.content for f in ctx.files}
    for diag in ctx.source.diagnostics:
        code, message = diag.code, one_line(diag.message, "")
        if code is None or diagnostic_category(code) != "invalid-api":
            continue
        types = [re.sub(r"<.*", "", t).removeprefix("typeof ").strip() for t in _TS_TYPE.findall(message)]
        if any(t in own for t in types) or not (types or "aws-cdk-lib" in message):
            continue
        file, line = diag.file or None, diag.line
        key = f"tsc:{code}:{message}"  # one mistake repeated on several lines is one finding
        if file is not None and line is not None:
            # The compiler points at the wrong prop; synth's error at the line the call starts on.
            opened = _call_start(texts.get(file, ""), line, diag.column or 1)
            spans.append((file, opened, line, key))
        where = f" at {file}:{line}" if file else ""
        yield Hit(
            f"the compiler rejects a use of aws-cdk-lib{where}: TS{code}: {message}",
            [failure_where(ctx, file, line, f"TS{code}: {message}")],
            key=key,
        )


# What the scan of TypeScript text below skips: a comment or a string literal.
_TS_SKIP = re.compile(COMMENT_OR_STRING, re.S)


def _call_start(text: str, line: int, column: int) -> int:
    """The line on which the outermost call of the expression holding ``line:column`` (1-based)
    of TypeScript ``text`` opens its parenthesis; ``line`` itself when no call holds it.

    The expression ends at a block's brace (a function or class body, ``else {``): a call
    outside the block is another statement's."""
    lines = text.splitlines(keepends=True)
    if not 1 <= line <= len(lines):
        return line
    end = sum(len(x) for x in lines[: line - 1]) + max(column - 1, 0)
    opened: list[int] = []  # offsets of the brackets open at the scan's position
    pos = 0
    while pos < end:
        skip = _TS_SKIP.match(text, pos)
        if skip is not None and skip.end() > pos:
            pos = skip.end()
            continue
        char = text[pos]
        if char in "([{":
            opened.append(pos)
        elif char in ")]}" and opened:
            opened.pop()
        pos += 1
    call = None
    for at in reversed(opened):
        if text[at] == "{" and _TS_BLOCK.search(text, 0, at):
            break
        if text[at] == "(":
            call = at
    return line if call is None else text.count("\n", 0, call) + 1


# What comes before a brace that opens a block, not an object literal: `) {`, `=> {`, `else {`,
# `class Name {`, `): Type {` (a word other than those that precede a value).
_TS_BLOCK = re.compile(r"(?:\)|=>|(?<![\w$])(?!(?:return|yield|await|typeof|case)\s*$)[\w$]+)\s*$")


def _answer_classes(ctx: CheckContext) -> set[str]:
    return {n.name for src in ctx.source.parsed() for n in walk(src.tree) if isinstance(n, ast.ClassDef)}  # type: ignore[arg-type]


def _answer_api_use(ctx: CheckContext, failure: Failure, classes: set[str]) -> bool:
    """Whether a synth error is the answer misusing CDK's API (not an entry/scaffold mismatch).

    Not when it names one of the answer's own classes (`TapStack.__init__() got an unexpected
    keyword 'props'`), when it was raised outside the answer's files (the scaffold's tap.py), or
    at a `super().__init__(..., **kwargs)` line that only forwards what its caller passed.
    """
    if re.search(r"\b\w+_alpha\b", failure.message):
        return False  # an alpha package the sandbox lacks (a separate pip package): not an API misuse
    names = re.findall(
        r"\b([A-Z]\w*)\.__init__\(\)|'([A-Z]\w*)' object|type object '([A-Z]\w*)'|"
        r"cannot import name '(\w+)'",
        failure.message,
    )
    if {n for group in names for n in group if n} & classes:
        return False
    src = failure_source(ctx, failure.file)
    if failure.file and src is None and failure.file not in {f.path for f in ctx.files}:
        return False  # raised in a file the answer did not give (a kind without a source model has none)
    if src is not None and src.tree is not None and failure.line is not None:
        for node in walk(src.tree):
            if (
                isinstance(node, ast.Call)
                and node.lineno <= failure.line <= (node.end_lineno or node.lineno)
                and _is_super_init(node)
                and any(k.arg is None for k in node.keywords)
            ):
                return False
    return True


def _is_super_init(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "__init__"
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "super"
    )


def _matching_span(spans: list[tuple[str, int, int, str]], file: str | None, line: int | None) -> str | None:
    """The source finding whose node covers synth's file:line (innermost first)."""
    if not file or line is None:
        return None
    covering = [s for s in spans if s[0] == file and s[1] <= line <= s[2]]
    if not covering:
        return None
    return min(covering, key=lambda s: s[2] - s[1])[3]
