"""Inline Lambda code of an answer: found in the source and in the synthesized template.

Source: the string given to ``lambda_.Code.from_inline(...)``, ``lambda_.InlineCode(...)`` or the
CDK v1 ``Code.inline(...)``, resolved through simple names bound to string constants, helper
methods that return one (or a dict of them), ``textwrap.dedent``/``inspect.cleandoc``/``.strip()``
and f-strings (their ``{...}`` parts replaced by a neutral ``0``; such code is "inexact").
Template: ``Code.ZipFile`` of ``AWS::Lambda::Function`` resources (``Fn::Join`` parts that are
intrinsics replaced the same way).

Each piece becomes a :class:`InlineCode` with its language (from the function's runtime, else
guessed from the text), its handler and the construct id of its function, so checks can judge it
like a file of its own and point at the outer file's lines.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iacgrade.graders.analysis.context import CheckContext
from iacgrade.graders.analysis.model import names, template_key
from iacgrade.graders.analysis.pyast import (
    call_name,
    construct_id,
    dotted,
    kwarg,
    parents,
    parse_module,
    scope_nodes,
    segment,
    walk,
)
from iacgrade.graders.analysis.source import SourceFile, parse_source
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.analysis.tsast import TsFile, ts_files
from iacgrade.graders.models import Evidence

if TYPE_CHECKING:
    from tree_sitter import Node as TsNode

PLACEHOLDER = "0"  # stands for an f-string's {...}: a valid expression inside or outside quotes


@dataclass
class InlineCode:
    code: str
    exact: bool  # False when f-string/intrinsic parts were replaced by PLACEHOLDER
    language: str | None  # "python" | "node" | None (unknown)
    runtime: str | None  # "python3.11", "nodejs18.x" when known
    handler: str | None
    construct: str | None  # construct id of the function (f-string parts as "{}")
    construct_text: str | None = None  # the id as written when it is not a plain string: f"{name}-fn"
    # source lens
    src: SourceFile | None = None
    call_line: int | None = None  # the line of the call that gives the code
    string_line: int | None = None  # the literal's line, when code line k is at that line + k - 1
    # template lens
    resource: Resource | None = None

    @property
    def label(self) -> str:
        if self.resource is not None and self.src is None:
            return self.resource.construct_id or self.resource.logical_id
        return self.construct_text or self.construct or "inline function"

    def as_source(self) -> SourceFile:
        """The code as a SourceFile of its own (``inline_of`` points at the outer file and call line)."""
        path = self.src.path if self.src else (self.resource.logical_id if self.resource else "inline")
        parsed = parse_source(f"{path} (inline code)", self.code)
        if self.src is not None and self.call_line is not None:
            parsed.inline_of = (self.src.path, self.call_line)
        return parsed

    def evidence(self, ctx: CheckContext, code_line: int | None = None, value: str | None = None) -> Evidence:
        """file:line of the outer file: the exact line when the literal maps 1:1, else the call line."""
        if self.resource is not None and self.src is None:
            return self.resource.evidence(value=value)
        assert self.src is not None and self.call_line is not None
        line = self.call_line
        if code_line is not None and self.string_line is not None:
            line = self.string_line + code_line - 1
        return Evidence(file=self.src.path, line=line, md_line=self.src.md_line(line), value=value)


# ---- source lens ---------------------------------------------------------------------------------
_INLINE_CALLS = {"from_inline", "InlineCode", "inline"}


def source_inline_code(src: SourceFile) -> Iterator[InlineCode]:
    """Inline Lambda code in one parsed answer file."""
    if src.tree is None:
        return
    tree = src.tree
    up = parents(tree)
    for call in walk(tree):
        if not isinstance(call, ast.Call) or not _is_lambda_inline(call, tree) or not call.args:
            continue
        owner = _owning_function_call(call, up, tree)
        runtime = _runtime(owner) if owner is not None else None
        handler = _str_const(kwarg(owner, "handler")) if owner is not None else None
        cid = construct_id(owner) if owner is not None else None
        cid_text = segment(src.text, owner.args[1], 60) if owner is not None and cid and "{}" in cid else None
        for text, exact, literal in _resolve_strings(call.args[0], tree, up, depth=0):
            language = _language(runtime, text)
            yield InlineCode(
                text,
                exact,
                language,
                runtime,
                handler,
                cid,
                cid_text,
                src=src,
                call_line=call.lineno,
                string_line=literal.lineno if exact and literal is not None else None,
            )


def typescript_inline_code(tsf: TsFile) -> Iterator[InlineCode]:
    """Inline Lambda code in a TypeScript/JavaScript file: `Code.fromInline(...)` and
    `new InlineCode(...)`, with the runtime and handler of the function it is given to."""
    given = [
        (c.node, c.args) for c in tsf.calls("fromInline") if (c.callee or "").endswith("Code.fromInline")
    ]
    given += [(n.node, n.args) for n in tsf.news() if n.cls == "InlineCode"]
    for node, args in sorted(given, key=lambda pair: pair[0].start_byte):
        if not args:
            continue
        owner = next((n for a in tsf.ancestors(node) if (n := tsf.new_call(a)) and len(n.args) >= 3), None)
        props = tsf.props(owner.arg(2)) if owner is not None else {}
        runtime_node, handler_node = props.get("runtime"), props.get("handler")
        runtime = _runtime_name(tsf.dotted(runtime_node) or "") if runtime_node is not None else None
        handler = tsf.literal(handler_node) if handler_node is not None else None
        id_node = owner.arg(1) if owner is not None else None
        cid = tsf.construct_id(id_node) if id_node is not None else None
        cid_text = tsf.segment(id_node, 60) if id_node is not None and cid and "{}" in cid else None
        code, string_line = _ts_code_text(tsf, args[0])
        if code is None:
            continue
        yield InlineCode(
            code,
            string_line is not None,
            _language(runtime, code),
            runtime,
            handler,
            cid,
            cid_text,
            src=tsf.src,
            call_line=tsf.line(node),
            string_line=string_line,
        )


def _ts_code_text(tsf: TsFile, node: TsNode) -> tuple[str | None, int | None]:
    """The code a string gives, `${...}` parts as PLACEHOLDER, and the line its first line is on
    when the code maps line for line onto the file (a template string with no substitution)."""
    value = tsf.resolve(node)
    exact = tsf.string(value)
    if exact is not None:
        return exact, tsf.line(value) if value.type == "template_string" else None
    if value.type == "template_string":
        parts = [
            PLACEHOLDER if c.type == "template_substitution" else tsf.string_piece(c)
            for c in value.named_children
        ]
        return "".join(parts), None
    if value.type == "binary_expression":  # 'line 1\n' + 'line 2\n'
        left, right = value.child_by_field_name("left"), value.child_by_field_name("right")
        lt = _ts_code_text(tsf, left)[0] if left is not None else None
        rt = _ts_code_text(tsf, right)[0] if right is not None else None
        return (lt + rt if lt is not None and rt is not None else None), None
    return None, None


def _is_lambda_inline(call: ast.Call, tree: ast.Module) -> bool:
    name = call_name(call)
    if name not in _INLINE_CALLS:
        return False
    func = dotted(call.func)
    if name in ("from_inline", "inline"):
        # lambda_.Code.from_inline / Code.inline; not cloudfront.FunctionCode or synthetics.Code
        owner = func.rsplit(".", 1)[0] if "." in func else ""
        if not owner.endswith("Code") or owner.endswith("FunctionCode"):
            return False
    head = func.split(".")[0]
    module = _import_module_of(head, tree)
    return (
        module is None
        or module in ("aws_cdk.aws_lambda", "aws_cdk")
        or module.startswith("aws_cdk.aws_lambda")
    )


def _import_module_of(name: str, tree: ast.Module) -> str | None:
    """The module a top-level import binds ``name`` to (``from aws_cdk import aws_lambda as lambda_``)."""
    for node in walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                if (a.asname or a.name) == name:
                    return (
                        f"{node.module}.{a.name}"
                        if node.module == "aws_cdk" and a.name.islower()
                        else node.module
                    )
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname == name:
                    return a.name
                if a.asname is None and a.name.split(".")[0] == name:
                    return name
    return None


def _owning_function_call(call: ast.Call, up: dict[ast.AST, ast.AST], tree: ast.Module) -> ast.Call | None:
    """The `Function(...)` call the inline code is given to: directly (`code=...`) or via a variable."""
    parent = up.get(call)
    if isinstance(parent, ast.keyword) and parent.arg == "code":
        owner = up.get(parent)
        return owner if isinstance(owner, ast.Call) else None
    if (
        isinstance(parent, ast.Assign)
        and len(parent.targets) == 1
        and isinstance(parent.targets[0], ast.Name)
    ):
        name = parent.targets[0].id
        users = [
            node
            for node in walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(kwarg(node, "code"), ast.Name)
            and kwarg(node, "code").id == name  # type: ignore[union-attr]
        ]
        return users[0] if len(users) == 1 else None
    return None


_RUNTIME_RE = re.compile(r"^(PYTHON|NODEJS)_(\d+)_(\d+|X)$")


def _runtime(owner: ast.Call) -> str | None:
    node = kwarg(owner, "runtime")
    return None if node is None else _runtime_name(dotted(node))


def _runtime_name(written: str) -> str | None:
    """`python3.12` for `lambda.Runtime.PYTHON_3_12`, `nodejs20.x` for `Runtime.NODEJS_20_X`."""
    name = written.rsplit(".", 1)[-1]
    m = _RUNTIME_RE.match(name)
    if not m:
        return None
    family, major, minor = m.groups()
    if family == "PYTHON":
        return f"python{major}.{minor}"
    return f"nodejs{major}.x" if minor == "X" else f"nodejs{major}.{minor}"


def _str_const(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _resolve_strings(
    node: ast.expr, tree: ast.Module, up: dict[ast.AST, ast.AST], depth: int
) -> Iterator[tuple[str, bool, ast.expr | None]]:
    """Possible string values of ``node``: (text, exact, the literal node when it is one)."""
    if depth > 6:
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value, True, node
    elif isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        exact = True
        for v in node.values:
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                parts.append(v.value)
            else:
                parts.append(PLACEHOLDER)
                exact = False
        yield "".join(parts), exact, node if exact else None
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        lefts = list(_resolve_strings(node.left, tree, up, depth + 1))
        rights = list(_resolve_strings(node.right, tree, up, depth + 1))
        if len(lefts) == 1 and len(rights) == 1:
            yield lefts[0][0] + rights[0][0], lefts[0][1] and rights[0][1], None
    elif isinstance(node, ast.Call):
        name = call_name(node)
        if name in ("dedent", "cleandoc") and node.args:
            fn = textwrap.dedent if name == "dedent" else inspect.cleandoc
            for text, exact, _ in _resolve_strings(node.args[0], tree, up, depth + 1):
                yield fn(text), exact, None
        elif name in ("strip", "lstrip", "rstrip") and isinstance(node.func, ast.Attribute) and not node.args:
            for text, exact, _ in _resolve_strings(node.func.value, tree, up, depth + 1):
                yield getattr(text, name)(), exact, None
        elif (
            isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "self"
        ):
            yield from _helper_method_strings(node, tree, up, depth)
    elif isinstance(node, ast.Name):
        value = single_binding(node, tree, up)
        if value is not None:
            yield from _resolve_strings(value, tree, up, depth + 1)
    elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        yield from _dict_values(node.value, tree, up, depth)


def _helper_method_strings(
    call: ast.Call, tree: ast.Module, up: dict[ast.AST, ast.AST], depth: int
) -> Iterator[tuple[str, bool, ast.expr | None]]:
    """`self._get_code(...)`: what the method of the same class returns (each branch, each dict value)."""
    assert isinstance(call.func, ast.Attribute)
    cls = up.get(call)
    while cls is not None and not isinstance(cls, ast.ClassDef):
        cls = up.get(cls)
    if not isinstance(cls, ast.ClassDef):
        return
    methods = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == call.func.attr]
    if len(methods) != 1:
        return
    for ret in walk(methods[0]):
        if not isinstance(ret, ast.Return) or ret.value is None:
            continue
        value = ret.value
        # `return codes.get(name, default)` / `return codes[name]`: every value of the dict
        if (
            isinstance(value, ast.Call)
            and call_name(value) == "get"
            and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name)
        ):
            yield from _dict_values(value.func.value, tree, up, depth)
        elif isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
            yield from _dict_values(value.value, tree, up, depth)
        else:
            yield from _resolve_strings(value, tree, up, depth + 1)


def _dict_values(
    name: ast.Name, tree: ast.Module, up: dict[ast.AST, ast.AST], depth: int
) -> Iterator[tuple[str, bool, ast.expr | None]]:
    value = single_binding(name, tree, up)
    if isinstance(value, ast.Dict):
        for v in value.values:
            yield from _resolve_strings(v, tree, up, depth + 1)


def single_binding(name: ast.Name, tree: ast.Module, up: dict[ast.AST, ast.AST]) -> ast.expr | None:
    """The one value a name is assigned in its function (else at module or class level)."""
    scope: ast.AST | None = up.get(name)
    while scope is not None and not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
        scope = up.get(scope)
    scopes: list[ast.AST] = [s for s in (scope, tree) if s is not None]
    for sc in scopes:
        values = [
            n.value
            for n in scope_nodes(sc)
            if isinstance(n, ast.Assign)
            and len(n.targets) == 1
            and isinstance(n.targets[0], ast.Name)
            and n.targets[0].id == name.id
        ]
        # class-level constants: `CODE = """..."""` in a class body, used as self.CODE is not handled
        if len(values) == 1:
            return values[0]
        if values:
            return None
    return None


_JS_HINTS = re.compile(
    r"\brequire\(|\bexports\.|\bmodule\.exports\b|=>|\bconst\s+\w+\s*=|\bawait\s|\bimport\s.+\sfrom\s+['\"]"
)


def _language(runtime: str | None, text: str) -> str | None:
    if runtime:
        return "python" if runtime.startswith("python") else "node" if runtime.startswith("nodejs") else None
    try:
        parse_module(textwrap.dedent(text))
        return "python"
    except (SyntaxError, ValueError):
        pass
    return "node" if _JS_HINTS.search(text) else None


# ---- template lens -------------------------------------------------------------------------------
def template_inline_code(ctx: CheckContext) -> Iterator[InlineCode]:
    """`Code.ZipFile` of the answer's Lambda functions (CDK helper functions excluded)."""
    for res in ctx.template.resources("AWS::Lambda::Function"):
        code = res.properties.get("Code")
        if not isinstance(code, dict) or "ZipFile" not in code:
            continue
        text, exact = _cfn_string(code["ZipFile"])
        if text is None:
            continue
        runtime = res.properties.get("Runtime") if isinstance(res.properties.get("Runtime"), str) else None
        handler = res.properties.get("Handler") if isinstance(res.properties.get("Handler"), str) else None
        yield InlineCode(
            text, exact, _language(runtime, text), runtime, handler, res.construct_id, resource=res
        )


def _cfn_string(value: object) -> tuple[str | None, bool]:
    if isinstance(value, str):
        return value, "${Token[" not in value
    if isinstance(value, dict) and len(value) == 1 and "Fn::Join" in value:
        parts = value["Fn::Join"]
        if (
            isinstance(parts, list)
            and len(parts) == 2
            and isinstance(parts[0], str)
            and isinstance(parts[1], list)
        ):
            out: list[str] = []
            exact = True
            for p in parts[1]:
                if isinstance(p, str):
                    out.append(p)
                else:
                    out.append(PLACEHOLDER)
                    exact = False
            return parts[0].join(out), exact
    return None, False


def pair_inline_code(ctx: CheckContext) -> list[tuple[InlineCode | None, InlineCode | None]]:
    """Source and template views of each inline function, paired by construct id.

    A source piece whose function is not in any template (never instantiated, or no template at
    all) stands alone; so does a template piece the source lens could not resolve.
    """
    sources = [ic for src in ctx.source.parsed() for ic in source_inline_code(src)]
    sources += [ic for tsf in ts_files(ctx.source) for ic in typescript_inline_code(tsf)]
    templates = list(template_inline_code(ctx))
    pairs: list[tuple[InlineCode | None, InlineCode | None]] = []
    used: set[int] = set()
    for s in sources:
        match = [
            i
            for i, t in enumerate(templates)
            if i not in used and t.resource is not None and names(s.construct, template_key(t.resource))
        ]
        if len(match) > 1:  # e.g. one construct id per environment: prefer the same code
            same = [i for i in match if _normalised(templates[i].code) == _normalised(s.code)]
            match = same[:1] or match[:1]
        if match:
            used.add(match[0])
            pairs.append((s, templates[match[0]]))
        else:
            pairs.append((s, None))
    pairs.extend((None, t) for i, t in enumerate(templates) if i not in used)
    return pairs


def _normalised(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())
