"""The analysis model the checks query: which construct a thing is, in either lens.

Template lens. A template resource is keyed by the construct that made it
(:func:`template_key`): the last component of its CDK path, or, when the template has no path
metadata (CDK without metadata, a CloudFormation answer), its logical id without CDK's hash
suffix, marked with ``~``.

Source lens. :class:`SourceIndex` is one file's index, built once per file
(:func:`index_of`): parents, calls, single-assignment bindings, the construct an expression
refers to and which construct a name or an API part (``api.root.add_resource(...)``) belongs
to. :class:`AnswerModel`, built once per answer (:meth:`AnswerModel.of`), expands each construct
call of the answer's CDK files into the copies it makes (helper methods called several times,
loops) with the bindings of each copy. A source
construct is keyed by its id as written, ``{}`` standing for the variable parts of an f-string.

Matching (:func:`match_level`), the one rule for "this source construct is that template
resource". A source id *names* a resource (level 3) when it is the resource's own construct
id, or, without path metadata, when the alphanumerics of the id end its logical id (CDK builds
logical ids from the path, alphanumerics only). Lower levels say the resource sits *inside* the
named construct (``fn.role`` is inside ``fn``): 2 for another component of its path or a logical
id that starts with the id, 1 for a logical id that contains it. :func:`names` is level 3 on a
key; :func:`best_matches` keeps the resources at the best level found.

Merging (:func:`merge_lenses`), the one lens merger. Template hits come first and judge when a
template exists; a source hit joins (takes the key of) every template hit whose key its
construct names, so the runner merges both lenses into one finding. :func:`one_finding` is the
same merge for checks that report every offending item in a single finding.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.pyast import call_name, construct_id, dotted, kwarg, parents, walk
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.models import Evidence, Lens
from iacgrade.graders.paths import is_test_file

# CDK appends an 8-character hash to logical ids of constructs below the stack's top level.
_LOGICAL_HASH = re.compile(r"[0-9A-F]{8}$")
# Prefix of keys derived from a logical id (no CDK path metadata in the template).
_FROM_LOGICAL_ID = "~"
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


# ---- keys ---------------------------------------------------------------------------------
def logical_stem(logical_id: str) -> str:
    """A logical id without CDK's hash suffix."""
    if len(logical_id) > 8 and _LOGICAL_HASH.search(logical_id):
        return logical_id[:-8]
    return logical_id


def template_key(res: Resource) -> str:
    """The construct a resource belongs to: its construct id, or ``~`` + its logical id's stem."""
    if res.construct_id:
        return res.construct_id
    return _FROM_LOGICAL_ID + logical_stem(res.logical_id)


def key_text(key: str) -> str:
    """A template key as shown in messages (without the ``~`` mark)."""
    return key.removeprefix(_FROM_LOGICAL_ID)


def pretty(key: str) -> str:
    """A source key as shown in messages: ``Api{…}`` for an f-string id."""
    return key.replace("{}", "{…}")


def construct_name(res: Resource) -> str:
    """The name of the construct a resource belongs to, as shown in messages."""
    return key_text(template_key(res))


def resource_label(res: Resource) -> str:
    """``Name (LogicalId)``, or the logical id alone when it is the name."""
    name = construct_name(res)
    return name if name == res.logical_id else f"{name} ({res.logical_id})"


def display_name(resource: Resource) -> str:
    """A readable name for a template resource: its CDK path below the stack, or its logical
    id without CDK's hash suffix when the template has no path metadata."""
    ids = resource.construct_ids
    return "/".join(ids) if ids else (logical_stem(resource.logical_id) or resource.logical_id)


def describe(resource: Resource) -> str:
    """``Path/Below/Stack (LogicalId)``, or the logical id alone when the name adds nothing."""
    name = display_name(resource)
    return resource.logical_id if name == resource.logical_id else f"{name} ({resource.logical_id})"


# ---- matching -----------------------------------------------------------------------------
def id_regex(cid: str) -> re.Pattern[str]:
    """A construct id as the source gives it; ``{}`` (an f-string part) matches anything."""
    return re.compile("^" + ".*".join(re.escape(p) for p in cid.split("{}")) + "$")


def _alnum_pattern(cid: str) -> str:
    """The id as it appears in a logical id: alphanumerics only, ``{}`` matching anything."""
    return ".*".join(re.escape(_NOT_ALNUM.sub("", p)) for p in cid.split("{}"))


def _names_anything(cid: str) -> bool:
    """Fewer than two literal alphanumerics (``{}``, ``{}-{}``, ``A``) name every construct."""
    return len(_NOT_ALNUM.sub("", cid.replace("{}", ""))) < 2


def names(source_id: str | None, key: str) -> bool:
    """True when a source construct id names the construct of template key ``key``."""
    if not source_id:
        return False
    if source_id == key:
        return True
    if _names_anything(source_id):
        return False
    if key.startswith(_FROM_LOGICAL_ID):
        # Logical ids drop every non-alphanumeric character and concatenate the whole path.
        return re.fullmatch(".*" + _alnum_pattern(source_id), key[1:]) is not None
    return id_regex(source_id).match(key) is not None


def match_level(resource: Resource, cid: str) -> int:
    """How well a template resource matches a source construct id: 3 it is the construct, 2 or 1
    it sits inside it (a path component / a logical-id prefix; a logical id containing it), 0 no."""
    if names(cid, template_key(resource)):
        return 3
    if _names_anything(cid):
        return 0
    if resource.cdk_path:
        pattern = id_regex(cid)
        return 2 if any(pattern.match(part) for part in resource.construct_ids) else 0
    stem = logical_stem(resource.logical_id)
    loose = _alnum_pattern(cid)
    if re.match(loose, stem):
        return 2
    return 1 if re.search(loose, stem) else 0


def best_matches(resources: list[Resource], cid: str) -> list[Resource]:
    """The resources that match ``cid`` at the best level found (empty when none does)."""
    scored = [(match_level(r, cid), r) for r in resources]
    top = max((s for s, _ in scored), default=0)
    return [r for s, r in scored if s == top and s > 0]


# ---- merging the lenses -------------------------------------------------------------------
def merge_lenses(
    ctx: CheckContext,
    template_hits: Iterable[Hit],
    source_hits: Iterable[Hit],
    *,
    keep_unmatched: bool = False,
    joins: Callable[[Hit], Iterable[str]] | None = None,
) -> list[Hit]:
    """Template hits first (the template is exact), then source hits re-keyed to join them.

    A source hit joins every template hit whose key its key names, or, with ``joins``, the
    template keys that function gives for it (IAM statements join a policy holder by owner and
    action). Without a template the source lens decides alone. With one, a
    source hit that joins nothing is dropped (the template saw the construct and found it fine,
    or it is never instantiated) unless ``keep_unmatched``.
    """
    if not ctx.template.present:
        return list(source_hits)
    template = list(template_hits)
    keys = list(dict.fromkeys(h.key for h in template if h.key))
    out = list(template)
    for hit in source_hits:
        joined = list(joins(hit)) if joins is not None else [key for key in keys if names(hit.key, key)]
        out.extend(replace(hit, key=key) for key in joined)
        if not joined and keep_unmatched:
            out.append(hit)
    return out


@dataclass
class Item:
    """One offending resource or construct: its key (template key or source id), how to name
    it, where."""

    key: str | None
    text: str
    evidence: Evidence


def one_finding(
    ctx: CheckContext,
    key: str,
    template_items: list[Item],
    source_items: list[Item],
    message: Callable[[list[Item]], str],
) -> list[Hit]:
    """One finding listing the items, merged as :func:`merge_lenses` does: the template judges
    when there is one and the source adds file:line evidence for the items it also sees;
    without a template the source judges alone. ``message`` builds the message from the judged
    items."""
    judged = template_items if ctx.template.present else source_items
    if not judged:
        return []
    lens: Lens = "template" if ctx.template.present else "source"
    hits = [Hit(message(judged), [i.evidence for i in judged], key=key, lens=lens)]
    if ctx.template.present:
        merged = merge_lenses(
            ctx,
            [Hit("", [], key=i.key, lens="template") for i in template_items],
            [Hit("", [i.evidence], key=i.key) for i in source_items],
        )
        extra: list[Evidence] = []
        for hit in merged:
            extra += [ev for ev in hit.evidence if hit.lens == "source" and ev not in extra]
        if extra:
            hits.append(Hit(hits[0].message, extra, key=key, lens="source"))
    return hits


def names_list(labels: Iterable[str], limit: int = 6) -> str:
    """`A, B, C and 4 more`."""
    uniq = list(dict.fromkeys(labels))
    if len(uniq) <= limit:
        return ", ".join(uniq)
    return ", ".join(uniq[:limit]) + f" and {len(uniq) - limit} more"


# ==== the source lens: one index per file ======================================================
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
# Marks a name bound by something other than a plain assignment (parameter, loop, import, ...).
_OPAQUE = ast.Constant(value=None)
_MAX_DEPTH = 6


@dataclass
class SourceIndex:
    """One parsed file of the answer: parents, scopes, calls, single-assignment bindings and the
    construct a name stands for. One per file (:func:`index_of`), shared by every check."""

    src: SourceFile
    _parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    all_calls: list[ast.Call] = field(default_factory=list)  # every call, in walk order
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
                self.all_calls.append(node)
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

    # ---- which construct a name stands for --------------------------------------------------
    @property
    def parents(self) -> dict[ast.AST, ast.AST]:
        return self._parents

    def value_of(self, expr: ast.AST) -> ast.expr | None:
        """The one value a name or ``self.attr`` was assigned where ``expr`` sits (see :meth:`binding`)."""
        if isinstance(expr, ast.Name):
            return self.binding(expr.id, expr)
        if (attr := _self_attr_name(expr)) is not None:
            return self.self_binding(attr, expr)
        return None

    def owner(self, expr: ast.AST | None, _depth: int = 0) -> str | None:
        """The construct id `expr` is (or is a part of), when the file tells."""
        if expr is None or _depth > 12:
            return None
        if isinstance(expr, ast.Call):
            func = expr.func
            if isinstance(func, ast.Attribute) and func.attr in _PART_OF:
                return self.owner(func.value, _depth + 1)
            return construct_call_id(expr)
        if isinstance(expr, ast.Attribute) and expr.attr in _PART_OF:
            return self.owner(expr.value, _depth + 1)
        if isinstance(expr, (ast.Name, ast.Attribute)):
            return self.owner(self.value_of(expr), _depth + 1)
        return None

    def enclosing_construct(self, node: ast.AST) -> tuple[str | None, ast.Call | None]:
        """The construct a node configures: the nearest enclosing `Cls(scope, "Id", ...)` call or
        `x.method(...)` call on a construct the file names."""
        cur = self._parents.get(node)
        while cur is not None and not isinstance(cur, ast.stmt):
            if isinstance(cur, ast.Call):
                cid = construct_call_id(cur)
                if cid:
                    return cid, cur
                if isinstance(cur.func, ast.Attribute):
                    owner = self.owner(cur.func.value)
                    if owner:
                        return owner, cur
            cur = self._parents.get(cur)
        return None, None


def index_sources(sources: Iterator[SourceFile]) -> list[SourceIndex]:
    """An index per parsed infrastructure file: inline Lambda code and unit tests are left out
    (tests build stacks without an env and assert on policy-shaped dicts; neither is deployed).

    Indexes are cached for the few most recent files: six checks read the same answer.
    """
    return [
        index_of(src)
        for src in sources
        if src.tree is not None and src.inline_of is None and not is_test_file(src.path)
    ]


def subclasses(
    classes: Iterable[ast.ClassDef], bases: set[str], excluded: frozenset[str] = frozenset()
) -> dict[str, ast.ClassDef]:
    """The classes that derive from one of ``bases``, directly or through one another (by the
    last name of each base); a class with a base in ``excluded`` never counts."""
    by_name = {c.name: c for c in classes}
    found: dict[str, ast.ClassDef] = {}
    changed = True
    while changed:
        changed = False
        for name, cls in by_name.items():
            if name in found:
                continue
            names_ = {dotted(b).rsplit(".", 1)[-1] for b in cls.bases}
            if not names_ & excluded and names_ & (bases | set(found)):
                found[name] = cls
                changed = True
    return found


def infrastructure_files(ctx: CheckContext) -> list[SourceIndex]:
    """The answer's infrastructure code, the one rule: parsed files that import CDK (aws_cdk or
    constructs), neither tests nor inline Lambda code."""
    return [idx for idx in index_sources(ctx.source.parsed()) if idx.imports_cdk]


def index_of(src: SourceFile) -> SourceIndex:
    """The index of a parsed file, built once (cached for the few most recent files)."""
    cached = _INDEXES.get(id(src))
    if cached is None or cached.src is not src:
        cached = SourceIndex(src)
        _INDEXES[id(src)] = cached
        while len(_INDEXES) > _CACHE_SIZE:
            _INDEXES.pop(next(iter(_INDEXES)))
    return cached


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


# ==== construct calls and their ids ============================================================
# Methods and attributes that return a part of the construct they are called on
# (API resources of a RestApi, the default stage, ...): the part belongs to that construct.
_PART_OF = frozenset(
    {
        "root",
        "add_resource",
        "resource_for_path",
        "add_proxy",
        "get_resource",
        "deployment_stage",
        "latest_deployment",
        "default_stage",
        "node",
        "default_child",
    }
)


def construct_call_id(call: ast.Call) -> str | None:
    """The id of `Cls(scope, "Id", ...)` (a class called with a scope first), else None."""
    if not call_name(call)[:1].isupper() or len(call.args) < 2:
        return None
    if not isinstance(call.args[0], (ast.Name, ast.Attribute)):
        return None
    return construct_id(call)


def construct_label(call: ast.Call) -> str | None:
    """The construct id as written, for messages: `OrdersApi-{environment_suffix}` for an f-string."""
    node = call.args[1] if len(call.args) >= 2 else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                parts.append("{" + ast.unparse(value.value) + "}")
        return "".join(parts)
    return construct_call_id(call)


# ==== the copies a construct call makes ========================================================
_MAX_HELPER_DEPTH = 4
_MAX_COPIES = 64
_SITE = "<site>"

Layer = dict[str, ast.expr]


@dataclass
class Instance:
    """One construct the source creates: a call plus the bindings of one of its copies."""

    src: SourceFile
    call: ast.Call
    layers: list[Layer]
    cid: str | None
    index: AnswerModel = field(repr=False)

    def kw(self, name: str) -> ast.expr | None:
        """The keyword argument ``name`` (also from a resolvable ``**dict``), bindings applied."""
        node = kwarg(self.call, name)
        if node is None:
            node = self.index.splat_value(self.src, self.call, name)
        if node is None:
            return None
        return substitute(node, self.layers)

    def kw_set(self, name: str) -> bool:
        """True when the keyword is given with a value other than ``None``."""
        node = self.kw(name)
        return node is not None and not (isinstance(node, ast.Constant) and node.value is None)

    @property
    def sites(self) -> list[ast.expr]:
        """The helper calls (innermost first) that made this copy."""
        return [layer[_SITE] for layer in self.layers if _SITE in layer]

    @property
    def opaque(self) -> bool:
        """True when ``**kwargs`` hide arguments we cannot read."""
        return self.index.has_opaque_splat(self.src, self.call)

    def evidence(self, ctx: CheckContext, value: str | None = None, node: ast.AST | None = None) -> Evidence:
        return ctx.source.at(self.src, node if node is not None else self.call, value=value)

    @property
    def label(self) -> str:
        return self.cid or call_name(self.call)


def substitute(node: ast.expr, layers: list[Layer]) -> ast.expr:
    """``node`` with names bound in ``layers`` replaced, innermost layer first."""
    out = node
    for layer in layers:
        if layer:
            out = _Substitute(layer).visit(copy.deepcopy(out))
    if layers:
        out = _Fold().visit(out)
    return out


class _Substitute(ast.NodeTransformer):
    def __init__(self, layer: Layer) -> None:
        self.layer = layer

    def visit_Name(self, node: ast.Name) -> ast.AST:  # noqa: N802 - ast visitor API
        if isinstance(node.ctx, ast.Load) and node.id in self.layer:
            return copy.deepcopy(self.layer[node.id])
        return node


class _Fold(ast.NodeTransformer):
    """`{"name": "ingest"}["name"]` -> `"ingest"`: loop items that are dict or tuple literals."""

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:  # noqa: N802 - ast visitor API
        self.generic_visit(node)
        key = node.slice
        if not isinstance(key, ast.Constant):
            return node
        if isinstance(node.value, ast.Dict):
            for k, v in zip(node.value.keys, node.value.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == key.value:
                    return v
        if isinstance(node.value, (ast.Tuple, ast.List)) and isinstance(key.value, int):
            if -len(node.value.elts) <= key.value < len(node.value.elts):
                return node.value.elts[key.value]
        return node


def text_of(node: ast.AST | None, limit: int = 80) -> str:
    """Source-like text of a node on one line."""
    if node is None:
        return ""
    try:
        out = " ".join(ast.unparse(node).split())
    except Exception:  # ast.unparse cannot fail on parsed trees, but a check must never crash on it
        out = ast.dump(node)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def string_pattern(node: ast.AST | None) -> str | None:
    """A string expression as a pattern: literal parts kept, variable parts as ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Constant):
                parts.append(str(value.value.value))
            else:
                parts.append("{}")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = string_pattern(node.left), string_pattern(node.right)
        return (left if left is not None else "{}") + (right if right is not None else "{}")
    return None


class AnswerModel:
    """Per-answer lookups over the CDK files: parents, function definitions and the calls that
    reach them, and the copies each construct call makes."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.sources = [idx.src for idx in infrastructure_files(ctx)]
        self.indexes: dict[int, SourceIndex] = {id(s): index_of(s) for s in self.sources if s.tree}
        self._sites: list[ast.expr] = []
        self.calls: list[tuple[SourceFile, ast.Call]] = [
            (s, n) for s in self.sources if s.tree for n in self.indexes[id(s)].all_calls
        ]

    @classmethod
    def of(cls, ctx: CheckContext) -> AnswerModel:
        """The answer's model, built on first use and kept on the context for every check."""
        return ctx.source.view("answer-model", lambda: cls(ctx))

    # ---- structure -----------------------------------------------------------------------
    def parent(self, src: SourceFile, node: ast.AST) -> ast.AST | None:
        index = self.indexes.get(id(src))
        return index.parent(node) if index is not None else None

    def enclosing(self, src: SourceFile, node: ast.AST, kinds: tuple[type, ...]) -> ast.AST | None:
        cur = self.parent(src, node)
        while cur is not None and not isinstance(cur, kinds):
            cur = self.parent(src, cur)
        return cur

    def stack_classes(self) -> set[str]:
        """Names of the answer's classes that are stacks (directly or through its own base)."""
        classes = [c for idx in self.indexes.values() for c in idx.classes]
        return set(subclasses(classes, {"Stack", "NestedStack"}))

    # ---- copies of a call ------------------------------------------------------------------
    def instances(self, *names: str) -> Iterator[Instance]:
        """Every construct call named ``names`` (scope and id given), once per copy it makes."""
        for src, call in self.calls:
            if call_name(call) not in names or not _is_construct_call(call):
                continue
            for layers in self.copies(src, call, 0):
                yield Instance(src, call, layers, _cid(call, layers), self)

    def copies(self, src: SourceFile, node: ast.AST, depth: int) -> list[list[Layer]]:
        """The binding layers of each copy of ``node`` (one empty list when it runs once)."""
        envs: list[list[Layer]] = [[]]
        cur: ast.AST = node
        while True:
            par = self.parent(src, cur)
            if par is None:
                return envs
            if isinstance(par, (ast.For, ast.AsyncFor)) and cur in par.body:
                elements = self._loop_elements(src, par)
                if elements is not None:
                    envs = [env + [_bind_target(par.target, el)] for env in envs for el in elements][
                        :_MAX_COPIES
                    ]
            elif isinstance(par, ast.comprehension) or isinstance(
                par, (ast.ListComp, ast.DictComp, ast.SetComp)
            ):
                pass
            elif isinstance(par, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sites = self._site_layers(par, depth)
                if sites is None:
                    return envs
                return [env + site for env in envs for site in sites][:_MAX_COPIES]
            elif isinstance(par, ast.Lambda):
                return envs
            cur = par

    def _loop_elements(self, src: SourceFile, loop: ast.For | ast.AsyncFor) -> list[ast.expr] | None:
        it = loop.iter
        if isinstance(it, ast.Name):
            resolved = self.assigned_literal(src, loop, it.id)
            it = resolved if resolved is not None else it
        if (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Attribute)
            and it.func.attr in ("items", "keys", "values")
        ):
            base = it.func.value
            if isinstance(base, ast.Name):
                base = self.assigned_literal(src, loop, base.id) or base
            if isinstance(base, ast.Dict) and None not in base.keys:
                keys = [k for k in base.keys if k is not None]
                if it.func.attr == "keys":
                    return list(keys)
                if it.func.attr == "values":
                    return list(base.values)
                return [
                    ast.Tuple(elts=[k, v], ctx=ast.Load()) for k, v in zip(keys, base.values, strict=True)
                ]
            return None
        if isinstance(it, (ast.List, ast.Tuple, ast.Set)):
            return list(it.elts) if not any(isinstance(e, ast.Starred) for e in it.elts) else None
        if isinstance(it, ast.Dict) and None not in it.keys:
            return [k for k in it.keys if k is not None]
        if isinstance(it, ast.Call) and call_name(it) == "range" and len(it.args) == 1:
            n = it.args[0]
            if isinstance(n, ast.Constant) and isinstance(n.value, int) and 0 <= n.value <= _MAX_COPIES:
                return [ast.Constant(i) for i in range(n.value)]
        return None

    def assigned_literal(self, src: SourceFile, at: ast.AST, name: str) -> ast.expr | None:
        """The literal (dict/list/tuple) last assigned to ``name`` in the function around ``at``."""
        scope = self.enclosing(src, at, (ast.FunctionDef, ast.AsyncFunctionDef)) or src.tree
        found: ast.expr | None = None
        for node in walk(scope) if scope is not None else ():
            if isinstance(node, ast.Assign) and getattr(node, "lineno", 0) <= getattr(at, "lineno", 0):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id == name:
                        found = node.value
        if isinstance(found, (ast.Dict, ast.List, ast.Tuple, ast.Set)):
            return found
        return None

    def _site_layers(
        self, fn: ast.FunctionDef | ast.AsyncFunctionDef, depth: int
    ) -> list[list[Layer]] | None:
        """Bindings of ``fn``'s parameters at each place it is called (None: treat as run once)."""
        if depth >= _MAX_HELPER_DEPTH:
            return None
        owner = self._owner_class(fn)
        if fn.name == "__init__":
            if owner is None or owner.name in self.stack_classes():
                return None  # one copy per stack: the entry decides how many stacks there are
            wanted = owner.name
            sites = [
                (s, c)
                for s, c in self.calls
                if call_name(c) == wanted and isinstance(c.func, (ast.Name, ast.Attribute))
            ]
            skip_first = True
        else:
            sites = [(s, c) for s, c in self.calls if _calls_function(c, fn.name, owner is not None)]
            skip_first = owner is not None and not _is_static(fn)
        if not sites:
            return None
        out: list[list[Layer]] = []
        for site_src, site in sites:
            binding = _bind_args(fn.args, site, skip_first)
            binding[_SITE] = site  # which call made this copy (never a Python name, so never substituted)
            for outer in self.copies(site_src, site, depth + 1):
                out.append([binding, *outer])
        return out

    def _owner_class(self, fn: ast.AST) -> ast.ClassDef | None:
        for src in self.sources:
            par = self.parent(src, fn)
            if par is not None:
                return par if isinstance(par, ast.ClassDef) else None
        return None

    # ---- ** arguments ----------------------------------------------------------------------
    def _splat_dicts(self, src: SourceFile, call: ast.Call) -> list[ast.Dict | None]:
        out: list[ast.Dict | None] = []
        for kw in call.keywords:
            if kw.arg is not None:
                continue
            value = kw.value
            if isinstance(value, ast.Name):
                value = self.assigned_literal(src, call, value.id) or value
            out.append(value if isinstance(value, ast.Dict) else None)
        return out

    def splat_value(self, src: SourceFile, call: ast.Call, name: str) -> ast.expr | None:
        for d in self._splat_dicts(src, call):
            if d is None:
                continue
            for k, v in zip(d.keys, d.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == name:
                    return v
        return None

    def has_opaque_splat(self, src: SourceFile, call: ast.Call) -> bool:
        return any(d is None for d in self._splat_dicts(src, call))

    # ---- names ---------------------------------------------------------------------------
    def assigned_names(self, inst: Instance) -> set[str]:
        """Names the construct is stored under (`fn`, `self.fn`, `self.fns['a']`), also through a
        helper that returns it (or returns the dict it was stored in)."""
        names: set[str] = set()
        self._sites = inst.sites
        self._names_of(inst.src, inst.call, names, 0, "")
        return names

    def _names_of(self, src: SourceFile, node: ast.AST, names: set[str], depth: int, suffix: str) -> None:
        par = self.parent(src, node)
        if isinstance(par, (ast.Assign, ast.AnnAssign)):
            targets = par.targets if isinstance(par, ast.Assign) else [par.target]
            for target in targets:
                ref = ref_name(target)
                if not ref:
                    continue
                names.add(ref + suffix)
                if depth < _MAX_HELPER_DEPTH:
                    self._returned(src, par, ref, names, depth, suffix)
                    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                        # functions["scan"] = Function(...); return functions
                        base = ref_name(target.value)
                        if base:
                            self._returned(src, par, base, names, depth, f"[{target.slice.value!r}]" + suffix)
        elif isinstance(par, ast.Return) and depth < _MAX_HELPER_DEPTH:
            self._returned_by(src, par, names, depth, suffix)

    def _returned(
        self, src: SourceFile, at: ast.AST, ref: str, names: set[str], depth: int, suffix: str
    ) -> None:
        fn = self.enclosing(src, at, (ast.FunctionDef, ast.AsyncFunctionDef))
        if fn is None:
            return
        for node in walk(fn):
            if isinstance(node, ast.Return) and node.value is not None and ref_name(node.value) == ref:
                self._returned_by(src, node, names, depth, suffix)
                return

    def _returned_by(
        self, src: SourceFile, ret: ast.Return, names: set[str], depth: int, suffix: str
    ) -> None:
        fn = self.enclosing(src, ret, (ast.FunctionDef, ast.AsyncFunctionDef))
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return
        method = self._owner_class(fn) is not None
        for site_src, site in self.calls:
            if not _calls_function(site, fn.name, method):
                continue
            # A helper called three times returns three constructs: follow only this copy's call.
            if any(_calls_function(s, fn.name, method) for s in self._sites if isinstance(s, ast.Call)):
                if not any(site is s for s in self._sites):
                    continue
            self._names_of(site_src, site, names, depth + 1, suffix)


def ref_name(node: ast.AST | None) -> str | None:
    """`x` for a Name, `self.x` for an attribute of self, `self.x[k]` for a constant key, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return f"self.{node.attr}"
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        base = ref_name(node.value)
        return f"{base}[{node.slice.value!r}]" if base else None
    return None


def refs_in(node: ast.AST | None) -> set[str]:
    """Every `x` / `self.x` referenced inside ``node``."""
    out: set[str] = set()
    if node is None:
        return out
    for sub in walk(node):
        ref = ref_name(sub)
        if ref and ref != "self":
            out.add(ref)
    return out


def _is_construct_call(call: ast.Call) -> bool:
    # Constructs take (scope, id, ...); boto3's `dynamodb.Table("name")` in handler code does not.
    if len(call.args) >= 2:
        return True
    names = {kw.arg for kw in call.keywords}
    return bool(call.args) and ("id" in names or "construct_id" in names) or {"scope", "id"} <= names


def _cid(call: ast.Call, layers: list[Layer]) -> str | None:
    node: ast.expr | None = (
        call.args[1] if len(call.args) >= 2 else (kwarg(call, "id") or kwarg(call, "construct_id"))
    )
    if node is None:
        return None
    return string_pattern(substitute(node, layers))


def _calls_function(call: ast.Call, name: str, method: bool) -> bool:
    func = call.func
    if method:
        return (
            isinstance(func, ast.Attribute)
            and func.attr == name
            and isinstance(func.value, ast.Name)
            and func.value.id in ("self", "cls")
        )
    return isinstance(func, ast.Name) and func.id == name


def _is_static(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(dotted(d) == "staticmethod" for d in fn.decorator_list)


def _bind_target(target: ast.expr, value: ast.expr) -> Layer:
    if isinstance(target, ast.Name):
        return {target.id: value}
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
        if len(target.elts) == len(value.elts):
            out: Layer = {}
            for t, v in zip(target.elts, value.elts, strict=True):
                out.update(_bind_target(t, v))
            return out
    return {}


def _bind_args(args: ast.arguments, call: ast.Call, skip_first: bool) -> Layer:
    params = [*args.posonlyargs, *args.args]
    if skip_first and params:
        params = params[1:]
    layer: Layer = {}
    defaults = dict(
        zip([p.arg for p in params][len(params) - len(args.defaults) :], args.defaults, strict=True)
    )
    for p, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if d is not None:
            defaults[p.arg] = d
    for param, value in zip(params, call.args, strict=False):
        if isinstance(value, ast.Starred):
            break
        layer[param.arg] = value
    for kw in call.keywords:
        if kw.arg is not None:
            layer[kw.arg] = kw.value
    for name, value in defaults.items():
        layer.setdefault(name, value)
    return layer
