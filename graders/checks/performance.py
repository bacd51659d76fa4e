"""Performance checks: how the answer sizes its Lambda functions."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from typing import Any

from graders.checks import check
from graders.checks._ast import call_name
from graders.checks._copies import (
    Instance,
    Item,
    SourceIndex,
    items_hit,
    names_list,
    resource_label,
    template_key,
    text_of,
)
from graders.checks.context import CheckContext, Hit, Resource
from graders.prompt import asks_function_size

FUNCTION_CALLS = (
    "Function",
    "DockerImageFunction",
    "NodejsFunction",
    "PythonFunction",
    "GoFunction",
    "SingletonFunction",
    "CfnFunction",
)
DEFAULT_MEMORY = 128
DEFAULT_TIMEOUT = 3
_SECONDS = {"millis": 0.001, "seconds": 1, "minutes": 60, "hours": 3600}

Config = tuple[str, str]  # (memory, timeout) as display strings, also the comparison key


# ---- reading one function's configuration ---------------------------------------------------
def _template_value(value: Any, default: int) -> str:
    if value is None:
        return str(default)
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return str(int(value))
    return json.dumps(value, sort_keys=True)


def template_config(res: Resource) -> Config:
    """(memory MB, timeout s) of an AWS::Lambda::Function, CloudFormation's defaults filled in."""
    return (
        _template_value(res.properties.get("MemorySize"), DEFAULT_MEMORY),
        _template_value(res.properties.get("Timeout"), DEFAULT_TIMEOUT),
    )


def _duration_seconds(node: ast.expr) -> str | None:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return str(int(node.value))  # CfnFunction takes plain seconds
    if isinstance(node, ast.Call) and call_name(node) in _SECONDS and len(node.args) == 1:
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, (int, float)):
            secs = arg.value * _SECONDS[call_name(node)]
            return str(int(secs)) if float(secs).is_integer() else str(secs)
    return None


def source_config(inst: Instance) -> Config:
    """(memory, timeout) of a function call, defaults filled in, expressions kept as text."""
    memory = inst.kw("memory_size") if inst.kw_set("memory_size") else None
    timeout = inst.kw("timeout") if inst.kw_set("timeout") else None
    if memory is None:
        mem = str(DEFAULT_MEMORY)
    elif isinstance(memory, ast.Constant) and isinstance(memory.value, int):
        mem = str(memory.value)
    else:
        mem = text_of(memory)
    if timeout is None:
        out = str(DEFAULT_TIMEOUT)
    else:
        out = _duration_seconds(timeout) or text_of(timeout)
    return mem, out


def show(config: Config) -> str:
    """`256 MB / 30 s`, expressions shown as code."""
    mem, timeout = config
    mem_s = f"{mem} MB" if mem.isdigit() else f"memory_size={mem}"
    out_s = f"{timeout} s" if timeout.replace(".", "", 1).isdigit() else f"timeout={timeout}"
    return f"{mem_s} / {out_s}"


DEFAULT_CONFIG: Config = (str(DEFAULT_MEMORY), str(DEFAULT_TIMEOUT))


def workload_functions(ctx: CheckContext) -> list[Resource]:
    """The answer's Lambda functions (CDK's provider / log-retention functions left out)."""
    return list(ctx.resources("AWS::Lambda::Function"))


def _distinct_stacks(fns: list[Resource]) -> list[Resource]:
    """Functions of one stack per group of identical stacks (dev and prod copies of one class)."""
    shapes: dict[str, tuple[str, ...]] = {}
    for res in fns:
        if res.stack not in shapes:
            resources = res.template.get("Resources")
            types = (
                [r.get("Type", "") for r in resources.values() if isinstance(r, dict)]
                if isinstance(resources, dict)
                else []
            )
            shapes[res.stack] = tuple(sorted(types))
    kept: dict[tuple[str, ...], str] = {}
    for stack, shape in sorted(shapes.items()):
        kept.setdefault(shape, stack)
    keep = set(kept.values())
    return [r for r in fns if r.stack in keep]


def function_instances(ctx: CheckContext) -> list[Instance]:
    return list(SourceIndex(ctx).instances(*FUNCTION_CALLS))


def _source_item(ctx: CheckContext, inst: Instance, config: Config) -> Item:
    nodes = [n for n in (inst.kw("memory_size"), inst.kw("timeout")) if n is not None]
    # Point at the memory/timeout line when the call sets one (helpers: the call's own node).
    line_node = next(
        (kw.value for kw in inst.call.keywords if kw.arg in ("memory_size", "timeout")), inst.call
    )
    value = f"{inst.label}: {show(config)}" if nodes else f"{inst.label}: memory_size and timeout not set"
    return Item(inst.cid, inst.label, inst.evidence(ctx, value=value, node=line_node))


# ---- checks ------------------------------------------------------------------------------
@check("lambda-uniform-config", lenses=("source", "template"))
def lambda_uniform_config(ctx: CheckContext) -> Iterable[Hit]:
    """Several Lambda functions all given the same memory size and timeout.

    What it finds: two or more of the answer's own functions (CDK's provider and log-retention
    functions are ignored) that all share one memory/timeout pair other than the 128 MB / 3 s
    defaults (those are reported by lambda-default-config). Helper methods and loops that build
    several functions from one call count once per function they create.

    Why it matters: an ingest handler, a report generator and a notifier rarely need the same
    memory and time budget. One size for all over-pays for the light functions and starves or
    times out the heavy ones.

    Bad example:

        for name in ["ingest", "score", "notify"]:
            _lambda.Function(self, f"{name}Fn", memory_size=256,
                             timeout=Duration.seconds(30), ...)

    When the task's prompt itself gives the functions their memory or timeout ("All functions
    should have 512MB memory allocation and a 30-second timeout"), the finding is a note at
    severity info quoting the prompt (rubric option ``prompt_waives: false`` to score it).

    Fix: size each function for its own work (measure, or use AWS Lambda Power Tuning), for
    example 1024 MB / 60 s for the scorer and 128 MB / 10 s for the notifier.
    """
    fns = _distinct_stacks(workload_functions(ctx))
    instances = function_instances(ctx)
    template_items: list[Item] = []
    shared: list[Config] = []
    if ctx.has_template:
        configs = {template_config(r) for r in fns}
        if len(fns) >= 2 and len(configs) == 1 and DEFAULT_CONFIG not in configs:
            shared = list(configs)
            template_items = [
                Item(template_key(r), resource_label(r), r.evidence(value=show(template_config(r))))
                for r in fns
            ]
    source_items: list[Item] = []
    src_configs = {source_config(i) for i in instances}
    decides = (
        len(instances) >= 2
        and len(src_configs) == 1
        and DEFAULT_CONFIG not in src_configs
        and not any(i.opaque for i in instances)
    )
    if ctx.has_template or decides:
        if not ctx.has_template:
            shared = list(src_configs)
        source_items = [_source_item(ctx, i, source_config(i)) for i in instances]

    def message(items: list[Item]) -> str:
        every = "Both functions" if len(items) == 2 else f"All {len(items)} functions"
        return (
            f"{every} ({names_list(i.text for i in items)}) use the same "
            f"{show(shared[0])}: nothing is sized for its own workload"
        )

    hits = items_hit(ctx, "lambda-uniform-config", template_items, source_items, message)
    asked = (
        asks_function_size(ctx.prompt) if ctx.option("lambda-uniform-config", "prompt_waives", True) else None
    )
    if asked:
        for hit in hits:
            hit.as_note(f"; the task's prompt sets this size (“{asked}”), so not scored")
    return hits


@check("lambda-default-config", lenses=("source", "template"))
def lambda_default_config(ctx: CheckContext) -> Iterable[Hit]:
    """Lambda functions left at the default 128 MB memory and 3 second timeout.

    What it finds: the answer's own functions that set neither memory_size nor timeout (or set
    them to 128 MB / 3 s), so they run with Lambda's defaults. A function that sets either one
    has been sized on purpose and is not reported. One finding lists them all.

    Why it matters: 128 MB also means the smallest CPU share, and 3 s is shorter than a cold
    start plus one slow SDK call: such functions time out under real load or run slowly.

    Bad example:

        _lambda.Function(self, "ApiHandler", runtime=_lambda.Runtime.PYTHON_3_12,
                         handler="index.handler", code=_lambda.Code.from_asset("lambda"))

    Fix: set memory_size and timeout for what the function does, e.g.
    `memory_size=512, timeout=Duration.seconds(30)`.
    """
    template_items = [
        Item(
            template_key(r),
            resource_label(r),
            r.evidence(value="MemorySize and Timeout not set (128 MB / 3 s)"),
        )
        for r in workload_functions(ctx)
        if template_config(r) == DEFAULT_CONFIG
    ]
    source_items = [
        _source_item(ctx, i, DEFAULT_CONFIG)
        for i in function_instances(ctx)
        if not i.opaque and source_config(i) == DEFAULT_CONFIG
    ]
    source_items = list({(i.key, i.evidence.file, i.evidence.line): i for i in source_items}.values())

    def message(items: list[Item]) -> str:
        names = names_list(i.text for i in items)
        if len(items) == 1:
            return f"Function {names} sets neither memory_size nor timeout: it runs with the 128 MB / 3 s defaults"
        return f"{len(items)} functions set neither memory_size nor timeout and run with the 128 MB / 3 s defaults: {names}"

    return items_hit(ctx, "lambda-default-config", template_items, source_items, message)
