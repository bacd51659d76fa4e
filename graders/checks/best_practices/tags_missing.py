"""tags-missing: resources without the tags the rubric requires (default Environment, Owner, Project)."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iacgrade.graders.analysis.cfn import schema_taggable
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import (
    AnswerModel,
    names_list,
    ref_name,
    resource_label,
    substitute,
    text_of,
)
from iacgrade.graders.analysis.pyast import call_name, dotted, kwarg, parse_module, str_literal, walk
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.stacks import stack_class_evidence
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.analysis.tsast import TsFile, ts_files
from iacgrade.graders.checks import CheckOptions, check
from iacgrade.graders.models import Evidence
from iacgrade.graders.prompt import tag_keys

if TYPE_CHECKING:
    from tree_sitter import Node


class TagsMissingOptions(CheckOptions):
    required_tags: tuple[str, ...] = ("Environment", "Owner", "Project")
    """Tag keys every taggable resource must carry (matched case-insensitively)."""
    keys_from_prompt: bool = True
    """When the task's prompt names the tags to apply, those keys replace ``required_tags``."""


@check(
    "tags-missing",
    lenses=("source", "template"),
    kinds=("cdk-python", "cdk-typescript", "cdk-javascript"),
    options=TagsMissingOptions,
)
def tags_missing(ctx: CheckContext) -> Iterable[Hit]:
    """Resources without the tags the rubric requires (default Environment, Owner, Project).

    What it finds: on the template, taggable resources whose Tags lack a required key (tags
    from `Tags.of(app|stack).add` and the scaffold entry's app tags reach the template; a
    Stack's own `tags=` prop is applied by CloudFormation at deploy time, so it is read from the
    source); one finding names the missing keys, how many resources lack each and a few of
    them. Keys match case-insensitively. Without a template, the source lens reports only keys
    that no `Tags.of(...).add`, `tags=` or scaffold app tag ever applies. In TypeScript and
    JavaScript the keys of an `Object.entries(tags).forEach(...)` loop are read too.

    Why it matters: without owner, project and environment tags nobody can allocate cost,
    find who to page or clean up a forgotten stack.

    Bad example:

        app = cdk.App()
        TapStack(app, "TapStack")          # no Tags.of(app).add(...) anywhere
        app.synth()

    When the task's prompt names the tags to apply (`Project: CloudMigration`, "tagged with
    Environment, Team, and CostCenter"), those keys are the required ones instead of the
    rubric's list (rubric option ``keys_from_prompt: false`` to always use the rubric's).

    Fix: tag the whole app or stack once:
    `for k, v in {"Environment": env, "Owner": "team-a", "Project": "tap"}.items(): Tags.of(app).add(k, v)`.
    """
    opts = ctx.options(TagsMissingOptions)
    required = list(opts.required_tags)
    asked = tag_keys(ctx.prompt) if opts.keys_from_prompt else []
    if asked:
        required = asked
    if not required:
        return []
    index = AnswerModel.of(ctx)
    uses = _tag_uses(ctx, index)
    whose = "Tags the prompt asks for" if asked else "Required tags"
    if ctx.template.present:
        return _tags_template(ctx, index, required, uses, whose)
    return _tags_source(ctx, index, required, uses, whose)


# ==== tags-missing ===========================================================================


@functools.lru_cache(maxsize=512)
def _taggable(rtype: str) -> bool:
    """True when CloudFormation lets the resource type carry tags (cfn-lint's schema says)."""
    if rtype.startswith("Custom::") or rtype in _CDK_UNTAGGED:
        return False
    return schema_taggable(rtype)  # unknown type or schema trouble: False, not judged


# Types whose schema has Tags but that CDK's Tags.of() never reaches (no tag manager in the L1).
_CDK_UNTAGGED = frozenset(
    {
        "AWS::CDK::Metadata",
        "AWS::CloudFormation::Stack",
        "AWS::ApiGateway::Deployment",
    }
)


def _template_tag_keys(props: dict[str, Any]) -> set[str]:
    tags = props.get("Tags")
    if isinstance(tags, dict):  # map-style tags (SSM parameters, Glue, ...)
        return {k for k in tags if isinstance(k, str)}
    keys: set[str] = set()
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict):
                key = tag.get("Key", tag.get("TagKey"))
                if isinstance(key, str):
                    keys.add(key)
    return keys


@dataclass
class _TagUse:
    key: str | None  # None: a key the source lens cannot read
    wide: bool  # applied to an app or stack, not one construct
    src: SourceFile
    node: ast.AST | int  # a Python node, or the line (TypeScript)
    text: str
    stack_tags: bool = False  # a Stack's tags= prop: CloudFormation tags the resources at deploy time
    answer: bool = True  # in the answer's own code (False: the scaffold's entry)


def _tag_uses(ctx: CheckContext, index: AnswerModel) -> list[_TagUse]:
    """Every tag the answer's code (and the scaffold entry it relies on) applies."""
    stacks = index.stack_classes()
    uses: list[_TagUse] = []
    for src in index.sources:
        app_names = _app_names(src)
        stack_vars = _stack_vars(src, stacks)
        for call in (n for n in walk(src.tree) if isinstance(n, ast.Call)) if src.tree else ():
            uses.extend(_tag_uses_of_call(index, src, call, stacks, app_names | stack_vars))
    for tsf in ts_files(ctx.source):
        uses.extend(_ts_tag_uses(tsf))
    uses.extend(_scaffold_tag_uses(ctx))
    return uses


def _ts_tag_uses(tsf: TsFile, answer: bool = True) -> Iterator[_TagUse]:
    """Tags a TypeScript/JavaScript file applies: `Tags.of(scope).add("Key", v)`,
    `Aspects.of(scope).add(new Tag("Key", v))`, and a stack's `tags: {...}` prop."""
    stacks = tsf.stack_classes()

    def wide(scope: Node) -> bool:
        scope = tsf.resolve(scope)
        if scope.type == "this":
            return tsf.enclosing_class(scope) in stacks
        made = tsf.constructed(scope)
        if made is not None:
            return made.cls == "App" or made.cls in stacks or made.cls.endswith("Stack")
        of = tsf.call(scope)
        return of is not None and (of.callee or "").endswith("Stack.of")

    for call in tsf.calls("add"):
        of = tsf.call(call.receiver) if call.receiver is not None else None
        if of is None or not of.args or not call.args:
            continue
        scope, of_name = of.args[0], of.callee or ""
        key_node: Node | None = None
        if of_name.endswith("Tags.of"):
            key_node = call.args[0]
        elif of_name.endswith("Aspects.of") and (tag := tsf.new_call(call.args[0])) and tag.cls == "Tag":
            key_node = tag.arg(0)
        if key_node is not None:
            text = tsf.segment(call.node, 100)
            for key in _ts_keys(tsf, key_node):
                yield _TagUse(key, wide(scope), tsf.src, tsf.line(call.node), text, answer=answer)
    stack_props = [new.arg(2) for new in tsf.news() if new.cls in stacks or new.cls.endswith("Stack")]
    for props in [*stack_props, *_ts_super_props(tsf)]:
        tags = tsf.props(props).get("tags")
        if tags is None:
            continue
        keys: list[str | None] = list(tsf.props(tags))
        if not keys or tsf.has_spread(tags):
            keys.append(None)
        shown = f"tags: {tsf.segment(tags, 60)}: keys {', '.join(k or '?' for k in keys)}"
        for key in keys:
            yield _TagUse(key, True, tsf.src, tsf.line(tags), shown, stack_tags=True, answer=answer)


def _ts_keys(tsf: TsFile, key: Node) -> list[str | None]:
    """The tag key(s) of a `Tags.of(x).add(key, ...)`: a literal, or each key of the object a loop
    walks (`Object.entries(tags).forEach(([key, value]) => ...)`, `for (const [key, v] of
    Object.entries(tags))`); None for a key that cannot be read."""
    literal = tsf.literal(key)
    if literal is not None or key.type != "identifier":
        return [literal]
    name = tsf.text(key)
    for anc in tsf.ancestors(key):
        walked: Node | None = None
        if anc.type == "arrow_function" and anc.parent is not None and anc.parent.type == "arguments":
            params = anc.child_by_field_name("parameters")
            call = tsf.call(anc.parent.parent) if anc.parent.parent is not None else None
            if params is not None and _first_of_pair(tsf, params) == name and call is not None:
                walked = call.receiver
        elif anc.type == "for_in_statement" and _first_of_pair(tsf, anc.child_by_field_name("left")) == name:
            walked = anc.child_by_field_name("right")
        if walked is None:
            continue
        entries = tsf.call(walked)
        if entries is None or entries.callee != "Object.entries" or not entries.args:
            return [None]
        source = entries.args[0]
        keys: list[str | None] = list(tsf.props(source))
        return keys + [None] if not keys or tsf.has_spread(source) else keys
    return [None]


def _first_of_pair(tsf: TsFile, node: Node | None) -> str | None:
    """`key` in `([key, value])` or `const [key, value]`."""
    while node is not None and node.type != "array_pattern":
        node = node.named_children[0] if node.named_children else None
    first = node.named_children[0] if node is not None and node.named_children else None
    return tsf.text(first) if first is not None and first.type == "identifier" else None


def _ts_super_props(tsf: TsFile) -> Iterator[Node]:
    """The props a stack class passes to `super(scope, id, props)`."""
    stacks = tsf.stack_classes()
    for call in tsf.calls("super"):
        if len(call.args) >= 3 and tsf.enclosing_class(call.node) in stacks:
            yield call.args[2]


def _tag_uses_of_call(
    index: AnswerModel, src: SourceFile, call: ast.Call, stacks: set[str], wide_names: set[str]
) -> Iterator[_TagUse]:
    func = call.func
    # Tags.of(scope).add("Key", value) and Aspects.of(scope).add(Tag("Key", value))
    if isinstance(func, ast.Attribute) and func.attr == "add" and isinstance(func.value, ast.Call):
        of = func.value
        of_name = dotted(of.func)
        if of_name.endswith("Tags.of") and of.args and call.args:
            wide = _is_wide_scope(index, src, of.args[0], stacks, wide_names)
            for key in _keys_of(index, src, call, call.args[0]):
                yield _TagUse(key, wide, src, call, text_of(call, 100))
            return
        if of_name.endswith("Aspects.of") and of.args and call.args and isinstance(call.args[0], ast.Call):
            tag = call.args[0]
            if call_name(tag) == "Tag" and tag.args:
                wide = _is_wide_scope(index, src, of.args[0], stacks, wide_names)
                for key in _keys_of(index, src, tag, tag.args[0]):
                    yield _TagUse(key, wide, src, call, text_of(call, 100))
            return
    tags = kwarg(call, "tags")
    if tags is None:
        return
    is_stack = (
        call_name(call) in stacks
        or call_name(call).endswith("Stack")
        or _is_super_init(index, src, call, stacks)
    )
    keys = _dict_or_list_keys(index, src, call, tags)
    shown = f"tags={text_of(tags, 60)}: keys {', '.join(k or '?' for k in keys)}"
    for key in keys:
        yield _TagUse(key, is_stack, src, call, shown, stack_tags=is_stack)


def _is_super_init(index: AnswerModel, src: SourceFile, call: ast.Call, stacks: set[str]) -> bool:
    if not (isinstance(call.func, ast.Attribute) and call.func.attr == "__init__"):
        return False
    cls = index.enclosing(src, call, (ast.ClassDef,))
    return isinstance(cls, ast.ClassDef) and cls.name in stacks


def _keys_of(index: AnswerModel, src: SourceFile, call: ast.Call, node: ast.expr) -> list[str | None]:
    """The tag key(s) one call applies, loop variables bound to their literal values."""
    keys: list[str | None] = []
    for layers in index.copies(src, call, 0):
        value = substitute(node, layers)
        keys.append(value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None)
    return keys or [None]


def _dict_or_list_keys(
    index: AnswerModel, src: SourceFile, call: ast.Call, node: ast.expr
) -> list[str | None]:
    if isinstance(node, ast.Name):
        node = index.assigned_literal(src, call, node.id) or node
    if isinstance(node, ast.Dict):
        out: list[str | None] = []
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:  # {**common, ...}
                inner = index.assigned_literal(src, call, v.id) if isinstance(v, ast.Name) else None
                out.extend(_dict_or_list_keys(index, src, call, inner) if inner is not None else [None])
            else:
                out.append(str_literal(k))
        return out
    if isinstance(node, (ast.List, ast.Tuple)):  # L1 tags=[CfnTag(key=..., value=...)] or [{"key": ...}]
        out = []
        for el in node.elts:
            key_node = kwarg(el, "key") if isinstance(el, ast.Call) else None
            if isinstance(el, ast.Call) and key_node is None and el.args:
                key_node = el.args[0]
            if isinstance(el, ast.Dict):
                key_node = next(
                    (v for k, v in zip(el.keys, el.values, strict=True) if str_literal(k) in ("key", "Key")),
                    None,
                )
            out.append(str_literal(key_node))
        return out
    return [None]


def _app_names(src: SourceFile) -> set[str]:
    out = set()
    for node in walk(src.tree) if src.tree else ():
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and call_name(node.value) == "App"
        ):
            out |= {r for t in node.targets if (r := ref_name(t))}
    return out


def _stack_vars(src: SourceFile, stacks: set[str]) -> set[str]:
    out = set()
    for node in walk(src.tree) if src.tree else ():
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            name = call_name(node.value)
            if name in stacks or name.endswith("Stack"):
                out |= {r for t in node.targets if (r := ref_name(t))}
    return out


def _is_wide_scope(
    index: AnswerModel, src: SourceFile, scope: ast.expr, stacks: set[str], wide_names: set[str]
) -> bool:
    ref = ref_name(scope)
    if ref == "self":
        cls = index.enclosing(src, scope, (ast.ClassDef,))
        return isinstance(cls, ast.ClassDef) and cls.name in stacks
    if ref in wide_names:
        return True
    if isinstance(scope, ast.Call) and call_name(scope) in ("of", "App"):
        return True  # Stack.of(self)
    return False


def _answer_has_entry(ctx: CheckContext) -> bool:
    for src in ctx.source.parsed():
        for node in walk(src.tree) if src.tree else ():
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "synth"
            ):
                return True
    return False


def _scaffold_tag_uses(ctx: CheckContext) -> list[_TagUse]:
    """Tags the scaffold entry adds to the app, when the answer relies on that entry."""
    ws = ctx.workspace
    if ws is None or _answer_has_entry(ctx):
        return []
    entry = ctx.synth.entry or ctx.sample.entry_file
    if not entry or entry not in ws.scaffold_files:
        return []
    try:
        text = (Path(ws.root) / entry).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return []
    if entry.endswith((".ts", ".js", ".mjs", ".cjs")):
        return list(_ts_tag_uses(TsFile.parse(SourceFile(entry, text, None, None)), answer=False))
    try:
        tree = parse_module(text)
    except (SyntaxError, ValueError):
        return []
    src = SourceFile(entry, text, tree, None)
    out = []
    for call in (n for n in walk(tree) if isinstance(n, ast.Call)):
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "add" and isinstance(func.value, ast.Call):
            if dotted(func.value.func).endswith("Tags.of") and call.args:
                out.append(
                    _TagUse(str_literal(call.args[0]), True, src, call, text_of(call, 100), answer=False)
                )
    return out


def _tags_template(
    ctx: CheckContext, index: AnswerModel, required: list[str], uses: list[_TagUse], whose: str
) -> list[Hit]:
    taggable = [r for r in ctx.template.resources() if _taggable(r.type)]
    if not taggable:
        return []
    # Stack tags live in the cloud assembly manifest, not in the template: read them from the source.
    deploy_time = [u for u in uses if u.stack_tags]
    if any(u.key is None for u in deploy_time):
        return []
    at_deploy = {(u.key or "").lower() for u in deploy_time}
    required = [k for k in required if k.lower() not in at_deploy]
    lacking: list[tuple[Resource, list[str]]] = []
    for res in taggable:
        keys = _template_tag_keys(res.properties)
        lowered = {k.lower() for k in keys}  # case-insensitive: a `project` tag is taken for Project
        absent = [k for k in required if k.lower() not in lowered]
        if absent:
            lacking.append((res, absent))
    if not lacking:
        return []
    total = len(taggable)
    counts = {k: sum(k in absent for _, absent in lacking) for k in required}
    parts = [f"{k} on {_share(n, total)}" for k, n in counts.items() if n]
    missing = [k for k, n in counts.items() if n]
    message = (
        f"{whose} missing: {'; '.join(parts)} (e.g. {names_list((resource_label(r) for r, _ in lacking), 4)})"
    )
    evidence = [r.evidence(value="no " + ", ".join(absent) + " tag") for r, absent in lacking[:5]]
    hits = [Hit(message, evidence, key="tags-missing", lens="template")]
    src_ev = [ctx.source.at(u.src, u.node, value=u.text) for u in uses if u.answer]
    if not src_ev:
        src_ev = _stack_evidence(ctx, index, "no Tags.of(...).add or tags= for " + ", ".join(missing))
    if src_ev:
        hits.append(Hit(message, src_ev[:5], key="tags-missing", lens="source"))
    return hits


def _share(n: int, total: int) -> str:
    """`all 12 taggable resources`, `3 of 12 taggable resources`, `the only taggable resource`."""
    if total == 1:
        return "the only taggable resource"
    if n == total:
        return "both taggable resources" if total == 2 else f"all {total} taggable resources"
    return f"{n} of {total} taggable resources"


def _tags_source(
    ctx: CheckContext, index: AnswerModel, required: list[str], uses: list[_TagUse], whose: str
) -> list[Hit]:
    has_code = bool(index.sources) or any(tsf.imports_cdk() for tsf in ts_files(ctx.source))
    if not has_code or any(u.key is None and u.wide for u in uses):
        return []  # no CDK code, or app/stack tags whose keys we cannot read: stay silent
    applied = {u.key.lower() for u in uses if u.key}
    never = [k for k in required if k.lower() not in applied]
    if not never:
        return []  # every key appears somewhere; coverage of construct-level tags is not judged
    partial = [
        k
        for k in required
        if k.lower() in applied and not any((u.key or "").lower() == k.lower() and u.wide for u in uses)
    ]
    if any(u.key is None for u in uses):  # construct-level tags with unreadable keys
        message = f"{whose} not applied to the app or its stacks: {', '.join(never)}"
    else:
        message = f"{whose} never applied: {', '.join(never)}"
    if not uses:
        message += " (the answer applies no tags at all)"
    elif partial:
        message += f"; {', '.join(partial)} only on some constructs"
    evidence = [ctx.source.at(u.src, u.node, value=u.text) for u in uses if u.answer][:5]
    if not evidence:
        evidence = _stack_evidence(ctx, index, "no Tags.of(...).add or tags= for " + ", ".join(never))
    if not evidence:
        return []  # no stack and no tag anywhere: an answer with nothing to tag is not judged
    return [Hit(message, evidence, key="tags-missing", lens="source")]


def _stack_evidence(ctx: CheckContext, index: AnswerModel, value: str) -> list[Evidence]:
    """The answer's stack classes, Python or TypeScript, as the place the tags belong."""
    out = stack_class_evidence(ctx, index, value)
    for tsf in ts_files(ctx.source):
        for cls in tsf.nodes("class_declaration"):
            name = cls.child_by_field_name("name")
            if name is not None and tsf.text(name) in tsf.stack_classes():
                out.append(ctx.source.at(tsf.src, tsf.line(cls), value=f"class {tsf.text(name)}: {value}"))
    return out
