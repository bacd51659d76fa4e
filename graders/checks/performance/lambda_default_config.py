"""lambda-default-config: lambda functions left at the default 128 MB memory and 3 second timeout."""

from __future__ import annotations

from collections.abc import Iterable

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.functions import (
    DEFAULT_CONFIG,
    function_instances,
    source_config,
    source_item,
    template_config,
    workload_functions,
)
from iacgrade.graders.analysis.model import Item, names_list, one_finding, resource_label, template_key
from iacgrade.graders.checks import check


@check("lambda-default-config", lenses=("source", "template"), kinds=("cdk-python",))
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
        source_item(ctx, i, DEFAULT_CONFIG)
        for i in function_instances(ctx)
        if not i.opaque and source_config(i) == DEFAULT_CONFIG
    ]
    source_items = list({(i.key, i.evidence.file, i.evidence.line): i for i in source_items}.values())

    def message(items: list[Item]) -> str:
        names = names_list(i.text for i in items)
        if len(items) == 1:
            return f"Function {names} sets neither memory size nor timeout: it runs with the 128 MB / 3 s defaults"
        return f"{len(items)} functions set neither memory size nor timeout and run with the 128 MB / 3 s defaults: {names}"

    return one_finding(ctx, "lambda-default-config", template_items, source_items, message)
