"""Syntax checks: files that do not parse, missing and unused imports, broken inline Lambda code.

Inline Lambda code is judged by ``inline-code-error`` only (its parse errors and undefined names
are not repeated under ``parse-error``/``undefined-name``); its unused imports do count under
``unused-import``, like any file of the answer.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyflakes.checker
import pyflakes.messages

from graders.checks import check
from graders.checks._ast import walk
from graders.checks._inline import InlineCode, pair_inline_code
from graders.checks.context import CheckContext, Hit, SourceFile
from graders.models import Evidence

# SyntaxError messages that mean "the text stops before the statement does".
# SyntaxError messages raised only when the text ends inside a bracket, string or statement.
_ENDS_INSIDE = re.compile(r"was never closed|unexpected EOF|EOF while|unterminated triple-quoted")


# ---- parse-error ---------------------------------------------------------------------------------
@check("parse-error", lenses=("source", "synth"))
def parse_error(ctx: CheckContext) -> Iterator[Hit]:
    """A Python file of the answer does not parse.

    What it finds: every Python file the answer gives that `ast.parse` rejects, with the
    SyntaxError's message and line; a file whose error sits at its very end (an unclosed
    bracket, an unterminated string) is called out as cut off. Inline Lambda code that does
    not parse is reported by `inline-code-error` instead.

    Why it matters: a file that does not parse cannot be imported, so nothing in the app
    synthesizes; a truncated answer is also an incomplete one.

    Bad example:

        CfnOutput(
            self, "ServiceName",
            value=self.service.service_name
        # the answer stops here

    Fix: Complete or correct the file so that it parses (`python -m py_compile file.py`).
    """
    for src in ctx.sources:
        err = src.syntax_error
        if err is None:
            continue
        line = err.lineno or 1
        lines = src.text.splitlines()
        text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        cut_off = _looks_cut_off(src, err)
        message = f"`{src.path}` does not parse: {err.msg} (line {line})"
        if cut_off:
            message += "; the file ends in the middle of a statement, the answer looks cut off"
        yield Hit(message, [ctx.at(src, line, value=text or None)], key=src.path, lens="source")
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


def _looks_cut_off(src: SourceFile, err: SyntaxError) -> bool:
    """The file ends in the middle of a statement: closing what is open at its end makes it parse,
    or the error sits in its last lines."""
    msg = err.msg or ""
    lines = [n for n, text in enumerate(src.text.splitlines(), 1) if text.strip()]
    near_end = bool(lines) and lines[-1] - (err.lineno or 0) <= 8
    if "unexpected EOF" in msg or "EOF while" in msg or "unterminated triple-quoted" in msg:
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
        ast.parse(closed)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


# ---- undefined-name ------------------------------------------------------------------------------
@check("undefined-name")
def undefined_name(ctx: CheckContext) -> Iterator[Hit]:
    """Names used but never imported or defined (missing imports).

    What it finds: pyflakes' undefined names in every Python file of the answer that parses,
    one finding per file listing each name and where it is first used. Files with a star import
    are judged by pyflakes' own rules (names that may come from the star are not reported), and
    names used only in annotations that are never evaluated (string annotations, or
    `from __future__ import annotations`) are left out.

    Why it matters: the first use raises NameError: at synth time for stack code, at run time
    for Lambda handlers.

    Bad example:

        from aws_cdk import aws_cloudwatch as cloudwatch
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))  # never imported

    Fix: Import every module and name the code uses (`from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions`).
    """
    for src in ctx.parsed():
        names: dict[str, int] = {}
        for msg in _flakes(src):
            if isinstance(msg, pyflakes.messages.UndefinedName):
                name = str(msg.message_args[0])
                if name not in names and not _in_lazy_annotation(src, msg.lineno, msg.col):
                    names[name] = msg.lineno
        if not names:
            continue
        listed = ", ".join(f"`{n}` (line {line})" for n, line in names.items())
        message = (
            f"`{src.path}` uses {listed} without importing or defining {'it' if len(names) == 1 else 'them'}"
        )
        evidence = [ctx.at(src, line, value=name) for name, line in names.items()]
        yield Hit(message, evidence, key=src.path)


def _flakes(src: SourceFile) -> list[pyflakes.messages.Message]:
    assert src.tree is not None
    try:
        return list(pyflakes.checker.Checker(src.tree, filename=src.path).messages)
    except (RecursionError, ValueError):  # absurd nesting: nothing reliable to say
        return []


def _in_lazy_annotation(src: SourceFile, line: int, col: int) -> bool:
    """Whether (line, col) is inside an annotation Python never evaluates."""
    assert src.tree is not None
    future = any(
        isinstance(n, ast.ImportFrom)
        and n.module == "__future__"
        and any(a.name == "annotations" for a in n.names)
        for n in src.tree.body
    )
    for node in walk(src.tree):
        annotations: list[ast.expr | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            annotations = [a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs]
            annotations += [a.annotation for a in (args.vararg, args.kwarg) if a is not None]
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        for ann in annotations:
            if ann is None or not _contains(ann, line, col):
                continue
            if future or isinstance(ann, ast.Constant) or _inside_string(ann, line, col):
                return True
    return False


def _contains(node: ast.AST, line: int, col: int) -> bool:
    start = (node.lineno, node.col_offset)  # type: ignore[attr-defined]
    end = (node.end_lineno or node.lineno, node.end_col_offset or 0)  # type: ignore[attr-defined]
    return start <= (line, col) <= end


def _inside_string(node: ast.AST, line: int, col: int) -> bool:
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and _contains(n, line, col)
        for n in walk(node)
    )


# ---- unused-import -------------------------------------------------------------------------------
@check("unused-import", lenses=("source", "template"))
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
    for src in ctx.parsed():
        if src.path.rsplit("/", 1)[-1] == "__init__.py" or _imports_only(src):
            continue
        found = list(_unused_imports(src))
        if found:
            names = ", ".join(f"`{text}` (line {line})" for text, line in found)
            yield Hit(
                f"`{src.path}` imports {names} but never uses {'it' if len(found) == 1 else 'them'}",
                [ctx.at(src, line, value=text) for text, line in found],
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
    for msg in _flakes(src):
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


# ---- inline-code-error ---------------------------------------------------------------------------
@dataclass
class _Problem:
    text: str
    # (line of the inline code or None, the quoted bit) for each place it shows
    places: list[tuple[int | None, str | None]] = field(default_factory=list)


@check("inline-code-error", lenses=("source", "template"))
def inline_code_error(ctx: CheckContext) -> Iterator[Hit]:
    """Inline Lambda code that cannot run: unparsable, missing imports, unavailable modules or a wrong handler.

    What it finds: the code given to `Code.from_inline(...)` / `InlineCode(...)` (resolved
    through constants, helper methods, `textwrap.dedent` and f-strings) and the template's
    `Code.ZipFile`, judged like a file of its own: Python that does not parse (including code
    indented as a whole, which Lambda rejects with "unexpected indent"), names used but never
    imported (`boto3`, `json`, `logging`, ...), a handler whose module is not `index` (inline
    code is always saved as index.py / index.js) or whose function the code does not define, and
    Node.js code that requires modules its runtime does not provide (`aws-sdk` v2 on nodejs18.x
    and later, which ship only the v3 `@aws-sdk/*` clients; `aws-xray-sdk-core` on any runtime).

    Why it matters: CloudFormation deploys such a function without complaint; it fails on its
    first invocation (ImportModuleError, NameError, "Cannot find module").

    Bad example:

        lambda_.Function(self, "Fn", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
            code=lambda_.Code.from_inline('''
        def handler(event, context):
            return boto3.client("s3").list_buckets()   # boto3 never imported
        '''))

    Fix: Import every module the handler uses, name the handler `index.<function>`, use the
    AWS SDK v3 on Node.js 18+, or ship the code as an asset with its dependencies.
    """
    units: dict[str, _InlineUnit] = {}
    for s, t in pair_inline_code(ctx):
        # the template holds exactly what deploys; the source lens decides when there is none
        judged = t if t is not None and (t.exact or s is None or not s.exact) else s
        assert judged is not None
        problems = _inline_problems(judged)
        if not problems:
            continue
        # candidates of one call (a helper returning one of several codes) make one finding
        unit = units.setdefault(_inline_key(s, t), _InlineUnit(judged.label, judged.runtime))
        unit.codes += 1
        unit.texts += [p.text for p in problems if p.text not in unit.texts]
        if s is not None:
            exact_lines = s is judged or (t is not None and s.code.strip() == t.code.strip())
            unit.source += [
                s.evidence(ctx, line if exact_lines else None, value=value)
                for p in problems
                for line, value in p.places
            ]
        if t is not None and t.resource is not None:
            unit.template.append(
                t.resource.evidence(value=problems[0].places[0][1] if problems[0].places else None)
            )
    for key, unit in units.items():
        runtime = f" ({unit.runtime})" if unit.runtime else ""
        several = f" (each of the {unit.codes} handlers it is given)" if unit.codes > 1 else ""
        message = f"inline code of `{unit.label}`{runtime}{several} " + "; ".join(unit.texts)
        if unit.source:
            yield Hit(message, _unique(unit.source), key=key, lens="source")
        if unit.template:
            yield Hit(message, _unique(unit.template), key=key, lens="template")


@dataclass
class _InlineUnit:
    label: str
    runtime: str | None
    codes: int = 0
    texts: list[str] = field(default_factory=list)
    source: list[Evidence] = field(default_factory=list)
    template: list[Evidence] = field(default_factory=list)


def _inline_key(s: InlineCode | None, t: InlineCode | None) -> str:
    if t is not None:
        return f"inline:{t.resource.logical_id if t.resource else t.label}"
    assert s is not None and s.src is not None and s.call is not None
    return f"inline:{s.src.path}:{s.call.lineno}"


def _unique(evidence: list[Evidence]) -> list[Evidence]:
    out: list[Evidence] = []
    for ev in evidence:
        if ev not in out:
            out.append(ev)
    return out


def _inline_problems(ic: InlineCode) -> list[_Problem]:
    if ic.language == "python":
        return _python_problems(ic)
    if ic.language == "node":
        return _node_problems(ic)
    return []


def _python_problems(ic: InlineCode) -> list[_Problem]:
    src = ic.as_source()
    if src.tree is None:
        err = src.syntax_error
        if not ic.exact or err is None:
            return []  # f-string parts were replaced: a parse error may be ours
        line = err.lineno or 1
        lines = ic.code.splitlines()
        text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        if err.msg == "unexpected indent" and _indented_as_a_whole(ic.code):
            return [
                _Problem(
                    "is indented as a whole (no `textwrap.dedent`): Python rejects it with "
                    f"'unexpected indent' at its line {line}",
                    [(line, text or None)],
                )
            ]
        return [_Problem(f"does not parse: {err.msg} (its line {line})", [(line, text or None)])]
    problems: list[_Problem] = []
    undefined: dict[str, int] = {}
    for msg in _flakes(src):
        if isinstance(msg, pyflakes.messages.UndefinedName):
            undefined.setdefault(str(msg.message_args[0]), msg.lineno)
    if undefined:
        names = ", ".join(f"`{n}` (its line {line})" for n, line in undefined.items())
        problems.append(
            _Problem(
                f"uses {names} without importing or defining {'it' if len(undefined) == 1 else 'them'}",
                [(line, name) for name, line in undefined.items()],
            )
        )
    handler = _handler_problem(ic, _python_top_level_names(src.tree))
    if handler:
        problems.append(handler)
    return problems


def _indented_as_a_whole(code: str) -> bool:
    lines = [line for line in code.splitlines() if line.strip()]
    return bool(lines) and all(line[:1] in (" ", "\t") for line in lines)


def _python_top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _handler_problem(ic: InlineCode, defined: set[str] | None) -> _Problem | None:
    handler = ic.handler
    if not handler or "." not in handler or not ic.exact:
        return None
    module, _, function = handler.rpartition(".")
    if module != "index":
        ext = "py" if ic.language == "python" else "js"
        return _Problem(
            f"is run with handler `{handler}`, but inline code is deployed as `index.{ext}`, "
            f"so module `{module}` does not exist",
            [(None, f"handler={handler!r}")],
        )
    if defined is not None and function not in defined:
        functions = ", ".join(f"`{n}`" for n in sorted(defined) if n[:1].islower()) or "no function"
        return _Problem(
            f"is run with handler `{handler}`, but defines no `{function}` (it defines {functions})",
            [(None, f"handler={handler!r}")],
        )
    return None


_REQUIRE = re.compile(
    r"""\brequire\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+(?:[\w*{}\s,]+\s+from\s+)?['"]([^'"]+)['"]"""
)
_NODE_BUILTINS = {
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "fs/promises",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "stream/promises",
    "string_decoder",
    "sys",
    "timers",
    "timers/promises",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "util/types",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
}


def _node_major(runtime: str | None) -> int | None:
    m = re.match(r"nodejs(\d+)", runtime or "")
    return int(m.group(1)) if m else None


def _node_problems(ic: InlineCode) -> list[_Problem]:
    major = _node_major(ic.runtime)
    missing: dict[str, int] = {}
    for n, line in enumerate(ic.code.splitlines(), 1):
        for m in _REQUIRE.finditer(line):
            module = m.group(1) or m.group(2)
            if module.startswith((".", "/", "node:")) or module in _NODE_BUILTINS:
                continue
            if module.startswith("@aws-sdk/") and (major is None or major >= 18):
                continue
            if module == "aws-sdk" and (major is None or major < 18):
                continue
            missing.setdefault(module, n)
    problems: list[_Problem] = []
    if missing:
        names = ", ".join(f"`{m}`" for m in missing)
        lacks = f"the {ic.runtime} runtime" if ic.runtime else "the Lambda Node.js runtime"
        sdk = (
            " (Node.js 18+ runtimes ship only the AWS SDK v3 `@aws-sdk/*` clients)"
            if "aws-sdk" in missing
            else ""
        )
        problems.append(
            _Problem(
                f"requires {names}, which {lacks} does not provide and inline code cannot bundle{sdk}",
                [(line, f"require('{m}')") for m, line in missing.items()],
            )
        )
    handler = _handler_problem(ic, None)
    if handler:
        problems.append(handler)
    return problems
