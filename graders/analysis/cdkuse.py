"""How one answer file uses the CDK API, checked against the installed aws-cdk-lib.

:class:`CdkUse` resolves the names a file imports from ``aws_cdk`` / ``constructs`` (only those:
a name it cannot trace to an import stays unknown), follows attribute chains and calls through
the static API index of :mod:`iacgrade.graders.analysis.cdkapi`, infers the class of variables that are
only ever assigned one CDK constructor, and reports two kinds of findings:

- :class:`ApiError`: what raises at synth time (unknown module/attribute/member, unexpected or
  missing keyword, too many positional arguments, a literal of the wrong type);
- :class:`Deprecation`: deprecated members, parameters and classes jsii warns about at run time
  (static properties such as ``Runtime.PYTHON_3_9`` emit no warning and are left out).

Both are conservative: anything the resolver cannot be sure of is skipped.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from iacgrade.graders.analysis.cdkapi import CdkApi, ClassInfo, Member, Signature, TypeRef, api
from iacgrade.graders.analysis.pyast import memoised, parents, scope_nodes, segment, walk

# Module names that separate pip packages may add under the aws_cdk namespace: never "missing".
_OPTIONAL_NAMESPACE_SUFFIXES = ("_alpha",)


@dataclass(frozen=True)
class ApiError:
    node: ast.AST
    message: str
    code: str  # the source text it is about, short
    call: ast.AST | None = None  # the whole call, for errors about one of its arguments


@dataclass(frozen=True)
class Deprecation:
    node: ast.AST
    key: str  # snake-case member name, as the jsii warning names it after conversion
    fqn: str  # `aws_dynamodb.Table(point_in_time_recovery=)` for the message
    code: str


@dataclass(frozen=True)
class _Ref:
    kind: str  # module | class | function | static | member | instance
    module: str
    cls: ClassInfo | None = None
    member: Member | None = None
    signature: Signature | None = None


@dataclass
class CdkUse:
    tree: ast.Module
    text: str
    api: CdkApi = field(default_factory=api)
    errors: list[ApiError] = field(default_factory=list)
    deprecations: list[Deprecation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._names: dict[str, _Ref] = {}
        self._parents = parents(self.tree)
        self._stored_attrs: set[tuple[str, str]] = set()
        self._depth = 0
        self._memo: dict[tuple[int, str], _Ref | None] = {}

    # ---- entry point ------------------------------------------------------------------------
    def analyse(self) -> CdkUse:
        if not self.api.available:
            return self
        self._read_imports()
        if not self._names:
            return self
        self._collect_attribute_stores()
        seen: set[int] = set()
        for node in walk(self.tree):
            if isinstance(node, ast.Call):
                self._check_call(node)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and id(node) not in seen:
                # only the outermost attribute of a chain: `a.b.c` checks `a.b` on the way
                parent = self._parents.get(node)
                if isinstance(parent, ast.Attribute) and parent.value is node:
                    continue
                self._resolve(node)
        self._dedupe()
        return self

    # ---- imports ----------------------------------------------------------------------------
    def _read_imports(self) -> None:
        bound_elsewhere = _bound_names(self.tree)
        conflicts: set[str] = set()
        for node in walk(self.tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            guarded = self._inside_try(node)
            for name, ref in self._import_refs(node, report=not guarded):
                if guarded:
                    conflicts.add(name)
                elif name in self._names and self._names[name] != ref:
                    conflicts.add(name)
                else:
                    self._names[name] = ref
        for name in conflicts | (bound_elsewhere & set(self._names)):
            self._names.pop(name, None)

    def _inside_try(self, node: ast.AST) -> bool:
        parent = self._parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.Try):
                return True
            parent = self._parents.get(parent)
        return False

    def _import_refs(self, node: ast.Import | ast.ImportFrom, report: bool) -> Iterator[tuple[str, _Ref]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top not in ("aws_cdk", "constructs"):
                    continue
                if not self._module_ok(alias.name, node, report):
                    continue
                if alias.asname:
                    yield alias.asname, _Ref("module", alias.name)
                else:
                    yield top, _Ref("module", top)
            return
        module = node.module or ""
        if node.level or module.split(".")[0] not in ("aws_cdk", "constructs"):
            return
        if not self._module_ok(module, node, report):
            return
        for alias in node.names:
            if alias.name == "*":
                continue
            local = alias.asname or alias.name
            ref = self._module_attr(module, alias.name)
            if ref is None:
                continue
            if ref is False:
                if report:
                    self._error(
                        node,
                        f"`from {module} import {alias.name}`: {_missing_in_module(self.api, module, alias.name)}",
                        f"from {module} import {alias.name}",
                    )
                continue
            if isinstance(ref, _Ref):
                yield local, ref

    def _module_ok(self, module: str, node: ast.AST, report: bool) -> bool:
        exists = self.api.module_exists(module)
        if exists is None:
            return False
        if exists:
            return True
        last = module.rsplit(".", 1)[-1]
        if report and _is_v1_module(module) and not last.endswith(_OPTIONAL_NAMESPACE_SUFFIXES):
            self._error(
                node, f"`{module}` does not exist in aws-cdk-lib v2 ({_v1_hint(module)})", f"import {module}"
            )
        return False

    def _module_attr(self, module: str, name: str) -> _Ref | None | bool:
        info = self.api.module(module)
        if info is None:
            return None
        if name in info.classes:
            return _Ref("class", module, cls=info.classes[name])
        if name in info.functions:
            return _Ref("function", module, signature=info.functions[name])
        if name in info.submodules:
            sub = f"{module}.{name}"
            return _Ref("module", sub)
        if name in info.names:
            return None
        if module == "aws_cdk" and name.endswith(_OPTIONAL_NAMESPACE_SUFFIXES):
            return None
        if module == "aws_cdk" and not name.startswith("aws_") and name != "core" and name[:1].islower():
            # other lowercase names may be separately installed packages (lambda_layer_kubectl_v30...)
            return None
        return False

    def _collect_attribute_stores(self) -> None:
        for node in walk(self.tree):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
                self._stored_attrs.add((ast.dump(node.value), node.attr))

    # ---- resolution -------------------------------------------------------------------------
    def _resolve(self, node: ast.AST) -> _Ref | None:
        if isinstance(node, ast.Name):
            if node.id in self._names:
                return self._names[node.id]
            return self._instance_of_name(node)
        if isinstance(node, ast.Attribute):
            if self._is_self_attr(node):
                return self._instance_of_self_attr(node)
            base = self._resolve(node.value)
            if base is None:
                self._check_node_member(node)
                return None
            return self._attribute(base, node)
        if isinstance(node, ast.Call):
            return None
        return None

    def _attribute(self, base: _Ref, node: ast.Attribute) -> _Ref | None:
        attr = node.attr
        if attr.startswith("_"):
            return None
        code = self._seg(node)
        if base.kind == "module":
            ref = self._module_attr(base.module, attr)
            if ref is False:
                self._error(node, f"`{code}`: {_missing_in_module(self.api, base.module, attr)}", code)
                return None
            return ref if isinstance(ref, _Ref) else None
        if base.kind in ("class", "instance") and base.cls is not None:
            if (ast.dump(node.value), attr) in self._stored_attrs:
                return None
            found = self.api.member(base.cls, attr)
            if found is False:
                what = "member" if base.kind == "class" else "attribute"
                hint = _close(attr, self.api.member_names(base.cls))
                self._error(node, f"`{code}`: {base.cls.qualname} has no {what} `{attr}`{hint}", code)
                return None
            if not isinstance(found, Member):
                return None
            self._note_member_deprecation(node, base.cls, found, code)
            if base.kind == "class" and base.cls.deprecated and found.kind in ("enum", "static"):
                # jsii warns for the deprecated enum/class itself too (`aws_ssm.ParameterType is deprecated`)
                self._deprecation(node, base.cls.name.split(".")[-1], _short(base.cls.qualname), code)
            if found.kind == "class":
                inner = self.api.cls(base.cls.module, f"{base.cls.name}.{attr}")
                return _Ref("class", base.cls.module, cls=inner) if inner else None
            if found.kind in ("static", "method"):
                return _Ref(
                    "static" if found.kind == "static" else "member",
                    base.cls.module,
                    cls=base.cls,
                    member=found,
                    signature=found.signature,
                )
            if attr == "node" and found.kind == "property":
                node_cls = self.api.cls("constructs", "Node")
                return _Ref("instance", "constructs", cls=node_cls) if node_cls else None
            return None
        return None

    def _check_node_member(self, node: ast.Attribute) -> None:
        """`self.node.apply_aspect(...)` inside a CDK construct class: constructs.Node has no such member."""
        value = node.value
        if not (
            isinstance(value, ast.Attribute) and value.attr == "node" and isinstance(value.value, ast.Name)
        ):
            return
        if value.value.id != "self" or not self._in_cdk_class(node):
            return
        node_cls = self.api.cls("constructs", "Node")
        if node_cls is None or node.attr.startswith("_"):
            return
        if self.api.member(node_cls, node.attr) is False:
            code = self._seg(node)
            hint = _close(node.attr, self.api.member_names(node_cls))
            self._error(
                node,
                f"`{code}`: constructs.Node has no member `{node.attr}`{_v1_node_hint(node.attr)}{hint}",
                code,
            )

    def _in_cdk_class(self, node: ast.AST) -> bool:
        parent = self._parents.get(node)
        while parent is not None and not isinstance(parent, ast.ClassDef):
            parent = self._parents.get(parent)
        if not isinstance(parent, ast.ClassDef):
            return False
        return any(
            (ref := self._resolve_quiet(base)) is not None and ref.kind == "class" for base in parent.bases
        )

    def _resolve_quiet(self, node: ast.AST) -> _Ref | None:
        errors = len(self.errors)
        ref = self._resolve(node)
        del self.errors[errors:]
        return ref

    # ---- variables holding one CDK class ------------------------------------------------------
    def _instance_of_name(self, node: ast.Name) -> _Ref | None:
        scope = self._scope_of(node)
        key = (id(scope), node.id)
        if key not in self._memo:
            self._memo[key] = None
            self._memo[key] = self._name_type(scope, node)
        return self._memo[key]

    def _name_type(self, scope: ast.AST, node: ast.Name) -> _Ref | None:
        values = _bindings_in_scope(scope, node.id)
        if values is None and not isinstance(scope, ast.Module):
            if _binds_anywhere(scope, node.id):
                return None
            values = _bindings_in_scope(self.tree, node.id)
        return self._single_class(values)

    def _is_self_attr(self, node: ast.Attribute) -> bool:
        return isinstance(node.value, ast.Name) and node.value.id == "self"

    def _instance_of_self_attr(self, node: ast.Attribute) -> _Ref | None:
        cls = self._parents.get(node)
        while cls is not None and not isinstance(cls, ast.ClassDef):
            cls = self._parents.get(cls)
        if not isinstance(cls, ast.ClassDef):
            return None
        key = (id(cls), node.attr)
        if key not in self._memo:
            self._memo[key] = None  # a cycle resolves to "unknown"
            self._memo[key] = self._self_attr_type(cls, node)
        return self._memo[key]

    def _self_attr_type(self, cls: ast.ClassDef, node: ast.Attribute) -> _Ref | None:
        values: list[ast.expr] = []
        for value in self._self_attr_stores(cls).get(node.attr, []):
            if value is None:
                return None
            values.append(value)
        return self._single_class(values or None)

    def _self_attr_stores(self, cls: ast.ClassDef) -> dict[str, list[ast.expr | None]]:
        """Per attribute, what the class's code stores into ``self.<attr>``, in the order of
        `walk`: the value of a plain ``self.x = v``, None for any other store (``+=``, a tuple
        target, ``self.x: T``, a loop or ``with`` target)."""

        def build() -> dict[str, list[ast.expr | None]]:
            stores: dict[str, list[ast.expr | None]] = {}
            for sub in walk(cls):
                if isinstance(sub, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                    targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                    for t in targets:
                        for leaf in _target_leaves(t):
                            if isinstance(leaf, ast.Attribute) and self._is_self_attr(leaf):
                                plain = not (
                                    isinstance(sub, ast.AugAssign)
                                    or sub.value is None
                                    or len(targets) != 1
                                    or leaf is not t
                                )
                                stores.setdefault(leaf.attr, []).append(sub.value if plain else None)
                elif isinstance(sub, (ast.For, ast.With, ast.AsyncFor, ast.AsyncWith, ast.NamedExpr)):
                    for inner in walk(sub):
                        if (
                            isinstance(inner, ast.Attribute)
                            and isinstance(inner.ctx, ast.Store)
                            and self._is_self_attr(inner)
                            and not isinstance(self._parents.get(inner), (ast.Assign, ast.AnnAssign))
                        ):
                            stores.setdefault(inner.attr, []).append(None)
            return stores

        return memoised("cdkuse-self-attrs", cls, build)

    def _single_class(self, values: list[ast.expr] | None) -> _Ref | None:
        if not values:
            return None
        cls: ClassInfo | None = None
        for value in values:
            follow: Callable[[Any], _Ref | None] | None = None
            if isinstance(value, ast.Name):
                follow = (
                    self._instance_of_name
                )  # `self.asg = asg` where `asg = autoscaling.AutoScalingGroup(...)`
            elif isinstance(value, ast.Call) and self._is_self_call(value):
                follow = (
                    self._returned_instance
                )  # `self.asg = self._create_cluster()` returning one CDK class
            if follow is not None and self._depth < 5:
                self._depth += 1
                try:
                    ref = follow(value)
                finally:
                    self._depth -= 1
                if ref is None or ref.cls is None or (cls is not None and cls.qualname != ref.cls.qualname):
                    return None
                cls = ref.cls
                continue
            if not isinstance(value, ast.Call):
                return None
            ref = self._resolve_quiet(value.func)
            if ref is None or ref.kind != "class" or ref.cls is None or ref.cls.kind != "class":
                return None
            if cls is not None and cls.qualname != ref.cls.qualname:
                return None
            cls = ref.cls
        return _Ref("instance", cls.module, cls=cls) if cls else None

    def _is_self_call(self, call: ast.Call) -> bool:
        func = call.func
        return (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self"
        )

    def _returned_instance(self, call: ast.Call) -> _Ref | None:
        assert isinstance(call.func, ast.Attribute)
        cls = self._parents.get(call)
        while cls is not None and not isinstance(cls, ast.ClassDef):
            cls = self._parents.get(cls)
        if not isinstance(cls, ast.ClassDef):
            return None
        methods = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == call.func.attr]
        if len(methods) != 1:
            return None
        returns = [n.value for n in scope_nodes(methods[0]) if isinstance(n, ast.Return)]
        if not returns or any(r is None for r in returns):
            return None
        return self._single_class([r for r in returns if r is not None])

    def _scope_of(self, node: ast.AST) -> ast.AST:
        parent = self._parents.get(node)
        while parent is not None and not isinstance(
            parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Module)
        ):
            parent = self._parents.get(parent)
        return parent if parent is not None else self.tree

    # ---- calls --------------------------------------------------------------------------------
    def _check_call(self, call: ast.Call) -> None:
        ref = self._resolve(call.func)
        if ref is None:
            return
        sig: Signature | None = None
        what = self._seg(call.func)
        if ref.kind == "class" and ref.cls is not None:
            if ref.cls.kind == "enum":
                self._check_enum_call(call, ref.cls, what)
                return
            if ref.cls.kind == "interface":
                return
            sig = self.api.init(ref.cls)
            if ref.cls.deprecated:
                self._deprecation(call, ref.cls.name.split(".")[-1], f"{_short(ref.cls.qualname)}", what)
        elif ref.kind in ("static", "member", "function"):
            sig = ref.signature
        if sig is None:
            return
        self._check_arguments(call, sig, what, ref)

    def _check_enum_call(self, call: ast.Call, cls: ClassInfo, what: str) -> None:
        """`logs.RetentionDays(7)`: a jsii enum's values are its member names, anything else raises ValueError."""
        if len(call.args) != 1 or call.keywords:
            return
        arg = call.args[0]
        if not isinstance(arg, ast.Constant):
            return
        members = [name for name, m in cls.members.items() if m.kind == "enum"]
        if not members or arg.value in members:
            return
        example = min(members, key=len)
        self._error(
            call,
            f"`{self._seg(call)}`: {_short(cls.qualname)} has no value {arg.value!r} (its values are "
            f"its member names: use a member such as `{what}.{example}`)",
            self._seg(call),
        )

    def _check_arguments(self, call: ast.Call, sig: Signature, what: str, ref: _Ref) -> None:
        star_args = any(isinstance(a, ast.Starred) for a in call.args)
        keywords, star_kwargs = self._keywords(call)
        positional = sig.positional
        owner = _short(ref.cls.qualname) if ref.cls else _short(ref.module)
        errors_before = len(self.errors)
        if not star_args and len(call.args) > len(positional) and not sig.varargs:
            self._error(
                call,
                f"`{what}(...)` takes {len(positional)} positional argument(s) "
                f"({', '.join(p.name for p in positional) or 'none'}), the answer passes {len(call.args)}",
                what,
            )
            return
        given: dict[str, ast.expr] = {}
        for param, arg in zip(positional, call.args, strict=False):
            if isinstance(arg, ast.Starred):
                break
            given[param.name] = arg
        unknown: list[tuple[str, ast.AST]] = []
        for name, key_node, value in keywords:
            if sig.get(name) is None:
                if not sig.varkw:
                    unknown.append((name, key_node))
                continue
            given[name] = value
        if unknown:
            names = [p.name for p in sig.params]
            listed = ", ".join(f"`{n}`" for n, _ in unknown)
            hints = "".join(_close(n, names) for n, _ in unknown[:1])
            self._error(
                unknown[0][1],
                f"`{what}(...)` passes {listed}, which {owner} does not accept{hints}",
                f"{unknown[0][0]}=",
                call,
            )
        if not star_args and not star_kwargs and not unknown:  # a misspelt keyword is one mistake, not two
            missing = [p.name for p in sig.params if p.required and p.name not in given]
            if missing:
                self._error(
                    call, f"`{what}(...)` is missing the required argument(s) {', '.join(missing)}", what
                )
        for name, value in given.items():
            target = sig.get(name)
            got = _literal_kind(value) if target is not None else None
            if target is None or got is None:
                continue
            if _compatible(got, target.type) is False:
                if got[0] == "none":
                    msg = f"`{what}(..., {name}=None)`: `{name}` is required by {owner}, None is not allowed"
                else:
                    msg = (
                        f"`{what}(..., {name}={self._seg(value, 40)})`: `{name}` must be "
                        f"{_type_text(target.type)}, got {_kind_text(got)}"
                    )
                self._error(value, msg, f"{name}=", call)
        if len(self.errors) > errors_before:
            return  # a call that raises never reaches jsii's deprecation warnings
        for name, value in given.items():
            target = sig.get(name)
            if target is not None and target.deprecated:
                self._deprecation(self._key_node(value), name, f"{owner}({name}=)", f"{name}=")

    def _keywords(self, call: ast.Call) -> tuple[list[tuple[str, ast.AST, ast.expr]], bool]:
        """(name, node to point at, value) of each keyword, `**d` of a dict literal expanded; and
        whether some `**` splat could not be expanded."""
        out: list[tuple[str, ast.AST, ast.expr]] = []
        opaque = False
        for kw in call.keywords:
            if kw.arg is not None:
                out.append((kw.arg, kw.value, kw.value))
                continue
            expanded = self._dict_literal(kw.value)
            if expanded is None:
                opaque = True
                continue
            out.extend(expanded)
        return out, opaque

    def _dict_literal(self, node: ast.expr) -> list[tuple[str, ast.AST, ast.expr]] | None:
        if isinstance(node, ast.Name):
            scope = self._scope_of(node)
            values = _bindings_in_scope(scope, node.id)
            if values is None and not isinstance(scope, ast.Module) and not _binds_anywhere(scope, node.id):
                values = _bindings_in_scope(self.tree, node.id)  # a module-level constant
            if values is None or len(values) != 1:
                return None
            node = values[0]
        if not isinstance(node, ast.Dict):
            return None
        out: list[tuple[str, ast.AST, ast.expr]] = []
        for key, value in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return None
            out.append((key.value, key, value))
        return out

    def _key_node(self, value: ast.expr) -> ast.AST:
        return value

    # ---- deprecations ---------------------------------------------------------------------------
    def _note_member_deprecation(self, node: ast.AST, cls: ClassInfo, member: Member, code: str) -> None:
        # jsii warns for deprecated methods, static methods and enum members, not static properties
        if member.deprecated and member.kind in ("method", "static", "enum"):
            self._deprecation(node, member.name, f"{_short(cls.qualname)}.{member.name}", code)

    def _deprecation(self, node: ast.AST, key: str, fqn: str, code: str) -> None:
        self.deprecations.append(Deprecation(node, key, fqn, code))

    def _seg(self, node: ast.AST, limit: int = 80) -> str:
        return segment(self.text, node, limit)

    def _error(self, node: ast.AST, message: str, code: str, call: ast.AST | None = None) -> None:
        self.errors.append(ApiError(node, message, code, call))

    def _dedupe(self) -> None:
        seen: set[tuple[int, int, str]] = set()
        errors: list[ApiError] = []
        for e in self.errors:
            key = (getattr(e.node, "lineno", 0), getattr(e.node, "col_offset", 0), e.message)
            if key not in seen:
                seen.add(key)
                errors.append(e)
        self.errors = errors
        dseen: set[tuple[int, str]] = set()
        deps: list[Deprecation] = []
        for d in self.deprecations:
            dkey = (getattr(d.node, "lineno", 0), d.key)
            if dkey not in dseen:
                dseen.add(dkey)
                deps.append(d)
        self.deprecations = deps


# ---- helpers -----------------------------------------------------------------------------------
def _bound_names(tree: ast.Module) -> set[str]:
    """Names bound by anything other than an import: assignments, parameters, defs, loop targets."""
    out: set[str] = set()
    for node in walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            out.update(node.names)
    return out


def _target_leaves(target: ast.expr) -> Iterator[ast.expr]:
    if isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _target_leaves(elt)
    elif isinstance(target, ast.Starred):
        yield from _target_leaves(target.value)
    else:
        yield target


def _is_parameter(scope: ast.AST, name: str) -> bool:
    """Whether ``name`` is a parameter of the function or lambda ``scope``."""
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return False
    args = scope.args
    every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
    return any(a.arg == name for a in every)


def _binds_anywhere(scope: ast.AST, name: str) -> bool:
    return _is_parameter(scope, name) or name in _scope_bindings(scope).bound


def _bindings_in_scope(scope: ast.AST, name: str) -> list[ast.expr] | None:
    """The values `name` is assigned in this scope; None when it is bound some other way too."""
    if _is_parameter(scope, name):
        return None
    index = _scope_bindings(scope)
    if name in index.blocked:
        return None
    return index.values.get(name) or None


@dataclass(frozen=True)
class _ScopeBindings:
    """How each name is bound in one scope, read in one pass over its nodes."""

    values: dict[str, list[ast.expr]]  # `name = v` / `name: T = v`, in `scope_nodes` order
    blocked: frozenset[str]  # also bound another way: `name: T`, a tuple target, a loop, global, import
    bound: frozenset[str]  # bound in the scope at all (store or del, global, nonlocal, import)


def _scope_bindings(scope: ast.AST) -> _ScopeBindings:
    return memoised("cdkuse-bindings", scope, lambda: _read_scope_bindings(scope))


def _read_scope_bindings(scope: ast.AST) -> _ScopeBindings:
    values: dict[str, list[ast.expr]] = {}
    plain_targets: set[int] = set()
    blocked: set[str] = set()
    bound: set[str] = set()
    nodes = scope_nodes(scope)
    for node in nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values.setdefault(node.targets[0].id, []).append(node.value)
            plain_targets.add(id(node.targets[0]))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.value is None:
                blocked.add(node.target.id)
            else:
                values.setdefault(node.target.id, []).append(node.value)
                plain_targets.add(id(node.target))
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
            if id(node) not in plain_targets:
                blocked.add(node.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
            blocked.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = {a.asname or a.name.split(".")[0] for a in node.names}
            bound.update(names)
            blocked.update(names)
    return _ScopeBindings(values, frozenset(blocked), frozenset(bound))


_LiteralKind = tuple


def _literal_kind(node: ast.expr) -> _LiteralKind | None:
    """What a literal argument is: ("str",) ("int",) ("float",) ("bool",) ("none",) ("list", [...]) ("dict", [...])."""
    if isinstance(node, ast.Constant):
        v = node.value
        if v is None:
            return ("none",)
        if isinstance(v, bool):
            return ("bool",)
        if isinstance(v, int):
            return ("int",)
        if isinstance(v, float):
            return ("float",)
        if isinstance(v, str):
            return ("str",)
        return None
    if isinstance(node, ast.JoinedStr):
        return ("str",)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_kind(node.left), _literal_kind(node.right)
        if left == ("str",) and right == ("str",):
            return ("str",)
        return None
    if isinstance(node, (ast.List, ast.Tuple)):
        if any(isinstance(e, ast.Starred) for e in node.elts):
            return None
        return ("list", [_literal_kind(e) for e in node.elts])
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):  # {**other}
            return None
        return ("dict", [_literal_kind(v) for v in node.values])
    return None


def _compatible(got: _LiteralKind, want: TypeRef) -> bool | None:
    """Whether jsii accepts a literal of kind ``got`` for a parameter typed ``want`` (None: cannot tell)."""
    kind = want[0]
    if kind in ("any", "unknown"):
        return None
    if kind == "union":
        results = [_compatible(got, t) for t in want[1]]
        if any(r is True for r in results):
            return True
        if all(r is False for r in results):
            return False
        return None
    g = got[0]
    if g == "none":
        return kind == "none"
    if g == "str":
        if kind == "seq":
            return None  # a str is a Sequence to typeguard
        return kind == "str"
    if g == "bool":
        return kind == "bool"
    if g in ("int", "float"):
        return kind == "num"
    if g == "list":
        if kind != "seq":
            return False
        results = [_compatible(e, want[1]) if e is not None else None for e in got[1]]
        if any(r is False for r in results):
            return False
        return True if all(r is True for r in results) else None
    if g == "dict":
        if kind != "map":
            return False
        results = [_compatible(e, want[1]) if e is not None else None for e in got[1]]
        if any(r is False for r in results):
            return False
        return True if all(r is True for r in results) else None
    return None


def _type_text(t: TypeRef) -> str:
    kind = t[0]
    if kind == "union":
        parts = [_type_text(x) for x in t[1] if x[0] != "none"]
        return " or ".join(parts) if parts else "None"
    if kind == "class":
        return t[1].split(":")[-1]
    if kind == "seq":
        return f"a list of {_type_text(t[1])}"
    if kind == "map":
        return f"a dict of {_type_text(t[1])}"
    return {"str": "str", "num": "a number", "bool": "bool", "none": "None"}.get(kind, kind)


def _kind_text(got: _LiteralKind) -> str:
    return {
        "str": "a str",
        "int": "an int",
        "float": "a float",
        "bool": "a bool",
        "list": "a list",
        "dict": "a dict",
        "none": "None",
    }.get(got[0], got[0])


def _short(qualname: str) -> str:
    return qualname.removeprefix("aws_cdk.").replace(":", ".")


def _close(name: str, options: list[str] | set[str]) -> str:
    matches = difflib.get_close_matches(name, sorted(options), n=2, cutoff=0.75)
    return f" (did you mean {' or '.join(f'`{m}`' for m in matches)}?)" if matches else ""


def _is_v1_module(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "aws_cdk" and len(parts) >= 2 and (parts[1] == "core" or parts[1].startswith("aws_"))


def _v1_hint(module: str) -> str:
    if module.split(".")[1] == "core":
        return "a CDK v1 module: v2 has the core classes in `aws_cdk` itself and Construct in `constructs`"
    return "a CDK v1 module name; in v2 it is either part of aws-cdk-lib under another name or an `_alpha` package"


def _missing_in_module(api_: CdkApi, module: str, name: str) -> str:
    if module == "aws_cdk" and name == "core":
        return "aws-cdk-lib v2 has no `aws_cdk.core` (a CDK v1 module: v2 has the core classes in `aws_cdk` itself)"
    if module == "aws_cdk" and name == "Construct":
        return "aws-cdk-lib v2 has no `aws_cdk.Construct` (CDK v1; v2 uses `constructs.Construct`)"
    info = api_.module(module)
    options: set[str] = set()
    if info is not None:
        options = set(info.classes) | set(info.functions) | info.submodules
    return f"`{module}` has no `{name}`{_close(name, options)}"


def _v1_node_hint(attr: str) -> str:
    hints = {
        "apply_aspect": " (CDK v1; v2 uses `Aspects.of(scope).add(...)`)",
        "unique_id": " (CDK v1; v2 uses `Names.unique_id(construct)` or `node.addr`)",
        "add_warning": " (CDK v1; v2 uses `Annotations.of(scope).add_warning(...)`)",
        "add_error": " (CDK v1; v2 uses `Annotations.of(scope).add_error(...)`)",
        "add_info": " (CDK v1; v2 uses `Annotations.of(scope).add_info(...)`)",
    }
    return hints.get(attr, "")
