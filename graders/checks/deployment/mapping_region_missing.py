"""mapping-region-missing: Fn::FindInMap keyed by the region, on a mapping without the task's region."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iacgrade.graders.analysis.cfn import intrinsic_calls
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import describe
from iacgrade.graders.checks import check
from iacgrade.graders.kinds.cloudformation import task_region

_REGION = {"Ref": "AWS::Region"}


@check("mapping-region-missing", lenses=("template",))
def mapping_region_missing(ctx: CheckContext) -> Iterator[Hit]:
    """``Fn::FindInMap`` keyed by ``AWS::Region`` on a mapping that has no entry for the task's region.

    What it finds: ``!FindInMap [Map, !Ref AWS::Region, Key]`` in a resource or an output where
    ``Map`` has no ``<region>`` key, and ``!FindInMap [Map, literal, !Ref AWS::Region]`` where
    that entry has no key for the region. The region is the task's (``lib/AWS_REGION`` beside
    the answer), else us-east-1. A lookup with a ``DefaultValue`` (language extensions) is not
    reported, nor CDK's own region tables.

    Why it matters: the lookup fails when the stack is created in that region ("Template error:
    Unable to get mapping for Map::us-east-1::Key"), before any resource is made.

    Bad example:

        Mappings:
          RegionMap:
            us-west-2: {AMI: ami-0abc...}
        ...
            ImageId: !FindInMap [RegionMap, !Ref 'AWS::Region', AMI]     # deployed in us-east-1

    Fix: add the region to the mapping, or drop the mapping for something that works in every
    region (an SSM parameter for AMIs, ``!GetAZs`` for zones).
    """
    region = task_region(ctx.sample)
    for res in ctx.template.resources():
        for name, where in _missing(ctx, res.stack, res.raw, region):
            message = f"{describe(res)} ({res.type}) looks up mapping {name} {where}, which has no entry for {region}"
            yield Hit(
                message,
                [res.evidence(value=f"FindInMap {name} {region}")],
                key=f"{res.stack}:{name}",
                lens="template",
            )
    for stack, out_id, entry in ctx.template.entries("Outputs"):
        for name, where in _missing(ctx, stack, entry, region):
            message = f"output {out_id} looks up mapping {name} {where}, which has no entry for {region}"
            yield Hit(
                message,
                [ctx.template.entry_evidence(stack, "Outputs", out_id, f"FindInMap {name} {region}")],
                key=f"{stack}:{name}",
                lens="template",
            )


def _missing(ctx: CheckContext, stack: str, value: Any, region: str) -> Iterator[tuple[str, str]]:
    """(mapping name, which key) for each region lookup inside ``value`` that finds nothing."""
    mappings = ctx.template.templates.get(stack, {}).get("Mappings")
    if not isinstance(mappings, dict):
        return
    for args in intrinsic_calls(value, "Fn::FindInMap"):
        if not isinstance(args, list) or len(args) != 3 or not isinstance(args[0], str):
            continue
        table = mappings.get(args[0])
        if not isinstance(table, dict):
            continue  # no such mapping: cfn-lint's E1011
        if args[1] == _REGION and region not in table:
            yield args[0], "by the region"
        elif isinstance(args[1], str) and args[2] == _REGION:
            entry = table.get(args[1])
            if isinstance(entry, dict) and region not in entry:
                yield args[0], f"under {args[1]} by the region"
