"""The syntax tree of a CDK TypeScript or JavaScript answer, for the source lens.

The files are parsed with tree-sitter's TypeScript grammar (it reads JavaScript too), which
keeps a tree for code that is cut off or does not compile: the source lens must judge exactly
the answers whose synth failed. :class:`TsFile` is one file's index, built once per answer
(:func:`ts_files`, a view of the source model): the nodes by type, the names declared once
(``const bucketName = "orders"``) and what a value is made of. :class:`NewCall` is one
``new Cls(scope, id, props)``, the shape every construct of an answer has.

Only reading is done here: no code of the answer runs. Walks are iterative, so a deeply nested
file cannot exhaust the interpreter's stack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from iacgrade.graders.analysis.names import ACCOUNT_REGION, AR_ENV, Part
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.ingest import mostly_binary
from iacgrade.graders.paths import is_test_file

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

    from iacgrade.graders.analysis.source import SourceModel

# Nodes that only wrap a value: `(x)`, `x as T`, `x!`, `x satisfies T`, `<T>x`.
_WRAPPERS = {
    "parenthesized_expression",
    "as_expression",
    "non_null_expression",
    "satisfies_expression",
    "type_assertion",
}
# Properties that vary only with the account or region (`this.region`, `cdk.Aws.ACCOUNT_ID`).
_AR_PROPS = {"account", "region", "ACCOUNT_ID", "REGION", "URL_SUFFIX", "PARTITION", "partition"}
_CLASS_RE = re.compile(
    r"^[ \t]*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+(\w+)(?:\s+extends\s+([\w.]+))?", re.M
)
_STRING_METHODS: dict[str, Callable[[str], str]] = {
    "toLowerCase": str.lower,
    "toUpperCase": str.upper,
    "trim": str.strip,
}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_MAX_DEPTH = 8


@cache
def _parser() -> Parser:
    import tree_sitter_typescript
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_typescript.language_typescript()))


@dataclass
class NewCall:
    """``new Cls(scope, id, props)``: the class as written and its arguments."""

    node: Node
    qualified: str  # the constructor as written: `s3.Bucket`, `cdk.aws_s3.Bucket`, `Bucket`
    args: list[Node]

    @property
    def cls(self) -> str:
        """The class name without its module: `Bucket`."""
        return self.qualified.rsplit(".", 1)[-1]

    def arg(self, n: int) -> Node | None:
        return self.args[n] if n < len(self.args) else None


@dataclass
class Call:
    """A call `f(...)` or `x.method(...)`: the callee as written and its arguments."""

    node: Node
    callee: str | None  # `cdk.Tags.of`, `fn.addToRolePolicy`; None when not a chain of names
    method: str | None  # the name called: `addToRolePolicy`, `of`, `super`
    receiver: Node | None  # what the method is called on (`fn`), for a property access
    args: list[Node]


@dataclass
class TsFile:
    """One TypeScript/JavaScript file of the answer: its tree, nodes by type and single bindings."""

    src: SourceFile
    root: Node
    by_type: dict[str, list[Node]] = field(default_factory=dict)
    bindings: dict[str, Node] = field(default_factory=dict)
    _classes: dict[str, str] | None = field(default=None, repr=False)
    _written: list[tuple[int, str, str]] | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, src: SourceFile) -> TsFile:
        tree = _parser().parse(src.text.encode("utf-8", "replace"))
        out = cls(src, tree.root_node)
        stack = [tree.root_node]
        while stack:
            node = stack.pop()
            out.by_type.setdefault(node.type, []).append(node)
            stack.extend(reversed(node.named_children))
        declared: dict[str, int] = {}
        for decl in out.nodes("variable_declarator"):
            name, value = decl.child_by_field_name("name"), decl.child_by_field_name("value")
            if name is None or name.type != "identifier":
                continue
            key = out.text(name)
            declared[key] = declared.get(key, 0) + 1
            if value is not None:
                out.bindings[key] = value
        for twice in [k for k, count in declared.items() if count > 1]:
            out.bindings.pop(twice, None)  # declared in two scopes: which one a use means is not known
        return out

    # ---- reading nodes ----------------------------------------------------------------------
    def nodes(self, *types: str) -> Iterator[Node]:
        """The nodes of these types, in source order within each type."""
        for t in types:
            yield from self.by_type.get(t, ())

    def text(self, node: Node) -> str:
        return (node.text or b"").decode("utf-8", "replace")

    @staticmethod
    def line(node: Node) -> int:
        return node.start_point[0] + 1

    def segment(self, node: Node, limit: int = 80) -> str:
        """The node's text on one line, shortened to ``limit`` characters."""
        flat = re.sub(r"\s+", " ", self.text(node)).strip()
        return flat if len(flat) <= limit else flat[: limit - 1] + "…"

    def news(self) -> Iterator[NewCall]:
        """Every ``new Cls(...)`` of the file whose class is a name (`s3.Bucket`, `Bucket`)."""
        for node in self.nodes("new_expression"):
            new = self.new_call(node)
            if new is not None:
                yield new

    def new_call(self, node: Node) -> NewCall | None:
        ctor = node.child_by_field_name("constructor")
        args = node.child_by_field_name("arguments")
        qualified = self.dotted(ctor) if ctor is not None and node.type == "new_expression" else None
        if qualified is None:
            return None
        return NewCall(node, qualified, list(args.named_children) if args is not None else [])

    def calls(self, *methods: str) -> Iterator[Call]:
        """Every call of the file, or only those of these method or function names."""
        for node in self.nodes("call_expression"):
            call = self.call(node)
            if call is not None and (not methods or call.method in methods):
                yield call

    def call(self, node: Node) -> Call | None:
        """The node as a call (after unwrapping), or None when it is not one."""
        node = self.unwrap(node)
        func = node.child_by_field_name("function") if node.type == "call_expression" else None
        if func is None:
            return None
        args = node.child_by_field_name("arguments")
        method: str | None = None
        receiver: Node | None = None
        if func.type == "member_expression":
            prop, receiver = func.child_by_field_name("property"), func.child_by_field_name("object")
            method = self.text(prop) if prop is not None else None
        elif func.type in ("identifier", "super"):
            method = self.text(func)
        return Call(node, self.dotted(func), method, receiver, list(args.named_children) if args else [])

    def dotted(self, node: Node) -> str | None:
        """`a.b.C` for an identifier or a chain of property accesses; None for anything else."""
        parts: list[str] = []
        while node.type == "member_expression":
            prop = node.child_by_field_name("property")
            obj = node.child_by_field_name("object")
            if prop is None or obj is None:
                return None
            parts.append(self.text(prop))
            node = obj
        if node.type in ("identifier", "this", "property_identifier"):
            parts.append(self.text(node))
            return ".".join(reversed(parts))
        return None

    def unwrap(self, node: Node) -> Node:
        while node.type in _WRAPPERS and node.named_children:
            node = node.named_children[0]
        return node

    def resolve(self, node: Node) -> Node:
        """The value a name stands for when it is declared once in the file (a few steps deep)."""
        for _ in range(_MAX_DEPTH):
            node = self.unwrap(node)
            if node.type != "identifier" or self.text(node) not in self.bindings:
                return node
            node = self.bindings[self.text(node)]
        return node

    def props(self, node: Node | None) -> dict[str, Node]:
        """The properties of an object literal (or a name bound to one): key -> value node.

        A shorthand ``{ bucketName }`` maps to the identifier itself; spreads are left out.
        """
        if node is None:
            return {}
        node = self.resolve(node)
        if node.type != "object":
            return {}
        out: dict[str, Node] = {}
        for child in node.named_children:
            if child.type == "pair":
                name, value = self.pair_key(child), child.child_by_field_name("value")
                if name is not None and value is not None:
                    out[name] = value
            elif child.type == "shorthand_property_identifier":
                out[self.text(child)] = child
        return out

    def pair_key(self, pair: Node) -> str | None:
        """The property name of a `key: value` pair (`tableName`, `"DB_PASSWORD"`)."""
        key = pair.child_by_field_name("key")
        if key is None:
            return None
        return self.string(key) if key.type == "string" else self.text(key)

    def has_spread(self, node: Node | None) -> bool:
        node = self.resolve(node) if node is not None else None
        return node is not None and any(c.type == "spread_element" for c in node.named_children)

    def string(self, node: Node) -> str | None:
        """The value of a string literal (or a template string with no substitution)."""
        if node.type not in ("string", "template_string"):
            return None
        out: list[str] = []
        for child in node.named_children:
            if child.type == "template_substitution":
                return None
            out.append(self.string_piece(child))
        return "".join(out)

    def construct_id(self, node: Node) -> str | None:
        """A construct id as written: the literal, ``{}`` standing for each `${...}` part."""
        node = self.resolve(node)
        if node.type == "string":
            return self.string(node)
        if node.type != "template_string":
            return None
        return "".join(
            "{}" if c.type == "template_substitution" else self.text(c)
            for c in node.named_children
            if c.type in ("template_substitution", "string_fragment")
        )

    def string_piece(self, node: Node) -> str:
        """The text of one piece of a string: a fragment, or an escape sequence decoded."""
        if node.type == "escape_sequence":
            raw = self.text(node)[1:]
            return _ESCAPES.get(raw, raw)
        return self.text(node)

    def literal(self, node: Node) -> str | None:
        """A string the node holds for certain: a literal, or a name declared once as one."""
        return self.string(self.resolve(node))

    def member(self, node: Node) -> str | None:
        """`RemovalPolicy.DESTROY` for `cdk.RemovalPolicy.DESTROY` (the last two parts)."""
        name = self.dotted(self.resolve(node))
        if name is None:
            return None
        return ".".join(name.split(".")[-2:])

    def is_true(self, node: Node) -> bool:
        return self.resolve(node).type == "true"

    def constructed(self, node: Node) -> NewCall | None:
        """The `new` a name stands for: `const t = new Table(...)`, or `this.t = new Table(...)`
        assigned once in the file."""
        value = self.resolve(node)
        if value.type == "member_expression":
            target = self.text(value)
            found = [
                right
                for a in self.nodes("assignment_expression")
                if (left := a.child_by_field_name("left")) is not None
                and self.text(left) == target
                and (right := a.child_by_field_name("right")) is not None
            ]
            value = self.unwrap(found[0]) if len(found) == 1 else value
        return self.new_call(value)

    def enclosing_construct(self, node: Node) -> NewCall | None:
        """The `new Cls(scope, "Id", ...)` the node is or sits in: the nearest whose id argument is
        a construct id."""
        for candidate in [node, *self.ancestors(node)]:
            new = self.new_call(candidate)
            if (
                new is not None
                and (id_node := new.arg(1)) is not None
                and self.construct_id(id_node) is not None
            ):
                return new
        return None

    def classes(self) -> dict[str, str]:
        """The file's classes: name -> what they extend, as written (`cdk.Stack`; "" for none).

        A class the parser could not close (the file is cut off inside it) is found in the text.
        """
        if self._classes is not None:
            return self._classes
        out: dict[str, str] = {}
        for cls in self.nodes("class_declaration", "class"):
            name = cls.child_by_field_name("name")
            if name is None:
                continue
            heritage = next((h for h in cls.named_children if h.type == "class_heritage"), None)
            base = heritage.named_children[0] if heritage is not None and heritage.named_children else None
            value = base.named_children[0] if base is not None and base.named_children else None
            out[self.text(name)] = (self.dotted(value) or "") if value is not None else ""
        for _, written, extends in self._written_classes():
            out.setdefault(written, extends)
        self._classes = out
        return out

    def _written_classes(self) -> list[tuple[int, str, str]]:
        """(line, name, base) of every `class Name extends Base` in the text."""
        if self._written is None:
            self._written = [
                (self.src.text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2) or "")
                for m in _CLASS_RE.finditer(self.src.text)
            ]
        return self._written

    def stack_classes(self) -> set[str]:
        """The file's classes that extend a Stack or Stage (NestedStack included)."""
        return {
            name
            for name, base in self.classes().items()
            if base.rsplit(".", 1)[-1] in ("Stack", "Stage", "NestedStack")
        }

    def enclosing_class(self, node: Node) -> str | None:
        """The class a node is written in (in a file cut off inside a class: the last one
        declared above it)."""
        for anc in self.ancestors(node):
            if anc.type in ("class_declaration", "class") and (name := anc.child_by_field_name("name")):
                return self.text(name)
        if self.root.has_error:
            above = [name for line, name, _ in self._written_classes() if line <= self.line(node)]
            return above[-1] if above else None
        return None

    def ancestors(self, node: Node) -> Iterator[Node]:
        parent = node.parent
        while parent is not None:
            yield parent
            parent = parent.parent

    # ---- names --------------------------------------------------------------------------------
    def name_parts(self, node: Node, depth: int = 0) -> list[Part] | None:
        """The pieces of a name: literal strings and account/region markers; None if it varies."""
        if depth > _MAX_DEPTH:
            return None
        node = self.resolve(node)
        if node.type == "string":
            value = self.string(node)
            return None if value is None else [value]
        if node.type == "template_string":
            parts: list[Part] = []
            for child in node.named_children:
                if child.type == "template_substitution":
                    inner = child.named_children[0] if child.named_children else None
                    sub = self.name_parts(inner, depth + 1) if inner is not None else None
                    if sub is None:
                        return None
                    parts += sub
                else:
                    parts.append(self.string_piece(child))
            return parts
        if node.type == "binary_expression":
            op = node.child_by_field_name("operator")
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if op is None or self.text(op) != "+" or left is None or right is None:
                return None
            lparts, rparts = self.name_parts(left, depth + 1), self.name_parts(right, depth + 1)
            return None if lparts is None or rparts is None else lparts + rparts
        if self.is_account_region(node):
            return [ACCOUNT_REGION]
        call = self.call(node)
        change = _STRING_METHODS.get(call.method or "") if call is not None else None
        if call is not None and change is not None and call.receiver is not None and not call.args:
            base = self.name_parts(call.receiver, depth + 1)  # `'Orders'.toLowerCase()`
            return None if base is None else [change(p) if isinstance(p, str) else p for p in base]
        return None

    def is_account_region(self, node: Node) -> bool:
        """`this.region`, `Stack.of(this).account`, `cdk.Aws.REGION`, `process.env.CDK_DEFAULT_REGION`."""
        node = self.unwrap(node)
        if node.type == "member_expression":
            prop = node.child_by_field_name("property")
            name = self.text(prop) if prop is not None else ""
            if name in _AR_PROPS:
                return True
            obj = node.child_by_field_name("object")
            return obj is not None and self.dotted(obj) == "process.env" and bool(AR_ENV.search(name))
        if node.type == "subscript_expression":
            obj, index = node.child_by_field_name("object"), node.child_by_field_name("index")
            key = self.string(index) if index is not None else None
            return obj is not None and self.dotted(obj) == "process.env" and bool(key and AR_ENV.search(key))
        return False

    def imports_cdk(self) -> bool:
        return any(
            "aws-cdk-lib" in self.text(node) or "constructs" in self.text(node)
            for node in self.nodes("import_statement")
        ) or bool(re.search(r"require\(\s*['\"](aws-cdk-lib|constructs)", self.src.text))


_SUFFIXES = (".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs")


def ts_files(source: SourceModel) -> list[TsFile]:
    """The answer's TypeScript/JavaScript files as syntax trees, parsed once per answer; its tests
    are not the app and are left out (none for an answer of another kind)."""
    return source.view(
        "ts-files",
        lambda: [
            TsFile.parse(src)
            for src in source.files
            if src.inline_of is None
            and src.path.endswith(_SUFFIXES)
            and not is_test_file(src.path)
            and _readable(src.text)
        ],
    )


# A file the source lens reads at most: real CDK files are under 100 KB; a bigger one is junk, and
# parsing it in the grading process (a few seconds per MB) is time no answer deserves.
MAX_SOURCE_BYTES = 256_000


def _readable(text: str) -> bool:
    """Worth a syntax tree: not too big, not binary."""
    if len(text) > MAX_SOURCE_BYTES:
        return False
    return not mostly_binary(text[:4096].encode("utf-8", "replace"))


def camel(snake: str) -> str:
    """`table_name` -> `tableName`: a Python keyword of the CDK as TypeScript spells it."""
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)
