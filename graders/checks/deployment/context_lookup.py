"""context-lookup: context lookups (`from_lookup` and friends) that need an AWS account and a real AWS call at synth."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.pyast import call_name, dotted, source_segment, walk
from iacgrade.graders.analysis.synth_failure import imported_module, is_cdk_call
from iacgrade.graders.checks import check
from iacgrade.graders.models import Evidence


@check("context-lookup", lenses=("source", "synth"), kinds=("cdk-python",))
def context_lookup(ctx: CheckContext) -> Iterator[Hit]:
    """Context lookups (`from_lookup` and friends) that need an AWS account and a real AWS call at synth.

    What it finds: `ec2.Vpc.from_lookup`, `route53.HostedZone.from_lookup`,
    `ssm.StringParameter.value_from_lookup`, `ec2.MachineImage.lookup`, security-group,
    load-balancer and KMS-key lookups, and the lookups synth recorded as missing context. The
    availability-zones lookup any VPC in an account-bound stack makes is not counted.

    Why it matters: the stack cannot be synthesized offline or in CI without credentials and a
    committed cdk.context.json; the first synth silently bakes the looked-up values in, and a
    stack needs an explicit account/region to use them at all.

    Bad example:

        vpc = ec2.Vpc.from_lookup(self, "Vpc", vpc_id="vpc-0abc123")

    Fix: Pass concrete values (or create the resource), or document the account/region and commit
    cdk.context.json.
    """
    keys: list[tuple[str, str]] = []  # (call text, key)
    for src in ctx.source.parsed():
        for call in walk(src.tree):  # type: ignore[arg-type]
            if not isinstance(call, ast.Call):
                continue
            name = call_name(call)
            func = dotted(call.func)
            if not (name in _LOOKUP_CALLS or func.endswith("MachineImage.lookup")):
                continue
            if not is_cdk_call(call, src) or imported_module(func.split(".")[0], src) is None:
                continue
            code = " ".join((source_segment(src.text, call) or func).split())
            code = code if len(code) <= 100 else code[:99] + "…"
            key = f"lookup:{src.path}:{call.lineno}"
            keys.append((func, key))
            yield Hit(
                f"`{code}` is a context lookup: synth needs AWS credentials and an explicit account/region "
                "(or a committed cdk.context.json)",
                [ctx.source.at(src, call, value=code)],
                key=key,
                lens="source",
            )
    for entry in ctx.synth.lookups:
        provider = entry.split(":", 1)[0].strip()
        if provider in ("availability-zones", "endpoint-service-availability-zones"):
            continue
        wanted = _PROVIDERS.get(provider, "")
        match = next(
            (
                k
                for func, k in keys
                if wanted
                and func.endswith(wanted.split(".")[-1])
                and (("." not in wanted) or wanted.split(".")[0] in func)
            ),
            None,
        )
        key = match or f"lookup:{provider}"
        yield Hit(
            f"synth needed the context provider `{provider}` (a lookup against a real AWS account)",
            [Evidence(value=entry[:200])],
            key=key,
            lens="synth",
        )


# ---- context-lookup ------------------------------------------------------------------------------
_LOOKUP_CALLS = {
    "from_lookup",
    "from_lookup_by_name",
    "from_lookup_by_id",
    "from_lookup_by_filters",
    "value_from_lookup",
    "LookupMachineImage",
}


# context provider (manifest "missing" entries) -> calls that use it
_PROVIDERS = {
    "vpc-provider": "Vpc.from_lookup",
    "hosted-zone": "HostedZone.from_lookup",
    "ssm": "value_from_lookup",
    "ami": "MachineImage.lookup",
    "security-group": "SecurityGroup.from_lookup",
    "load-balancer": "from_lookup",
    "load-balancer-listener": "from_lookup",
    "key-provider": "Key.from_lookup",
    "cc-api-provider": "from_lookup",
}
