"""redundant-depends-on: a DependsOn on a resource the resource already references."""

from __future__ import annotations

from collections.abc import Iterator

from iacgrade.graders.analysis.cfn import as_list, refs_within
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import describe
from iacgrade.graders.checks import check


@check("redundant-depends-on", lenses=("template",))
def redundant_depends_on(ctx: CheckContext) -> Iterator[Hit]:
    """A ``DependsOn`` that names a resource the resource's properties already reference.

    What it finds: in a template the answer writes itself (CloudFormation YAML or JSON), a
    resource whose ``DependsOn`` lists a resource that its ``Properties`` reach through ``Ref``,
    ``Fn::GetAtt`` or ``${Name}`` in an ``Fn::Sub`` outside any ``Fn::If`` (a reference in one
    branch of a condition does not always hold). cfn-lint warns about the same (W3005). A
    synthesized CDK template is not read: CDK writes such a ``DependsOn`` itself (a function on
    its role), so it says nothing about the answer.

    Why it matters: CloudFormation already orders a resource after everything it references. The
    extra ``DependsOn`` changes nothing at deploy time, but it is one more list to keep in step
    with the properties, and readers take it for an ordering the references do not give.
    Reviewers of these tasks ask for it to be removed.

    Bad example:

        HandlerFunction:
          Type: AWS::Lambda::Function
          DependsOn: HandlerRole                 # already ordered by the GetAtt below
          Properties:
            Role: !GetAtt HandlerRole.Arn

    Fix: drop the name from ``DependsOn`` (and the attribute, when nothing is left); keep
    ``DependsOn`` for orderings no reference gives, such as a route on its gateway attachment.
    """
    for res in ctx.template.resources():
        if res.file is None:  # not written by the answer: a synthesized template
            continue
        named = [d for d in as_list(res.raw.get("DependsOn")) if isinstance(d, str)]
        if not named:
            continue
        referenced = refs_within(res.properties, conditional=False)
        redundant = [d for d in dict.fromkeys(named) if d in referenced]
        if not redundant:
            continue
        names = ", ".join(redundant)
        message = (
            f"{describe(res)} ({res.type}) depends on {names} through DependsOn, which its properties "
            "already reference (CloudFormation orders a resource after what it references)"
        )
        yield Hit.on_resource(message, res, f"DependsOn: {names}")
