"""inline-code-error: inline Lambda code that cannot run: unparsable, missing imports, unavailable modules, a wrong handler or a context attribute that does not exist."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyflakes.checker
import pyflakes.messages

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.inline import InlineCode, pair_inline_code
from iacgrade.graders.analysis.pyflakes_run import flakes
from iacgrade.graders.checks import check
from iacgrade.graders.models import Evidence


@check(
    "inline-code-error",
    lenses=("source", "template"),
    kinds=("cdk-python", "cdk-typescript", "cdk-javascript"),
)
def inline_code_error(ctx: CheckContext) -> Iterator[Hit]:
    """Inline Lambda code that cannot run: unparsable, missing imports, unavailable modules or a wrong handler.

    What it finds: the code given to `Code.from_inline(...)` / `InlineCode(...)` (resolved
    through constants, helper methods, `textwrap.dedent` and f-strings) and the template's
    `Code.ZipFile`, judged like a file of its own: Python that does not parse (including code
    indented as a whole, which Lambda rejects with "unexpected indent"), names used but never
    imported (`boto3`, `json`, `logging`, ...), a handler whose module is not `index` (inline
    code is always saved as index.py / index.js) or whose function the code does not define, and
    Node.js code that requires modules its runtime does not provide (`aws-sdk` v2 on nodejs18.x
    and later, which ship only the v3 `@aws-sdk/*` clients; `aws-xray-sdk-core` on any runtime),
    Python code of a template function with no layers that imports, at its top level, modules
    beyond the standard library and boto3 (`pymysql`, `requests`), and a Python handler that
    reads an attribute its context object does not have (`context.environment_variables`,
    `context.request_id`: the Python runtime's context carries `aws_request_id`,
    `function_name`, `get_remaining_time_in_millis()` and a few more; environment variables are
    in `os.environ`). In CDK TypeScript and JavaScript the code of `Code.fromInline(...)` /
    `new InlineCode(...)` is read (a template string's `${...}` parts stand for a value).

    Why it matters: CloudFormation deploys such a function without complaint; it fails on its
    first invocation (ImportModuleError, NameError, "Cannot find module", AttributeError).

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


# ---- inline-code-error ---------------------------------------------------------------------------
@dataclass
class _Problem:
    text: str
    # (line of the inline code or None, the quoted bit) for each place it shows
    places: list[tuple[int | None, str | None]] = field(default_factory=list)


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
    assert s is not None and s.src is not None and s.call_line is not None
    return f"inline:{s.src.path}:{s.call_line}"


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
    for msg in flakes(src):
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
    unavailable = _python_unavailable(ic, src.tree)
    if unavailable:
        names = ", ".join(f"`{m}`" for m in unavailable)
        lacks = f"the {ic.runtime} runtime" if ic.runtime else "the Lambda Python runtime"
        problems.append(
            _Problem(
                f"imports {names}, which {lacks} does not provide and inline code cannot bundle"
                " (only the standard library and boto3 are there)",
                [(line, f"import {m}") for m, line in unavailable.items()],
            )
        )
    handler = _handler_problem(ic, _python_top_level_names(src.tree))
    if handler:
        problems.append(handler)
    unknown = _context_attributes(ic, src.tree)
    if unknown:
        uses = ", ".join(f"`{text}` (its line {line})" for line, text in unknown)
        attributes = {text.rpartition(".")[2] for _, text in unknown}
        hints = sorted({_CONTEXT_HINTS[a] for a in attributes if a in _CONTEXT_HINTS})
        problems.append(
            _Problem(
                f"reads {uses}, which the Lambda context object does not have: the handler raises"
                " AttributeError there" + (f" ({'; '.join(hints)})" if hints else ""),
                list(unknown),
            )
        )
    return problems


# What the Python runtime's context object carries (awslambdaric's LambdaContext, and its
# tenant_id since 2025): any other attribute read on it raises AttributeError.
_CONTEXT_ATTRIBUTES = frozenset(
    {
        "aws_request_id",
        "log_group_name",
        "log_stream_name",
        "function_name",
        "function_version",
        "memory_limit_in_mb",
        "invoked_function_arn",
        "client_context",
        "identity",
        "tenant_id",
        "get_remaining_time_in_millis",
        "log",
    }
)
_CONTEXT_HINTS = {
    "environment_variables": "environment variables are in `os.environ`",
    "environment": "environment variables are in `os.environ`",
    "env": "environment variables are in `os.environ`",
    "request_id": "the request id is `aws_request_id`",
    "awsRequestId": "the Python names are snake_case: `aws_request_id`",
    "functionName": "the Python names are snake_case: `function_name`",
    "getRemainingTimeInMillis": "the Python names are snake_case: `get_remaining_time_in_millis`",
}


def _context_attributes(ic: InlineCode, tree: ast.Module) -> list[tuple[int, str]]:
    """(line, `context.attr`) for each attribute the handler reads on its context parameter that
    the Lambda context object lacks. Only the handler the function names, only its own second
    parameter, and nothing when the handler rebinds it or a nested function takes the same name;
    a read the code guards (``hasattr(context, "x")``, ``except AttributeError``) is left alone."""
    if not ic.handler or "." not in ic.handler:
        return []
    name = ic.handler.rpartition(".")[2]
    fn = next(
        (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name),
        None,
    )
    params = [*fn.args.posonlyargs, *fn.args.args] if fn is not None else []
    if fn is None or len(params) < 2:
        return []
    param = params[1].arg
    guarded = {
        n.args[1].value
        for n in ast.walk(fn)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id == "hasattr"
        and len(n.args) == 2
        and isinstance(n.args[0], ast.Name)
        and n.args[0].id == param
        and isinstance(n.args[1], ast.Constant)
    }
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, caught: bool) -> bool:
        """False when ``param`` is rebound below ``node`` (its reads then prove nothing);
        ``caught``: below a ``try`` that catches AttributeError."""
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                inner = child.args
                if any(a.arg == param for a in [*inner.posonlyargs, *inner.args, *inner.kwonlyargs]):
                    continue  # a parameter of its own shadows the handler's
            if isinstance(child, ast.Name) and child.id == param and not isinstance(child.ctx, ast.Load):
                return False
            if (
                not caught
                and isinstance(child, ast.Attribute)
                and isinstance(child.value, ast.Name)
                and child.value.id == param
                and isinstance(child.ctx, ast.Load)
                and child.attr not in _CONTEXT_ATTRIBUTES
                and child.attr not in guarded
                and not child.attr.startswith("_")
            ):
                found.append((child.lineno, f"{param}.{child.attr}"))
            if isinstance(child, ast.Try) and _catches_attribute_error(child):
                rest = [*child.handlers, *child.orelse, *child.finalbody]
                if not all(visit(part, True) for part in child.body):
                    return False
                if not all(visit(part, caught) for part in rest):
                    return False
                continue
            if not visit(child, caught):
                return False
        return True

    if not visit(fn, False):
        return []
    first: dict[str, int] = {}
    for line, text in found:
        first.setdefault(text, line)
    return [(line, text) for text, line in first.items()]


# What a Lambda Python runtime has besides the standard library: boto3 and its dependencies, and
# the cfnresponse module CloudFormation adds to ZipFile code.
_PYTHON_RUNTIME_MODULES = frozenset(
    {
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "dateutil",
        "urllib3",
        "six",
        "awslambdaric",
        "cfnresponse",
    }
)


def _python_unavailable(ic: InlineCode, tree: ast.Module) -> dict[str, int]:
    """Modules the code imports at its top level (unguarded) that the runtime does not have, with
    their lines; only for a template function that adds no layers (a layer may provide them)."""
    if ic.resource is None or ic.resource.properties.get("Layers"):
        return {}
    missing: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            roots = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            roots = [node.module.split(".")[0]]
        else:
            continue  # imports under try/except ImportError or inside functions are left alone
        for root in roots:
            if root not in sys.stdlib_module_names and root not in _PYTHON_RUNTIME_MODULES:
                missing.setdefault(root, node.lineno)
    return missing


def _catches_attribute_error(node: ast.Try) -> bool:
    """True when one of the handlers of ``node`` names AttributeError (alone or in a tuple)."""
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(k, ast.Name) and k.id == "AttributeError" for k in kinds):
            return True
    return False


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
            if module == "cfn-response":
                continue  # CloudFormation adds it to ZipFile code
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
