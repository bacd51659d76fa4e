"""Small AST helpers shared by the source lens of the checks."""

from __future__ import annotations

import ast
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

_MISSING = object()
_T = TypeVar("_T")

# The checks walk the same trees many times (every check, every helper index). Within one
# answer's run_checks the walks are memoised: `memo_scope()` opens a per-thread memo that
# `walk` and `parents` fill, keyed by node identity (the node is kept in the entry, so an id
# cannot be reused while the scope lives), and drops it when the answer is done.
_local = threading.local()

# CPython 3.11 keeps the AST constructor's recursion depth in state the threads share, so two
# threads building trees at once can fail with "SystemError: AST constructor recursion depth
# mismatch" (gh-106905; seen here on a corpus run). Answers are graded on several threads: every
# parse of the grader goes through this lock.
_PARSE_LOCK = threading.Lock()


# The trees of the texts parsed last, by text (a tree does not depend on the file name, which only
# a SyntaxError carries): choosing the entry, placing the files, the source model and the CDK use
# analysis each parse an answer's files, ~4 parses of every file in a cold run of a corpus. The
# budget counts the texts' characters (a tree takes ~30 times its text, so ~30 MB): the answers in
# flight fit, a generated aws-cdk-lib module (megabytes, parsed once) is never kept.
_TREES: OrderedDict[str, ast.Module] = OrderedDict()
_TREES_BUDGET = 1 << 20
_trees_size = 0


def parse_module(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse`` of a module, safe to call from several threads.

    A text parsed a moment ago gives the same tree object again: callers read trees and never
    modify them (a transform works on a copy)."""
    global _trees_size
    with _PARSE_LOCK:
        tree = _TREES.get(source)
        if tree is not None:
            _TREES.move_to_end(source)
            return tree
        tree = ast.parse(source, filename=filename)
        if len(source) <= _TREES_BUDGET // 8:
            _TREES[source] = tree
            _trees_size += len(source)
            while _trees_size > _TREES_BUDGET:
                _trees_size -= len(_TREES.popitem(last=False)[0])
        return tree


def parse_expression(source: str) -> ast.Expression:
    """``ast.parse(source, mode="eval")``, safe to call from several threads."""
    with _PARSE_LOCK:
        return ast.parse(source, mode="eval")


@contextmanager
def memo_scope() -> Iterator[None]:
    """Memoise tree walks for the duration of the block (one answer's build: choosing its entry,
    placing its files, its checks). Inside an open scope, the outer one goes on serving."""
    if getattr(_local, "memo", None) is not None:
        yield
        return
    _local.memo = {}
    try:
        yield
    finally:
        _local.memo = None


def memoised(kind: str, node: ast.AST, build: Callable[[], _T]) -> _T:
    """``build()``, kept for ``node`` under ``kind`` inside `memo_scope` (built every time outside)."""
    memo: dict[tuple[str, int], tuple[ast.AST, Any]] | None = getattr(_local, "memo", None)
    if memo is None:
        return build()
    key = (kind, id(node))
    hit = memo.get(key)
    if hit is None or hit[0] is not node:
        hit = (node, build())
        memo[key] = hit
    return hit[1]  # type: ignore[no-any-return]


def walk(node: ast.AST) -> Sequence[ast.AST]:
    """``ast.walk(node)`` as a sequence (same order), memoised inside `memo_scope`."""
    return memoised("walk", node, lambda: tuple(ast.walk(node)))


def dotted(node: ast.AST) -> str:
    """`a.b.c` for a Name/Attribute chain (calls in the chain shown as `()`), else ''."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            break
        elif isinstance(node, ast.Call):
            parts.append("()")
            node = node.func
        else:
            return ".".join(reversed(parts)) if parts else ""
    return ".".join(reversed(parts))


def call_name(call: ast.Call) -> str:
    """Last component of what is called: `Table` for `dynamodb.Table(...)`."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def iter_calls(tree: ast.AST, *names: str) -> Iterator[ast.Call]:
    """Every call in the tree, or those whose last name component is one of ``names``."""
    wanted = set(names)
    calls: Sequence[ast.Call] = memoised(
        "calls", tree, lambda: tuple(n for n in walk(tree) if isinstance(n, ast.Call))
    )
    for node in calls:
        if not wanted or call_name(node) in wanted:
            yield node


def kwarg(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def has_kwarg(call: ast.Call, name: str) -> bool:
    return kwarg(call, name) is not None


def literal(node: ast.AST | None, default: Any = _MISSING) -> Any:
    """The Python value of a literal node, else ``default`` (or raise ValueError when none given)."""
    if node is None:
        if default is _MISSING:
            raise ValueError("no node")
        return default
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        if default is _MISSING:
            raise ValueError(ast.dump(node)[:80]) from None
        return default


def str_literal(node: ast.AST | None) -> str | None:
    """The string when ``node`` is a plain string constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def is_fully_literal_string(node: ast.AST | None) -> bool:
    """True for a string constant, or an f-string / concatenation / format with no variable part."""
    if node is None:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return is_fully_literal_string(node.left) and is_fully_literal_string(node.right)
    return False


def construct_id(call: ast.Call) -> str | None:
    """The construct id of `Construct(scope, "Id", ...)`: the second positional argument as a string."""
    if len(call.args) >= 2:
        node = call.args[1]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            # f"Table{suffix}" -> "Table{}" so it still names the construct recognisably
            return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)  # type: ignore[misc]
    kw = kwarg(call, "id") or kwarg(call, "construct_id")
    return str_literal(kw)


def segment(text: str, node: ast.AST, limit: int = 120) -> str:
    """The source text of a node, on one line and cut to ``limit`` characters."""
    try:
        seg = source_segment(text, node) or ""
    except (IndexError, ValueError):
        seg = ""
    seg = " ".join(seg.split())
    return seg if len(seg) <= limit else seg[: limit - 1] + "…"


def source_segment(text: str, node: ast.AST) -> str | None:
    """``ast.get_source_segment(text, node)``, with the text's lines split once for all its nodes
    (the standard function splits the whole text again for every node it is asked about)."""
    try:
        if node.end_lineno is None or node.end_col_offset is None:  # type: ignore[attr-defined]
            return None
        first, last = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined]
        start, end = node.col_offset, node.end_col_offset  # type: ignore[attr-defined]
    except AttributeError:
        return None
    lines = _lines(text)
    if first == last:
        return lines[first].encode()[start:end].decode()
    head = lines[first].encode()[start:].decode()
    tail = lines[last].encode()[:end].decode()
    return "".join([head, *lines[first + 1 : last], tail])


@lru_cache(maxsize=8)
def _lines(text: str) -> tuple[str, ...]:
    """The text's lines with their endings, split where the parser splits (CRLF, CR, LF only):
    ``ast._splitlines_no_ff``, which does it one character at a time in Python."""
    return tuple(_LINE.findall(text))


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Map each node to its parent (memoised inside `memo_scope`: do not modify the result)."""

    def build() -> dict[ast.AST, ast.AST]:
        out: dict[ast.AST, ast.AST] = {}
        for node in walk(tree):
            for child in ast.iter_child_nodes(node):
                out[child] = node
        return out

    return memoised("parents", tree, build)


def scope_nodes(scope: ast.AST) -> Sequence[ast.AST]:
    """Nodes of a scope without descending into nested functions, lambdas or classes (memoised
    inside `memo_scope`)."""
    return memoised("scope", scope, lambda: tuple(_scope_nodes(scope)))


def _scope_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))
