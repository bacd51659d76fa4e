"""hardcoded-ami-id: an AMI id written into the template instead of looked up at deploy time."""

from __future__ import annotations

import re
from collections.abc import Iterator

from iacgrade.graders.analysis.cfn import literal_choices, values_at_key
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import describe
from iacgrade.graders.checks import check


@check("hardcoded-ami-id", lenses=("template",))
def hardcoded_ami_id(ctx: CheckContext) -> Iterator[Hit]:
    """An AMI id written into the template instead of looked up at deploy time.

    What it finds: an ``ImageId`` (of an instance, a launch template, a launch configuration,
    anywhere in a resource's properties, either branch of an ``Fn::If``) or a parameter's
    ``Default`` that is a literal ``ami-...`` id the answer itself wrote. Real AMI ids in a
    ``Mappings`` table keyed by region are not reported (the table says which region each is
    for; ``mapping-region-missing`` reports a region it lacks), but a placeholder id there
    (``ami-0abcdef1234567890``) is: no region has that image. Ids a CDK context lookup put into
    the template are not the answer's.

    Why it matters: an AMI id exists in one region only and is deprecated as images are
    patched, so the stack fails to deploy in any other region (or once the image is gone) and
    launches an unpatched image meanwhile (reported at medium). Ids like
    ``ami-0abcdef1234567890`` are placeholders that exist nowhere: the stack cannot deploy at
    all (reported at the rubric's severity, high, like the other deploy blockers).

    Bad example:

        WebServer:
          Type: AWS::EC2::Instance
          Properties:
            ImageId: ami-0c55b159cbfafe1f0

    Fix: take the latest image from the public SSM parameter: a parameter of type
    ``AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>`` with default
    ``/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64``, or
    ``{{resolve:ssm:/aws/service/ami-amazon-linux-latest/...}}``.
    """
    for res in ctx.template.resources():
        for value in values_at_key(res.properties, "ImageId"):
            for ami in dict.fromkeys(a for a in literal_choices(value) if _AMI.match(a) and ctx.wrote(a)):
                message = f"{describe(res)} ({res.type}) launches the literal AMI id {ami}{_placeholder(ami)}"
                yield Hit.on_resource(message, res, f"ImageId: {ami}", severity=_severity(ami))
    for stack, name, entry in ctx.template.entries("Parameters"):
        default = entry.get("Default")
        if isinstance(default, str) and _AMI.match(default) and ctx.wrote(default):
            message = (
                f"parameter {name} defaults to the literal AMI id {default}{_placeholder(default)}:"
                " the stack deploys with it unless someone overrides it"
            )
            yield Hit(
                message,
                [ctx.template.entry_evidence(stack, "Parameters", name, f"Default: {default}")],
                key=f"{stack}:{name}",
                lens="template",
                severity=_severity(default),
            )
    for stack, name, entry in ctx.template.entries("Mappings"):
        for ami in dict.fromkeys(_strings(entry)):
            if _AMI.match(ami) and _PLACEHOLDER.match(ami) and ctx.wrote(ami):
                yield Hit(
                    f"mapping {name} holds the AMI id {ami}{_placeholder(ami)}: the instances that look it up"
                    " cannot launch",
                    [ctx.template.entry_evidence(stack, "Mappings", name, ami)],
                    key=f"{stack}:Mappings/{name}",
                    lens="template",
                )


def _strings(value: object, depth: int = 0) -> Iterator[str]:
    """The string values of a mapping (region -> key -> value, or deeper)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and depth < 4:
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, list) and depth < 4:
        for item in value:
            yield from _strings(item, depth + 1)


_AMI = re.compile(r"^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
# Ids made of a counting or alphabet run: what a model writes when it has no real id to give.
_PLACEHOLDER = re.compile(r"^ami-(?:0?(?:12345678|abcdef|fedcba|0{6,}|1{6,}|x+)|0abcdef1234567890)")


def _severity(ami: str) -> str | None:
    """The rubric's (high) for a placeholder, which no region has: the launch fails wherever the
    stack goes. A real id works in its own region until the image is retired: medium."""
    return None if _PLACEHOLDER.match(ami) else "medium"


def _placeholder(ami: str) -> str:
    if _PLACEHOLDER.match(ami):
        return " (a placeholder: no such image exists)"
    return " (it exists in one region only, and goes stale as the image is patched)"
