"""lambda-uniform-config: several Lambda functions all given the same memory size and timeout."""

from __future__ import annotations

from collections.abc import Iterable

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.functions import (
    DEFAULT_CONFIG,
    Config,
    function_instances,
    show,
    source_config,
    source_item,
    template_config,
    workload_functions,
)
from iacgrade.graders.analysis.model import Item, names_list, one_finding, resource_label, template_key
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import CheckOptions, check
from iacgrade.graders.prompt import asks_function_size


# ---- checks ------------------------------------------------------------------------------
class LambdaUniformConfigOptions(CheckOptions):
    prompt_waives: bool = True
    """When the task's prompt sets the functions' memory or timeout, report at severity info."""


@check(
    "lambda-uniform-config",
    lenses=("source", "template"),
    kinds=("cdk-python",),
    options=LambdaUniformConfigOptions,
)
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
    if ctx.template.present:
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
    if ctx.template.present or decides:
        if not ctx.template.present:
            shared = list(src_configs)
        source_items = [source_item(ctx, i, source_config(i)) for i in instances]

    def message(items: list[Item]) -> str:
        every = "Both functions" if len(items) == 2 else f"All {len(items)} functions"
        return (
            f"{every} ({names_list(i.text for i in items)}) use the same "
            f"{show(shared[0])}: nothing is sized for its own workload"
        )

    hits = one_finding(ctx, "lambda-uniform-config", template_items, source_items, message)
    waives = ctx.options(LambdaUniformConfigOptions).prompt_waives
    asked = asks_function_size(ctx.prompt) if waives else None
    if asked:
        for hit in hits:
            hit.as_note(f"; the task's prompt sets this size (“{asked}”), so not scored")
    return hits


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
