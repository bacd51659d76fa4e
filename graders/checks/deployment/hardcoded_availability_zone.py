"""hardcoded-availability-zone: availability zones written as literals instead of !GetAZs."""

from __future__ import annotations

import re
from collections.abc import Iterator

from iacgrade.graders.analysis.cfn import literal_choices, sub_text, values_at_key
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import describe
from iacgrade.graders.checks import check


@check("hardcoded-availability-zone", lenses=("template",))
def hardcoded_availability_zone(ctx: CheckContext) -> Iterator[Hit]:
    """Availability zones written as literals instead of being chosen from the region's zones.

    What it finds: ``AvailabilityZone`` / ``AvailabilityZones`` properties (subnets, instances,
    volumes, databases, Auto Scaling groups) and parameter defaults that are a literal zone name
    such as ``us-east-1a``, written by the answer itself, or a zone letter appended to the
    region (``!Sub '${AWS::Region}a'``: the letters open to an account differ by region and
    account). Zones a CDK VPC got from a context
    lookup are not reported (the answer never wrote them); nor are ``!Select [0, !GetAZs '']``
    or a parameter the deployer fills in. One finding per resource, naming every zone it lists.

    Why it matters: zone names belong to one region (and map to different physical zones in
    each account), so the template fails to deploy in any other region, and a zone that is not
    open to the account fails it even there ("The specified availability zone is not available").

    Bad example:

        PublicSubnet1:
          Type: AWS::EC2::Subnet
          Properties:
            AvailabilityZone: us-east-1a

    Fix: ``AvailabilityZone: !Select [0, !GetAZs '']`` (and ``[1, ...]`` for the second subnet),
    or a parameter of type ``AWS::EC2::AvailabilityZone::Name`` with no region-bound default.
    """
    for res in ctx.template.resources():
        zones = [
            zone
            for key in ("AvailabilityZone", "AvailabilityZones")
            for value in values_at_key(res.properties, key)
            for zone in [*literal_choices(value), *_region_letter(value)]
            if _ZONE.match(zone) and ctx.wrote(zone) or _REGION_LETTER.match(zone)
        ]
        if zones:
            shown = ", ".join(dict.fromkeys(zones))
            what = (
                "a zone letter on the region" if shown.startswith("${") else "the literal availability zone"
            )
            message = f"{describe(res)} ({res.type}) is pinned to {what} {shown}"
            yield Hit.on_resource(message, res, shown)
    for stack, name, entry in ctx.template.entries("Parameters"):
        zones = [
            z
            for z in literal_choices(_default_items(entry.get("Default")))
            if _ZONE.match(z) and ctx.wrote(z)
        ]
        if zones:
            shown = ", ".join(zones)
            message = f"parameter {name} defaults to the availability zone {shown}: a deploy in another region fails"
            yield Hit(
                message,
                [ctx.template.entry_evidence(stack, "Parameters", name, f"Default: {shown}")],
                key=f"{stack}:{name}",
                lens="template",
            )


# A zone name: region + letter (us-east-1a, us-gov-west-1b, ap-southeast-2c).
_ZONE = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d[a-z]$")


# ``!Sub '${AWS::Region}a'``: a zone letter guessed onto whatever region the stack is in.
_REGION_LETTER = re.compile(r"^\$\{AWS::Region\}[a-z]$")


def _region_letter(value: object) -> list[str]:
    text = sub_text(value)
    return [text] if text is not None and _REGION_LETTER.match(text) else []


def _default_items(default: object) -> list[str]:
    """A parameter default as its items (a CommaDelimitedList default is one string)."""
    if isinstance(default, str):
        return [part.strip() for part in default.split(",")]
    return [d for d in default if isinstance(d, str)] if isinstance(default, list) else []
