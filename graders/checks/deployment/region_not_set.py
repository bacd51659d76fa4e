"""region-not-set: a stack the answer's own app creates without an environment region."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import SourceIndex, index_sources, subclasses
from iacgrade.graders.analysis.pyast import call_name, iter_calls, kwarg, walk
from iacgrade.graders.analysis.tsast import NewCall, TsFile, ts_files
from iacgrade.graders.checks import check
from iacgrade.graders.models import Evidence


@check("region-not-set", lenses=("source", "synth"), kinds=("cdk-python", "cdk-typescript", "cdk-javascript"))
def region_not_set(ctx: CheckContext) -> Iterator[Hit]:
    """A stack the answer's own app creates without an environment region.

    What it finds: ``MyStack(app, "Id")`` calls in the answer's own app code (the scope is an
    ``App()``) with no ``env``, or an ``env`` whose region is missing or None. An env taken from
    ``CDK_DEFAULT_REGION`` counts as set. In TypeScript and JavaScript the same holds for
    ``new TapStack(app, "Id", { env: { account } })``: no props, props with no ``env``, an env
    with no ``region`` (or ``region: undefined``); props built elsewhere or spread in are assumed
    to carry one. Answers that never instantiate a stack themselves (the
    scaffold or a generated driver does it) are not reported; env passed through ``**kwargs`` or
    a props object is assumed set. The synth lens adds the stack name when the answer's own entry
    produced that stack.

    Why it matters: an environment-agnostic stack cannot use anything that depends on the region
    (availability zones, lookups, region-specific ARNs) and deploys wherever the CLI profile
    happens to point, which is not what a task that names a region asks for.

    Bad example:

        app = cdk.App()
        ServerlessApiStack(app, "ServerlessApiStack")
        app.synth()

    Fix: pass ``env=cdk.Environment(account=os.getenv("CDK_DEFAULT_ACCOUNT"),
    region=os.getenv("CDK_DEFAULT_REGION", "us-east-1"))`` (or the region the task names).
    """
    indexes = index_sources(ctx.source.parsed())
    stack_classes = _stack_classes(indexes)
    for idx in indexes:
        for call in iter_calls(idx.tree):
            if not _is_stack_call(call, stack_classes) or not _scoped_to_app(idx, call):
                continue
            problem = _missing_region(idx, call, stack_classes)
            if problem is None:
                continue
            label = idx.segment(call.args[1] if len(call.args) > 1 else call, 60)
            message = f"stack {call_name(call)}({label}) is created by the answer's app {problem}"
            key = f"{idx.src.path}:{call.lineno}"
            yield Hit(message, [ctx.source.at(idx.src, call, value=idx.segment(call, 100))], key=key)
            name_node = kwarg(call, "stack_name") or (call.args[1] if len(call.args) > 1 else None)
            name = name_node.value if isinstance(name_node, ast.Constant) else None
            yield from _synth_hit(ctx, name, message, key)
    for tsf in ts_files(ctx.source):
        for new in tsf.news():
            problem = _ts_missing_region(tsf, new)
            if problem is None:
                continue
            label = tsf.segment(new.args[1], 60) if len(new.args) > 1 else new.cls
            message = f"stack {new.cls}({label}) is created by the answer's app {problem}"
            key = f"{tsf.src.path}:{tsf.line(new.node)}"
            yield Hit(
                message,
                [ctx.source.at(tsf.src, tsf.line(new.node), value=tsf.segment(new.node, 100))],
                key=key,
            )
            id_node = tsf.props(new.arg(2)).get("stackName") or new.arg(1)
            stack = tsf.literal(id_node) if id_node is not None else None
            yield from _synth_hit(ctx, stack, message, key)


def _synth_hit(ctx: CheckContext, name: object, message: str, key: str) -> Iterator[Hit]:
    """The synth lens: the stack, when the answer's own entry synthesized it."""
    if ctx.synth.entry_kind == "answer" and isinstance(name, str) and name in ctx.synth.stacks:
        yield Hit(message, [Evidence(stack=name, value="synthesized with no region")], key=key, lens="synth")


def _ts_missing_region(tsf: TsFile, new: NewCall) -> str | None:
    """Why a stack a TypeScript/JavaScript app creates has no region, or None when it has one
    (or it is not a stack of the app, or we cannot tell)."""
    scope = tsf.constructed(new.args[0]) if new.args else None
    if scope is None or scope.cls != "App" or not _ts_is_stack(tsf, new):
        return None
    if len(new.args) < 3:
        return None if _ts_class_sets_env(tsf, new.cls) else "with no props, so it has no env and no region"
    props_node = tsf.resolve(new.args[2])
    if props_node.type != "object" or tsf.has_spread(props_node):
        return None  # props built elsewhere, or spread in: env may be in them
    props = tsf.props(props_node)
    if "env" not in props:
        return None if _ts_class_sets_env(tsf, new.cls) else "with no env, so it has no region"
    env = tsf.resolve(props["env"])
    if env.type != "object" or tsf.has_spread(env):
        return None
    fields = tsf.props(env)
    if "region" not in fields:
        return "with an env that gives no region"
    return "with region undefined" if tsf.resolve(fields["region"]).type in ("undefined", "null") else None


def _ts_is_stack(tsf: TsFile, new: NewCall) -> bool:
    if new.cls in _STACK_BASES:
        return True
    classes = tsf.classes()
    if new.cls in classes:
        return new.cls in tsf.stack_classes() and classes[new.cls].rsplit(".", 1)[-1] != "NestedStack"
    return new.cls.endswith("Stack") and new.cls != "NestedStack" and len(new.args) >= 2


def _ts_class_sets_env(tsf: TsFile, cls: str) -> bool:
    """The stack class, when this file declares it, passes an env to `super(...)` itself."""
    return any(
        len(call.args) >= 3 and tsf.enclosing_class(call.node) == cls and "env" in tsf.props(call.args[2])
        for call in tsf.calls("super")
    )


# =====================================================================================
# region-not-set
# =====================================================================================

_STACK_BASES = {"Stack", "Stage"}


def _stack_classes(indexes: list[SourceIndex]) -> dict[str, ast.ClassDef]:
    """The answer's Stack (and Stage) subclasses, through its own class hierarchy."""
    return subclasses((c for idx in indexes for c in idx.classes), _STACK_BASES, frozenset({"NestedStack"}))


def _is_stack_call(call: ast.Call, stack_classes: dict[str, ast.ClassDef]) -> bool:
    name = call_name(call)
    if name in stack_classes or name in _STACK_BASES:
        return True
    # A stack class the answer imports but does not show (the scaffold's TapStack, say)
    return name.endswith("Stack") and name != "NestedStack" and name[:1].isupper() and len(call.args) >= 2


def _scoped_to_app(idx: SourceIndex, call: ast.Call) -> bool:
    scope = call.args[0] if call.args else kwarg(call, "scope")
    if scope is None:
        return False
    value = idx.resolve(scope)
    return isinstance(value, ast.Call) and call_name(value) == "App"


def _missing_region(idx: SourceIndex, call: ast.Call, stack_classes: dict[str, ast.ClassDef]) -> str | None:
    """Why the stack has no region, or None when it has one (or we cannot tell)."""
    if any(kw.arg is None for kw in call.keywords):
        return None  # **kwargs may carry env
    env = kwarg(call, "env")
    if env is None:
        cls = stack_classes.get(call_name(call))
        if cls is not None and _class_sets_env(cls):
            return None
        if any(_mentions_env(idx, arg) for arg in [*call.args[2:], *(kw.value for kw in call.keywords)]):
            return None  # env inside a props object
        return "with no env, so it has no region"
    return _env_without_region(idx, env)


def _env_without_region(idx: SourceIndex, env: ast.expr) -> str | None:
    value = idx.resolve(env)
    if isinstance(value, ast.Constant) and value.value is None:
        return "with env=None, so it has no region"
    if isinstance(value, ast.Call) and call_name(value) == "Environment":
        if any(kw.arg is None for kw in value.keywords) or len(value.args) >= 2:
            return None
        region = kwarg(value, "region")
        if region is None:
            return "with an env that gives no region"
        return "with region=None" if _is_none(idx, region) else None
    if isinstance(value, ast.Dict):
        keys = {
            k.value: v for k, v in zip(value.keys, value.values, strict=False) if isinstance(k, ast.Constant)
        }
        if any(k is None for k in value.keys):
            return None
        if "region" not in keys:
            return "with an env dict that gives no region"
        return "with region None" if _is_none(idx, keys["region"]) else None
    return None


def _is_none(idx: SourceIndex, node: ast.expr) -> bool:
    value = idx.resolve(node)
    return isinstance(value, ast.Constant) and value.value is None


def _class_sets_env(cls: ast.ClassDef) -> bool:
    """The stack class passes an env to ``super().__init__`` itself."""
    for call in iter_calls(cls, "__init__"):
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Call):
            if call_name(call.func.value) == "super" and kwarg(call, "env") is not None:
                return True
    return False


def _mentions_env(idx: SourceIndex, node: ast.expr) -> bool:
    value = idx.resolve(node)
    for sub in walk(value):
        if isinstance(sub, ast.keyword) and sub.arg in ("env", "region"):
            return True
        if (
            isinstance(sub, ast.Constant)
            and sub.value in ("env", "region")
            and isinstance(idx.parent(sub), ast.Dict)
        ):
            return True
    return False
