"""parameter-no-default: template parameters with no default, so the stack cannot deploy unattended."""

from __future__ import annotations

import re
from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.template import is_cdk_parameter
from iacgrade.graders.checks import check


@check("parameter-no-default", lenses=("template",))
def parameter_no_default(ctx: CheckContext) -> Iterator[Hit]:
    """Template parameters with no default: the stack cannot be deployed without someone's input.

    What it finds: parameters of a template with no ``Default``, one finding per template that
    names them all. CDK's own parameters (``BootstrapVersion``, asset and SSM-value parameters)
    are left out, and so are the parameters of a nested template whose parent passes them
    (``AWS::CloudFormation::Stack``): when the answer nests stacks, only the templates that
    nest others are read. When the task's prompt asks for an environment suffix in resource
    names (``environmentSuffix``), a ``...Suffix`` parameter without a default is what each
    deployment passes to keep its names apart, and is left out too.

    Why it matters: ``aws cloudformation deploy`` (and a pipeline that runs it) fails with
    "Parameters: [...] must have values" until every such parameter is given on the command
    line, so the template is not deployable as it stands. A required key pair or VPC id is also
    a resource that must exist in the account first.

    Bad example:

        Parameters:
          KeyName:
            Type: AWS::EC2::KeyPair::KeyName
          VpcId:
            Type: AWS::EC2::VPC::Id

    Fix: give every parameter a working default (``Environment: dev``), create what the stack
    needs instead of asking for it (a VPC, a Secrets Manager secret instead of a password
    parameter), or take values from SSM parameters that have a default path.
    """
    nesting = {stack for stack, t in ctx.template.templates.items() if _nests(t)}
    suffix_asked = bool(ctx.prompt) and bool(_SUFFIX_ASKED.search(ctx.prompt or ""))
    missing: dict[str, list[str]] = {}
    for stack, name, entry in ctx.template.entries("Parameters"):
        if nesting and stack not in nesting:
            continue
        if suffix_asked and name.lower().endswith("suffix"):
            continue  # the suffix each deployment passes, as the task asks (see the docstring)
        if "Default" not in entry and not is_cdk_parameter(name, entry):
            missing.setdefault(stack, []).append(name)
    for stack, names in missing.items():
        what = "parameter has" if len(names) == 1 else f"{len(names)} parameters have"
        where = f" in template {stack}" if len(ctx.template.templates) > 1 else ""
        message = (
            f"{what} no default{where}, so the stack cannot be deployed without input: {', '.join(names)}"
        )
        evidence = [ctx.template.entry_evidence(stack, "Parameters", n, "no Default") for n in names]
        yield Hit(message, evidence, key=stack, lens="template")


# A prompt that asks for an environment suffix in resource names: the deployment passes it.
_SUFFIX_ASKED = re.compile(r"environment.?suffix", re.IGNORECASE)


def _nests(template: dict[str, object]) -> bool:
    resources = template.get("Resources")
    return isinstance(resources, dict) and any(
        isinstance(r, dict) and r.get("Type") == "AWS::CloudFormation::Stack" for r in resources.values()
    )
