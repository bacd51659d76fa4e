"""managed-policy-unknown: an AWS managed-policy ARN that names no policy AWS has."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iacgrade.graders.analysis.cfn import as_list, sub_text
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.iam_statements import texts
from iacgrade.graders.analysis.managed_policies import aws_policy_part, managed_policies, same_name
from iacgrade.graders.analysis.model import describe
from iacgrade.graders.checks import check

# Where a resource lists the managed policies it attaches.
_ATTACHING = {
    "AWS::IAM::Role": "ManagedPolicyArns",
    "AWS::IAM::User": "ManagedPolicyArns",
    "AWS::IAM::Group": "ManagedPolicyArns",
}


@check("managed-policy-unknown", lenses=("template",))
def managed_policy_unknown(ctx: CheckContext) -> Iterator[Hit]:
    """An AWS managed-policy ARN that names no policy AWS has, or one that cannot be attached.

    What it finds: ``ManagedPolicyArns`` of roles, users and groups that point at
    ``arn:aws:iam::aws:policy/...`` (the partition written or ``${AWS::Partition}``) with a
    path and name that are not in the list of AWS managed policies iacgrade ships
    (``graders/analysis/data/aws_managed_policies.txt``): a policy at the wrong path
    (``AWSLambdaBasicExecutionRole`` lives under ``service-role/``), a service-linked role's
    policy (``aws-service-role/...``, which IAM refuses to attach to a role of yours) or a name
    AWS never had or has retired (``AWSConfigRole``). Customer-managed policies (an account id
    in the ARN) are not read.

    Why it matters: the role fails to create ("Policy arn:aws:iam::aws:policy/... does not exist
    or is not attachable"), and with it every resource that needs the role: the whole stack
    rolls back.

    Bad example:

        ManagedPolicyArns:
          - arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole

    Fix: use the policy's real ARN with its path
    (``arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole``,
    ``arn:aws:iam::aws:policy/service-role/AWS_ConfigRole``), or write the permissions inline.
    """
    known = managed_policies()
    for res in ctx.template.resources(*_ATTACHING):
        for value in as_list(res.properties.get(_ATTACHING[res.type])):
            arn = _arn_text(value)
            policy = aws_policy_part(arn) if arn else None
            if policy is None or "$" in policy:
                continue
            if policy in known and not policy.startswith(_SERVICE_LINKED):
                continue
            yield Hit(
                f"{describe(res)} ({res.type}) attaches {arn}: {_why(policy)}",
                [res.evidence(value=arn)],
                key=f"{res.stack}:{res.logical_id}:{policy}",
                lens="template",
            )


def _arn_text(value: Any) -> str | None:
    """The ARN as text: a literal, an Fn::Sub's string, or an Fn::Join with ${Ref} parts."""
    text = sub_text(value)
    if text is not None:
        return text
    return next(iter(texts(value)), None)


_SERVICE_LINKED = "aws-service-role/"


def _why(policy: str) -> str:
    elsewhere = same_name(policy)
    if policy.startswith(_SERVICE_LINKED) and policy in elsewhere:
        return "a service-linked role's policy, which IAM does not attach to a role of the answer's own"
    attachable = [p for p in elsewhere if not p.startswith(_SERVICE_LINKED)]
    if attachable:
        return f"no AWS managed policy has that path; it is arn:aws:iam::aws:policy/{attachable[0]}"
    if elsewhere:
        return f"there is only the service-linked role policy {elsewhere[0]}, which IAM does not attach to a role of the answer's own"
    return "AWS has no managed policy of that name (a made-up or retired policy)"
