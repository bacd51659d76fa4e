"""Name bindings and construct ids for the source lens, and matching them to template resources.

The checks of ``deployment.py`` and ``iam.py`` need to follow a value through simple
assignments (``table = dynamodb.Table(self, "Orders")`` ... ``table.apply_removal_policy(...)``)
and to find the template resource a source construct became. Both are done conservatively:
a name bound more than once, a parameter or anything dynamic resolves to nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from iacgrade.graders.analysis.context import Resource, SourceFile
from iacgrade.graders.analysis.pyast import call_name, construct_id, parents, walk
from iacgrade.graders.paths import is_test_file

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
# Marks a name bound by something other than a plain assignment (parameter, loop, import, ...).
_OPAQUE = ast.Constant(value=None)
_MAX_DEPTH = 6


@dataclass
class SourceIndex:
    """Parents, scopes and single-assignment bindings of one parsed file."""

    src: SourceFile
    _parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    _bindings: dict[ast.AST, dict[str, list[ast.expr]]] = field(default_factory=dict)
    _self_attrs: dict[ast.AST, dict[str, list[ast.expr]]] = field(default_factory=dict)
    _calls: dict[str, list[ast.Call]] = field(default_factory=dict)
    _attr_loads: set[str] = field(default_factory=set)
    _strings: set[str] = field(default_factory=set)
    _line_starts: list[int] = field(default_factory=list)
    classes: list[ast.ClassDef] = field(default_factory=list)
    imports_cdk: bool = False

    def __post_init__(self) -> None:
        assert self.src.tree is not None
        self._parents = parents(self.src.tree)
        # one walk for what the checks look up again and again
        for node in walk(self.src.tree):
            if isinstance(node, ast.Call):
                self._calls.setdefault(call_name(node), []).append(node)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                self._attr_loads.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                self._strings.add(node.value)
            elif isinstance(node, ast.ClassDef):
                self.classes.append(node)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                self.imports_cdk = self.imports_cdk or _is_cdk_import(node)

    @property
    def tree(self) -> ast.Module:
        assert self.src.tree is not None
        return self.src.tree

    # ---- lookups -----------------------------------------------------------------------
    def calls(self, *names: str) -> list[ast.Call]:
        """Calls whose last name component is one of ``names``, in source order."""
        found = [c for n in names for c in self._calls.get(n, [])]
        return sorted(found, key=lambda c: (c.lineno, c.col_offset)) if len(names) > 1 else found

    def reads_attribute(self, attr: str) -> bool:
        return attr in self._attr_loads

    @property
    def strings(self) -> set[str]:
        """Every string literal of the file."""
        return self._strings

    def segment(self, node: ast.AST, limit: int = 120) -> str:
        """Like ``_ast.segment`` but with the file's line offsets computed once (big answers)."""
        if not self._line_starts:
            starts, pos = [0], 0
            for line in self.src.text.encode("utf-8").split(b"\n"):
                pos += len(line) + 1
                starts.append(pos)
            self._line_starts = starts
        try:
            data = self.src.text.encode("utf-8")
            start = self._line_starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
            end = self._line_starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
            text = data[start:end].decode("utf-8", errors="replace")
        except (AttributeError, IndexError, TypeError):
            return ""
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    # ---- structure ---------------------------------------------------------------------
    def parent(self, node: ast.AST) -> ast.AST | None:
        return self._parents.get(node)

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        cur = self._parents.get(node)
        while cur is not None:
            yield cur
            cur = self._parents.get(cur)

    def scope_of(self, node: ast.AST) -> ast.AST:
        """The innermost function (or the module) that contains ``node``."""
        for anc in self.ancestors(node):
            if isinstance(anc, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                return anc
        return self.tree

    def class_of(self, node: ast.AST) -> ast.ClassDef | None:
        for anc in self.ancestors(node):
            if isinstance(anc, ast.ClassDef):
                return anc
        return None

    # ---- bindings ----------------------------------------------------------------------
    def bindings(self, scope: ast.AST) -> dict[str, list[ast.expr]]:
        """Every value bound to each plain name directly in ``scope`` (nested scopes left out)."""
        if scope not in self._bindings:
            out: dict[str, list[ast.expr]] = {}
            if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                args = scope.args
                for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                    if arg is not None:
                        out.setdefault(arg.arg, []).append(_OPAQUE)
            for node in _walk_scope(scope):
                for name, value in _bound(node):
                    out.setdefault(name, []).append(value)
            self._bindings[scope] = out
        return self._bindings[scope]

    def binding(self, name: str, at: ast.AST) -> ast.expr | None:
        """The one value ``name`` is bound to where ``at`` sits (function first, then module)."""
        for scope in (self.scope_of(at), self.tree):
            values = self.bindings(scope).get(name)
            if values:
                return values[0] if len(values) == 1 and values[0] is not _OPAQUE else None
        return None

    def self_binding(self, attr: str, at: ast.AST) -> ast.expr | None:
        """The one value ``self.<attr>`` is assigned anywhere in the class around ``at``."""
        cls = self.class_of(at)
        if cls is None:
            return None
        if cls not in self._self_attrs:
            attrs: dict[str, list[ast.expr]] = {}
            for node in walk(cls):
                if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        if (name := _self_attr_name(target)) is not None:
                            attrs.setdefault(name, []).append(node.value)
                elif isinstance(node, ast.AugAssign) and (name := _self_attr_name(node.target)) is not None:
                    attrs.setdefault(name, []).append(_OPAQUE)
            self._self_attrs[cls] = attrs
        values = self._self_attrs[cls].get(attr)
        return values[0] if values and len(values) == 1 and values[0] is not _OPAQUE else None

    def resolve(self, expr: ast.expr, depth: int = 0) -> ast.expr:
        """Follow a name or ``self.attr`` to the single value it was assigned (else ``expr``)."""
        if depth > _MAX_DEPTH:
            return expr
        bound: ast.expr | None = None
        if isinstance(expr, ast.Name):
            bound = self.binding(expr.id, expr)
        elif _is_self_attr(expr):
            bound = self.self_binding(expr.attr, expr)  # type: ignore[attr-defined]
        if bound is None or bound is expr:
            return expr
        return self.resolve(bound, depth + 1)

    def usages(self, name: str, scope: ast.AST) -> Iterator[ast.Name]:
        """Loads of ``name`` within ``scope``."""
        for node in walk(scope):
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
                yield node

    # ---- constructs --------------------------------------------------------------------
    def construct_call(self, expr: ast.expr, depth: int = 0) -> ast.Call | None:
        """The ``Construct(scope, "Id", ...)`` call an expression refers to, through bindings.

        ``fn.role`` and ``bucket.node.default_child`` count as their owner ``fn`` / ``bucket``:
        the template path of what they name starts with the owner's id.
        """
        if depth > _MAX_DEPTH:
            return None
        expr = self.resolve(expr)
        if isinstance(expr, ast.Call):
            if construct_id(expr) is not None:
                return expr
            # Chained: Table(self, "T").node.default_child / .role, or a method call on a construct
            if isinstance(expr.func, ast.Attribute):
                return self.construct_call(expr.func.value, depth + 1)
            return None
        if isinstance(expr, ast.Attribute) and not _is_self_attr(expr):
            return self.construct_call(expr.value, depth + 1)
        return None

    def construct_id_of(self, expr: ast.expr) -> str | None:
        call = self.construct_call(expr)
        return construct_id(call) if call is not None else None


def index_sources(sources: Iterator[SourceFile]) -> list[SourceIndex]:
    """An index per parsed infrastructure file: inline Lambda code and unit tests are left out
    (tests build stacks without an env and assert on policy-shaped dicts; neither is deployed).

    Indexes are cached for the few most recent files: six checks read the same answer.
    """
    out = []
    for src in sources:
        if src.tree is None or src.inline_of is not None or is_test_file(src.path):
            continue
        cached = _INDEXES.get(id(src))
        if cached is None or cached.src is not src:
            cached = SourceIndex(src)
            _INDEXES[id(src)] = cached
            while len(_INDEXES) > _CACHE_SIZE:
                _INDEXES.pop(next(iter(_INDEXES)))
        out.append(cached)
    return out


_INDEXES: dict[int, SourceIndex] = {}
_CACHE_SIZE = 32


def _is_cdk_import(node: ast.Import | ast.ImportFrom) -> bool:
    """An import of aws_cdk (or constructs): the file is infrastructure code."""
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] in _CDK_ROOTS for a in node.names)
    return (node.module or "").split(".")[0] in _CDK_ROOTS


_CDK_ROOTS = {"aws_cdk", "constructs"}


def _walk_scope(scope: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a scope without descending into nested functions, lambdas or classes."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, _SCOPES):
            todo.extend(ast.iter_child_nodes(node))


def _bound(node: ast.AST) -> Iterator[tuple[str, ast.expr]]:
    """(name, value) for each plain name a statement binds; opaque values for non-assignments."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                yield target.id, node.value
            else:
                yield from ((n, _OPAQUE) for n in _target_names(target))
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        yield node.target.id, node.value if node.value is not None else _OPAQUE
    elif isinstance(node, ast.AugAssign | ast.For | ast.AsyncFor | ast.comprehension):
        yield from ((n, _OPAQUE) for n in _target_names(node.target))
    elif isinstance(node, ast.NamedExpr):
        yield node.target.id, node.value
    elif isinstance(node, ast.With | ast.AsyncWith):
        for item in node.items:
            if item.optional_vars is not None:
                yield from ((n, _OPAQUE) for n in _target_names(item.optional_vars))
    elif isinstance(node, ast.Import | ast.ImportFrom):
        for alias in node.names:
            yield (alias.asname or alias.name).split(".")[0], _OPAQUE
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield node.name, _OPAQUE
    elif isinstance(node, ast.ExceptHandler) and node.name:
        yield node.name, _OPAQUE


def _target_names(target: ast.AST) -> Iterator[str]:
    """Names an assignment target binds: ``a`` and ``a, (b, *c)``; ``x.attr`` / ``x[k]`` bind none."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for elt in target.elts:
            yield from _target_names(elt)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _is_self_attr(node: ast.AST) -> bool:
    return _self_attr_name(node) is not None


def _self_attr_name(node: ast.AST) -> str | None:
    """``x`` for ``self.x``."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr
    return None


def method_receiver(call: ast.Call, *methods: str) -> ast.expr | None:
    """``x`` for a call ``x.<method>(...)`` with one of ``methods``."""
    if isinstance(call.func, ast.Attribute) and call.func.attr in methods:
        return call.func.value
    return None


def is_method_call(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call_name(call) != ""


# ---- matching source constructs to template resources -----------------------------------
_HASH = re.compile(r"[0-9A-F]{8}$")


def id_regex(cid: str) -> re.Pattern[str]:
    """A construct id as the source gives it; ``{}`` (an f-string part) matches anything."""
    return re.compile("^" + ".*".join(re.escape(p) for p in cid.split("{}")) + "$")


def _logical_stem(logical_id: str) -> str:
    return _HASH.sub("", logical_id)


def match_level(resource: Resource, cid: str) -> int:
    """How well a template resource matches a source construct id.

    3: a component of its CDK path is the id; 2: its logical id starts with the id (CDK builds
    logical ids from the path, alphanumerics only, plus a hash); 1: the logical id contains it;
    0: no match. Path metadata is not always present, hence the logical-id fallbacks.
    """
    pattern = id_regex(cid)
    if resource.cdk_path:
        return 3 if any(pattern.match(part) for part in resource.construct_ids) else 0
    stem = _logical_stem(resource.logical_id)
    alnum = "".join(ch for ch in cid if ch.isalnum() or ch in "{}")
    if not alnum.strip("{}"):
        return 0
    loose = ".*".join(re.escape(p) for p in alnum.split("{}"))
    if re.match(loose, stem):
        return 2
    return 1 if re.search(loose, stem) else 0


def display_name(resource: Resource) -> str:
    """A readable name for a template resource: its CDK path below the stack, or its logical
    id without CDK's hash suffix when the template has no path metadata."""
    ids = resource.construct_ids
    return "/".join(ids) if ids else (_logical_stem(resource.logical_id) or resource.logical_id)


def describe(resource: Resource) -> str:
    """``Name (LogicalId)``, or the logical id alone when the name adds nothing."""
    name = display_name(resource)
    return resource.logical_id if name == resource.logical_id else f"{name} ({resource.logical_id})"


def best_matches(resources: list[Resource], cid: str) -> list[Resource]:
    """The resources that match ``cid`` at the best level found (empty when none does)."""
    scored = [(match_level(r, cid), r) for r in resources]
    top = max((s for s, _ in scored), default=0)
    return [r for s, r in scored if s == top and s > 0]
