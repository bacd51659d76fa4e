"""Shared analysis from the former performance checks (to be folded into the model)."""

from __future__ import annotations

import ast
import json
from typing import Any

from iacgrade.graders.analysis.context import CheckContext
from iacgrade.graders.analysis.model import AnswerModel, Instance, Item, text_of
from iacgrade.graders.analysis.pyast import call_name
from iacgrade.graders.analysis.template import Resource

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


SECONDS = {"millis": 0.001, "seconds": 1, "minutes": 60, "hours": 3600}


Config = tuple[str, str]  # (memory, timeout) as display strings, also the comparison key


# ---- reading one function's configuration ---------------------------------------------------
def template_value(value: Any, default: int) -> str:
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
        template_value(res.properties.get("MemorySize"), DEFAULT_MEMORY),
        template_value(res.properties.get("Timeout"), DEFAULT_TIMEOUT),
    )


def duration_seconds(node: ast.expr) -> str | None:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return str(int(node.value))  # CfnFunction takes plain seconds
    if isinstance(node, ast.Call) and call_name(node) in SECONDS and len(node.args) == 1:
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, (int, float)):
            secs = arg.value * SECONDS[call_name(node)]
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
        out = duration_seconds(timeout) or text_of(timeout)
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
    return list(ctx.template.resources("AWS::Lambda::Function"))


def function_instances(ctx: CheckContext) -> list[Instance]:
    return list(AnswerModel.of(ctx).instances(*FUNCTION_CALLS))


def source_item(ctx: CheckContext, inst: Instance, config: Config) -> Item:
    nodes = [n for n in (inst.kw("memory_size"), inst.kw("timeout")) if n is not None]
    # Point at the memory/timeout line when the call sets one (helpers: the call's own node).
    line_node = next(
        (kw.value for kw in inst.call.keywords if kw.arg in ("memory_size", "timeout")), inst.call
    )
    value = f"{inst.label}: {show(config)}" if nodes else f"{inst.label}: memory_size and timeout not set"
    return Item(inst.cid, inst.label, inst.evidence(ctx, value=value, node=line_node))
