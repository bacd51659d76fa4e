"""A static index of the installed aws-cdk-lib (and constructs) Python API.

The checks ask it whether ``aws_logs.RetentionDays.THIRTY_DAYS`` exists, which keywords
``ec2.CfnPlacementGroup`` accepts, which parameters are deprecated and what type a parameter
wants. It reads the jsii-generated ``__init__.py`` files with ``ast`` instead of importing them:
importing aws_cdk starts the jsii Node runtime, which the grader (threads, no sandbox) must not
do. Modules are parsed on first use (0.1-2 s each) and kept in memory; every answer of a batch
shares them.

Every question has three answers: yes, no, or "cannot tell" (None). Checks only report a "no".
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iacgrade.graders.analysis.pyast import parse_expression, parse_module

# ---- types -------------------------------------------------------------------------------
# A parameter type is a small tuple tree: ("str",), ("num",), ("bool",), ("none",), ("any",),
# ("seq", T), ("map", T), ("union", (T, ...)), ("class", "module.Name"), ("unknown",).
TypeRef = tuple

ANY: TypeRef = ("any",)
UNKNOWN: TypeRef = ("unknown",)


@dataclass(frozen=True)
class Param:
    name: str
    keyword_only: bool
    required: bool
    type: TypeRef
    deprecated: bool = False


@dataclass(frozen=True)
class Signature:
    params: tuple[Param, ...]
    varargs: bool = False
    varkw: bool = False

    def get(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def positional(self) -> list[Param]:
        return [p for p in self.params if not p.keyword_only]


@dataclass(frozen=True)
class Member:
    name: str
    # method | static | property | classproperty | enum | class | attr
    kind: str
    deprecated: bool = False
    signature: Signature | None = None


@dataclass
class ClassInfo:
    module: str
    name: str  # dotted inside the module for nested classes: "CfnBucket.CorsRuleProperty"
    kind: str  # class | enum | struct | interface
    jsii_fqn: str
    bases: list[tuple[str, str] | None] = field(default_factory=list)  # None: a base we cannot follow
    members: dict[str, Member] = field(default_factory=dict)
    init: Signature | None = None
    deprecated: bool = False

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class ModuleInfo:
    name: str
    classes: MutableMapping[str, ClassInfo] = field(default_factory=dict)
    functions: dict[str, Signature] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # every other module-level name
    submodules: set[str] = field(default_factory=set)


# Bases that add nothing a check cares about (and that we know to be harmless).
_NEUTRAL_BASES = {
    "typing_extensions.Protocol",
    "typing.Protocol",
    "jsii.compat.Protocol",
    "builtins.object",
    "object",
}
_ENUM_BASES = {"enum.Enum"}


def _package_dir(name: str) -> Path | None:
    # find_spec of a top-level name does not execute the package (aws_cdk's would start Node).
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class CdkApi:
    """Lazily parsed view of the aws_cdk and constructs packages."""

    def __init__(self) -> None:
        self._roots = {"aws_cdk": _package_dir("aws_cdk"), "constructs": _package_dir("constructs")}
        self._modules: dict[str, ModuleInfo | None] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self._roots["aws_cdk"] is not None

    # ---- modules ---------------------------------------------------------------------
    def module_file(self, module: str) -> Path | None:
        top, _, rest = module.partition(".")
        root = self._roots.get(top)
        if root is None:
            return None
        path = root.joinpath(*rest.split(".")) / "__init__.py" if rest else root / "__init__.py"
        return path if path.is_file() else None

    def module_exists(self, module: str) -> bool | None:
        """True/False for aws_cdk and constructs modules; None for anything else."""
        top = module.partition(".")[0]
        if top not in self._roots or self._roots[top] is None:
            return None
        return self.module_file(module) is not None

    def module(self, module: str) -> ModuleInfo | None:
        if module in self._modules:
            return self._modules[module]
        with self._lock:
            if module not in self._modules:
                path = self.module_file(module)
                self._modules[module] = _load_module(module, path) if path else None
        return self._modules[module]

    def module_has(self, module: str, name: str) -> bool | None:
        info = self.module(module)
        if info is None:
            return None
        return name in info.classes or name in info.functions or name in info.names or name in info.submodules

    # ---- classes ---------------------------------------------------------------------
    def cls(self, module: str, name: str) -> ClassInfo | None:
        info = self.module(module)
        return info.classes.get(name) if info else None

    def _base_infos(self, cls: ClassInfo) -> list[ClassInfo] | None:
        out: list[ClassInfo] = []
        for base in cls.bases:
            if base is None:
                return None
            if base[0] == "":  # neutral or enum base
                continue
            info = self.cls(*base)
            if info is None:
                return None
            out.append(info)
        return out

    def member(self, cls: ClassInfo, name: str, _depth: int = 0) -> Member | None | bool:
        """The member ``name`` of ``cls`` or its bases; False when surely absent; None when unknown."""
        if name in cls.members:
            return cls.members[name]
        if _depth > 30:
            return None
        bases = self._base_infos(cls)
        if bases is None:
            return None
        unknown = False
        for base in bases:
            found = self.member(base, name, _depth + 1)
            if found:
                return found
            if found is None:
                unknown = True
        if cls.kind == "enum" and name in ("name", "value"):
            return Member(name, "attr")
        return None if unknown else False

    def init(self, cls: ClassInfo, _depth: int = 0) -> Signature | None:
        """The constructor signature, inherited when the class has none of its own."""
        if cls.init is not None:
            return cls.init
        if cls.kind in ("enum", "interface") or _depth > 30:
            return None
        bases = self._base_infos(cls)
        if not bases:
            return None
        return self.init(bases[0], _depth + 1)

    def member_names(self, cls: ClassInfo, _depth: int = 0) -> set[str]:
        names = set(cls.members)
        for base in self._base_infos(cls) or []:
            if _depth < 30:
                names |= self.member_names(base, _depth + 1)
        return names


_API: CdkApi | None = None
_API_LOCK = threading.Lock()


def api() -> CdkApi:
    """The process-wide index (modules parse on first use)."""
    global _API
    with _API_LOCK:
        if _API is None:
            _API = CdkApi()
        return _API


# ---- the on-disk index ------------------------------------------------------------------------
# A module's index is built once per aws-cdk-lib version in a child process (parsing the 2-16 MB
# generated sources peaks at hundreds of MB that CPython keeps after freeing) and kept as JSON
# under the grader's cache folder; later runs only read the JSON.
_FORMAT = 1
_BUILD_TIMEOUT = 300.0


def _index_dir() -> Path | None:
    try:
        versions = f"{importlib.metadata.version('aws-cdk-lib')}-{importlib.metadata.version('constructs')}"
    except importlib.metadata.PackageNotFoundError:
        return None
    from iacgrade.graders.cache import default_cache_dir

    return default_cache_dir() / "cdk-api" / f"{versions}-f{_FORMAT}"


def _load_module(module: str, path: Path) -> ModuleInfo | None:
    """The index of one module: from the cache, else built in a child process, else here."""
    folder = _index_dir()
    if folder is None:
        return _read_module(module, path)
    target = folder / f"{module}.json"
    if not target.is_file():
        _build_in_child(module, path, target)
    try:
        return _from_json(json.loads(target.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return _read_module(module, path)  # no cache (read-only home, failed build): parse here


def _build_in_child(module: str, path: Path, target: Path) -> None:
    from iacgrade.graders.cache import build_in_child

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    build_in_child("iacgrade.graders.analysis.cdkapi", module, str(path), str(target), timeout=_BUILD_TIMEOUT)


def _write_index(module: str, path: Path, target: Path) -> int:
    info = _read_module(module, path)
    if info is None:
        return 1
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(_to_json(info), fh, separators=(",", ":"))
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)  # atomic: concurrent graders never read half a file
    return 0


def _sig_json(sig: Signature | None) -> Any:
    if sig is None:
        return None
    return [
        [[p.name, p.keyword_only, p.required, p.type, p.deprecated] for p in sig.params],
        sig.varargs,
        sig.varkw,
    ]


def _sig_from(data: Any) -> Signature | None:
    if data is None:
        return None
    params, varargs, varkw = data
    return Signature(
        tuple(Param(n, bool(k), bool(r), _tuple(t), bool(d)) for n, k, r, t, d in params),
        bool(varargs),
        bool(varkw),
    )


def _tuple(value: Any) -> Any:
    return tuple(_tuple(v) for v in value) if isinstance(value, list) else value


def _to_json(info: ModuleInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "names": sorted(info.names),
        "submodules": sorted(info.submodules),
        "functions": {k: _sig_json(v) for k, v in info.functions.items()},
        "classes": {
            name: {
                "kind": c.kind,
                "fqn": c.jsii_fqn,
                "bases": [list(b) if b else None for b in c.bases],
                "init": _sig_json(c.init),
                "deprecated": c.deprecated,
                "members": {
                    m.name: [m.kind, m.deprecated, _sig_json(m.signature)] for m in c.members.values()
                },
            }
            for name, c in info.classes.items()
        },
    }


def _from_json(data: dict[str, Any]) -> ModuleInfo:
    module = data["name"]
    info = ModuleInfo(module, names=set(data["names"]), submodules=set(data["submodules"]))
    info.functions = {k: s for k, v in data["functions"].items() if (s := _sig_from(v)) is not None}
    info.classes = _ClassTable(module, data["classes"])
    return info


def _class_from(module: str, name: str, c: dict[str, Any]) -> ClassInfo:
    cls = ClassInfo(module, name, c["kind"], c["fqn"], deprecated=bool(c["deprecated"]))
    cls.bases = [(b[0], b[1]) if b else None for b in c["bases"]]
    cls.init = _sig_from(c["init"])
    cls.members = {n: Member(n, m[0], bool(m[1]), _sig_from(m[2])) for n, m in c["members"].items()}
    return cls


class _ClassTable(MutableMapping[str, ClassInfo]):
    """A module's classes as its index file holds them, each made a ClassInfo when first asked
    for: an answer uses a few of a module's hundreds of classes (aws_ec2 has ~900), and making
    them all cost more than reading the file."""

    def __init__(self, module: str, raw: dict[str, Any]) -> None:
        self._module, self._raw = module, raw
        self._made: dict[str, ClassInfo] = {}

    def __getitem__(self, name: str) -> ClassInfo:
        made = self._made.get(name)
        if made is None:
            made = self._made[name] = _class_from(self._module, name, self._raw[name])
        return made

    def __setitem__(self, name: str, cls: ClassInfo) -> None:
        self._raw.setdefault(name, None)
        self._made[name] = cls

    def __delitem__(self, name: str) -> None:
        del self._raw[name]
        self._made.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


# ---- reading one generated module -----------------------------------------------------------
def _read_module(module: str, path: Path) -> ModuleInfo | None:
    try:
        tree = parse_module(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    info = ModuleInfo(module)
    if path.name == "__init__.py":
        info.submodules = {
            p.name for p in path.parent.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
        }
    aliases = _module_aliases(tree)
    reader = _Reader(module, aliases)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            reader.read_class(node, prefix="", into=info)
        elif isinstance(node, ast.FunctionDef):
            if not node.name.startswith("_"):
                info.functions[node.name] = reader.signature(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            info.names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            info.names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    return info


def _module_aliases(tree: ast.Module) -> dict[str, str]:
    """`_aws_cdk_0cae9daa` -> `aws_cdk` from the `import x as y` and `_LazyImport("x")` lines."""
    out: dict[str, str] = {}
    stmts: list[ast.stmt] = []
    for node in tree.body:  # module level and the `if typing.TYPE_CHECKING: ... else: ...` block
        stmts.extend(node.body + node.orelse if isinstance(node, ast.If) else [node])
    for node in stmts:
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name] = a.name
        elif (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            value = node.value
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id == "_LazyImport"
                and value.args
                and isinstance(value.args[0], ast.Constant)
                and isinstance(value.args[0].value, str)
            ):
                out[node.targets[0].id] = value.args[0].value
    return out


def _docstring(body: list[ast.stmt]) -> str:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        value = body[0].value.value
        return value if isinstance(value, str) else ""
    return ""


def _is_deprecated(doc: str) -> bool:
    return doc.lstrip().startswith("(deprecated)") or ":stability: deprecated" in doc


def _deprecated_params(doc: str) -> set[str]:
    out: set[str] = set()
    for line in doc.splitlines():
        line = line.strip()
        if line.startswith(":param ") and ":" in line[7:]:
            name, _, text = line[7:].partition(":")
            if text.strip().startswith("(deprecated)"):
                out.add(name.strip())
    return out


def _decorator_names(node: ast.FunctionDef) -> set[str]:
    names: set[str] = set()
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        parts: list[str] = []
        while isinstance(target, ast.Attribute):
            parts.append(target.attr)
            target = target.value
        if isinstance(target, ast.Name):
            parts.append(target.id)
        names.add(".".join(reversed(parts)))
    return names


class _Reader:
    def __init__(self, module: str, aliases: dict[str, str]) -> None:
        self.module = module
        self.aliases = aliases

    def ref(self, node: ast.expr) -> tuple[str, str] | None:
        """A class reference in a base list or annotation -> (module, name)."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                node = parse_expression(node.value).body
            except SyntaxError:
                return None
        if isinstance(node, ast.Name):
            return (self.module, node.id)
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.reverse()
            head = node.id
            if head in self.aliases:
                return (self.aliases[head], ".".join(parts))
            return (head, ".".join(parts))  # e.g. ("enum", "Enum"), ("typing_extensions", "Protocol")
        return None

    def base(self, node: ast.expr) -> tuple[str, str] | None:
        ref = self.ref(node)
        if ref is None:
            return None
        dotted = f"{ref[0]}.{ref[1]}"
        if dotted in _NEUTRAL_BASES or dotted in _ENUM_BASES:
            return ("", dotted)
        if ref[0] == self.module or ref[0].split(".")[0] in ("aws_cdk", "constructs"):
            return ref
        return None

    def read_class(self, node: ast.ClassDef, prefix: str, into: ModuleInfo) -> ClassInfo:
        name = f"{prefix}{node.name}"
        decorators = {d for d in _class_decorators(node)}
        doc = _docstring(node.body)
        if "jsii.enum" in decorators:
            kind = "enum"
        elif "jsii.data_type" in decorators:
            kind = "struct"
        elif "jsii.interface" in decorators:
            kind = "interface"
        else:
            kind = "class"
        fqn = next(
            (k.value for k in node.keywords if k.arg == "jsii_type" and isinstance(k.value, ast.Constant)), ""
        )
        if not fqn:
            fqn = _decorator_jsii_type(node) or ""
        cls = ClassInfo(self.module, name, kind, str(fqn), deprecated=_is_deprecated(doc))
        cls.bases = [self.base(b) for b in node.bases]
        body = node.body
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.FunctionDef):
                self._read_function(stmt, cls)
            elif isinstance(stmt, ast.ClassDef):
                inner = self.read_class(stmt, prefix=f"{name}.", into=into)
                cls.members[stmt.name] = Member(stmt.name, "class", inner.deprecated)
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name) and not target.id.startswith("_"):
                        member_doc = _docstring(body[i + 1 : i + 2])
                        kind_ = "enum" if kind == "enum" else "attr"
                        cls.members[target.id] = Member(target.id, kind_, _is_deprecated(member_doc))
        into.classes[name] = cls
        return cls

    def _read_function(self, node: ast.FunctionDef, cls: ClassInfo) -> None:
        decorators = _decorator_names(node)
        if node.name == "__init__":
            cls.init = self.signature(node, skip_first=True)
            return
        if node.name.startswith("_"):
            return
        if any(d.endswith(".setter") for d in decorators):
            return
        if "jsii.python.classproperty" in decorators:
            kind = "classproperty"
        elif "builtins.property" in decorators or "property" in decorators:
            kind = "property"
        elif "builtins.classmethod" in decorators or "builtins.staticmethod" in decorators:
            kind = "static"
        else:
            kind = "method"
        doc = _docstring(node.body)
        sig = self.signature(node, skip_first=True) if kind in ("static", "method") else None
        cls.members[node.name] = Member(node.name, kind, _is_deprecated(doc), sig)

    def signature(self, node: ast.FunctionDef, skip_first: bool = False) -> Signature:
        args = node.args
        deprecated = _deprecated_params(_docstring(node.body))
        params: list[Param] = []
        positional = list(args.posonlyargs) + list(args.args)
        if skip_first and positional:
            positional = positional[1:]
        n_defaults = len(args.defaults)
        first_default = len(list(args.posonlyargs) + list(args.args)) - n_defaults
        offset = 1 if skip_first else 0
        for i, a in enumerate(positional):
            has_default = (i + offset) >= first_default
            params.append(Param(a.arg, False, not has_default, self.type(a.annotation), a.arg in deprecated))
        for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=False):
            params.append(Param(a.arg, True, default is None, self.type(a.annotation), a.arg in deprecated))
        return Signature(tuple(params), varargs=args.vararg is not None, varkw=args.kwarg is not None)

    def type(self, node: ast.expr | None) -> TypeRef:
        if node is None:
            return UNKNOWN
        if isinstance(node, ast.Constant):
            if node.value is None:
                return ("none",)
            if isinstance(node.value, str):
                try:
                    return self.type(parse_expression(node.value).body)
                except SyntaxError:
                    return UNKNOWN
            return UNKNOWN
        if isinstance(node, ast.Subscript):
            head = _dotted(node.value)
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if head in ("typing.Optional",):
                return ("union", (self.type(args[0]), ("none",)))
            if head in ("typing.Union",):
                return ("union", tuple(self.type(a) for a in args))
            if head in ("typing.Sequence", "typing.List", "typing.MutableSequence", "typing.Iterable"):
                return ("seq", self.type(args[0]))
            if head in ("typing.Mapping", "typing.Dict", "typing.MutableMapping"):
                return ("map", self.type(args[-1]))
            return UNKNOWN
        head = _dotted(node)
        simple = {
            "builtins.str": ("str",),
            "str": ("str",),
            "builtins.bool": ("bool",),
            "bool": ("bool",),
            "jsii.Number": ("num",),
            "builtins.int": ("num",),
            "builtins.float": ("num",),
            "typing.Any": ANY,
            "None": ("none",),
        }
        if head in simple:
            return simple[head]
        if head.startswith("typing.") or head.startswith("datetime.") or not head:
            return UNKNOWN
        ref = self.ref(node)
        if ref is None or not (ref[0] == self.module or ref[0].split(".")[0] in ("aws_cdk", "constructs")):
            return UNKNOWN
        return ("class", f"{ref[0]}:{ref[1]}")


def _class_decorators(node: ast.ClassDef) -> list[str]:
    out: list[str] = []
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        out.append(_dotted(target))
    return out


def _decorator_jsii_type(node: ast.ClassDef) -> str | None:
    for dec in node.decorator_list:
        if isinstance(dec, ast.Call):
            for kw in dec.keywords:
                if (
                    kw.arg == "jsii_type"
                    and isinstance(kw.value, ast.Constant)
                    and isinstance(kw.value.value, str)
                ):
                    return kw.value.value
    return None


def _dotted(node: ast.AST) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


if __name__ == "__main__":  # python -m graders.analysis.cdkapi MODULE SOURCE TARGET (see _build_in_child)
    sys.exit(_write_index(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])))
