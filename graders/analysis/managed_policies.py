"""AWS managed policies: which exist, and where (their path), from the list in data/."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

# The policy part of a managed-policy ARN: "arn:aws:iam::aws:policy/service-role/X" -> "service-role/X";
# the partition may be written ${AWS::Partition} (Fn::Sub) or joined in as ${Ref} text.
_AWS_POLICY = re.compile(r"^arn:(?:\$\{[^}]*\}|[^:$]*):iam::aws:policy/(.+)$")


@lru_cache(maxsize=1)
def managed_policies() -> frozenset[str]:
    """Every AWS managed policy as ``path/name`` (``service-role/AWSLambdaBasicExecutionRole``)."""
    text = (
        resources.files("iacgrade.graders.analysis")
        .joinpath("data/aws_managed_policies.txt")
        .read_text("utf-8")
    )
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=1)
def _by_name() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for full in sorted(managed_policies()):
        out.setdefault(full.rsplit("/", 1)[-1].lower(), []).append(full)
    return out


def aws_policy_part(arn: str) -> str | None:
    """``service-role/X`` for an AWS managed-policy ARN, None for any other ARN (a customer's policy)."""
    found = _AWS_POLICY.match(arn.strip())
    return found.group(1) if found else None


def same_name(policy: str) -> list[str]:
    """The managed policies with ``policy``'s name under any path (case-insensitive)."""
    return _by_name().get(policy.rsplit("/", 1)[-1].lower(), [])
