"""Source-lens plumbing for the performance and best-practices checks.

Answers create constructs in helper methods and loops (`self._make_function("ingest")` three
times, `for name in ["a", "b"]: Queue(self, f"{name}Queue")`), so one call in the source can be
several resources. ``construct_instances`` expands each construct call into the copies it makes,
with the helper's parameters and the loop variables bound per copy, so a check can read the
keyword arguments of each copy and its construct id.

It also maps a source construct onto the template resource it became (``key_matches``) so
that the two lenses of one problem merge into one finding, and collects report items of a
check from both lenses (``items_hit``) with the template as the judge when there is one.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from iacgrade.graders.analysis.context import CheckContext, Hit, Resource, SourceFile
from iacgrade.graders.analysis.pyast import call_name, dotted, kwarg, parents, walk
from iacgrade.graders.models import Evidence
from iacgrade.graders.paths import is_test_file

_CDK_IMPORT = re.compile(r"^\s*(?:from\s+aws_cdk\b|import\s+aws_cdk\b)", re.M)
_HASH_SUFFIX = re.compile(r"^(?P<stem>[A-Za-z0-9]+?)[0-9A-F]{8}$")
_MAX_DEPTH = 4
_MAX_COPIES = 64
_SITE = "<site>"

Layer = dict[str, ast.expr]


def cdk_sources(ctx: CheckContext) -> list[SourceFile]:
    """The answer's CDK files: parsed, importing aws_cdk, not tests and not inline Lambda code."""
    out = []
    for src in ctx.parsed():
        if src.inline_of is not None or is_test_file(src.path):
            continue
        if _CDK_IMPORT.search(src.text):
            out.append(src)
    return out


@dataclass
class Instance:
    """One construct the source creates: a call plus the bindings of one of its copies."""

    src: SourceFile
    call: ast.Call
    layers: list[Layer]
    cid: str | None
    index: SourceIndex = field(repr=False)

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
        return ctx.at(self.src, node if node is not None else self.call, value=value)

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


class SourceIndex:
    """Per-answer lookups: parents, function definitions and the calls that reach them."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.sources = cdk_sources(ctx)
        self.parents: dict[int, dict[ast.AST, ast.AST]] = {
            id(s): parents(s.tree) for s in self.sources if s.tree
        }
        self._sites: list[ast.expr] = []
        self.calls: list[tuple[SourceFile, ast.Call]] = [
            (s, n) for s in self.sources if s.tree for n in walk(s.tree) if isinstance(n, ast.Call)
        ]

    # ---- structure -----------------------------------------------------------------------
    def parent(self, src: SourceFile, node: ast.AST) -> ast.AST | None:
        return self.parents.get(id(src), {}).get(node)

    def enclosing(self, src: SourceFile, node: ast.AST, kinds: tuple[type, ...]) -> ast.AST | None:
        cur = self.parent(src, node)
        while cur is not None and not isinstance(cur, kinds):
            cur = self.parent(src, cur)
        return cur

    def stack_classes(self) -> set[str]:
        """Names of the answer's classes that are stacks (directly or through its own base)."""
        classes = {
            n.name: n for s in self.sources if s.tree for n in walk(s.tree) if isinstance(n, ast.ClassDef)
        }
        out: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, cls in classes.items():
                if name in out:
                    continue
                bases = [dotted(b).rsplit(".", 1)[-1] for b in cls.bases]
                if any(b in ("Stack", "NestedStack") or b in out for b in bases):
                    out.add(name)
                    changed = True
        return out

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
        if depth >= _MAX_DEPTH:
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
                if depth < _MAX_DEPTH:
                    self._returned(src, par, ref, names, depth, suffix)
                    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                        # functions["scan"] = Function(...); return functions
                        base = ref_name(target.value)
                        if base:
                            self._returned(src, par, base, names, depth, f"[{target.slice.value!r}]" + suffix)
        elif isinstance(par, ast.Return) and depth < _MAX_DEPTH:
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


# ---- template side ------------------------------------------------------------------------
def template_key(res: Resource) -> str:
    """The construct id of a template resource (from its CDK path, else its logical id)."""
    if res.construct_id:
        return res.construct_id
    m = _HASH_SUFFIX.match(res.logical_id)
    return m.group("stem") if m else res.logical_id


def resource_label(res: Resource) -> str:
    key = template_key(res)
    return key if key == res.logical_id else f"{key} ({res.logical_id})"


def key_matches(pattern: str | None, key: str) -> bool:
    """True when a source construct id (``{}`` for variable parts) names the template key."""
    if not pattern:
        return False
    if pattern == key:
        return True
    parts = pattern.split("{}")
    if len(re.sub(r"[^A-Za-z0-9]", "", "".join(parts))) < 2:
        return False  # `{}` or `{}-{}` would name every resource
    if re.fullmatch(".*".join(re.escape(p) for p in parts), key):
        return True
    # Without path metadata the key is the logical id's stem: the path without non-alphanumerics,
    # prefixed by any parent constructs.
    alnum = [re.sub(r"[^A-Za-z0-9]", "", p) for p in parts]
    if not "".join(alnum):
        return False
    return re.search("[A-Za-z0-9]*".join(re.escape(p) for p in alnum) + "$", key) is not None


# ---- merging the lenses -------------------------------------------------------------------
@dataclass
class Item:
    """One offending resource or construct: its key (construct id), how to name it, where."""

    key: str | None
    text: str
    evidence: Evidence


def items_hit(
    ctx: CheckContext,
    key: str,
    template_items: list[Item],
    source_items: list[Item],
    message: Any,
) -> list[Hit]:
    """One finding listing the items: the template judges when there is one, the source adds
    file:line evidence for the items it also sees; without a template the source judges alone.

    ``message`` builds the message from the judged items.
    """
    if ctx.has_template:
        if not template_items:
            return []
        hits = [Hit(message(template_items), [i.evidence for i in template_items], key=key, lens="template")]
        extra = [
            s.evidence for s in source_items if any(key_matches(s.key, t.key or "") for t in template_items)
        ]
        if extra:
            hits.append(Hit(message(template_items), extra, key=key, lens="source"))
        return hits
    if not source_items:
        return []
    return [Hit(message(source_items), [i.evidence for i in source_items], key=key, lens="source")]


def per_item_hits(
    ctx: CheckContext, template_items: list[Item], source_items: list[Item], prefix: str = ""
) -> list[Hit]:
    """One finding per item, keyed by construct id, template judging when there is one."""
    hits: list[Hit] = []
    if ctx.has_template:
        for t in template_items:
            k = f"{prefix}{t.key}"
            hits.append(Hit(t.text, [t.evidence], key=k, lens="template"))
            for s in source_items:
                if key_matches(s.key, t.key or ""):
                    hits.append(Hit(t.text, [s.evidence], key=k, lens="source"))
        return hits
    seen: dict[str, int] = {}
    for s in source_items:
        k = f"{prefix}{s.key}"
        if k in seen:
            hits.append(Hit(s.text, [s.evidence], key=k, lens="source"))
            continue
        seen[k] = len(hits)
        hits.append(Hit(s.text, [s.evidence], key=k, lens="source"))
    return hits


def names_list(labels: Iterable[str], limit: int = 6) -> str:
    """`A, B, C and 4 more`."""
    uniq = list(dict.fromkeys(labels))
    if len(uniq) <= limit:
        return ", ".join(uniq)
    return ", ".join(uniq[:limit]) + f" and {len(uniq) - limit} more"
