"""lambda-reserved-concurrency: functions that reserve more concurrency than the account may have to give."""

from __future__ import annotations

from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import describe, names_list
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import CheckOptions, check

# An account's default Lambda concurrency quota, and what AWS keeps unreserved at that quota.
_DEFAULT_QUOTA = 1000
_UNRESERVED_FLOOR = 100


class LambdaReservedConcurrencyOptions(CheckOptions):
    min_total: int = 100
    """Report a stack whose functions reserve at least this many executions in all: that needs
    spare concurrency an account with a lowered quota (new accounts) does not have."""


@check("lambda-reserved-concurrency", lenses=("template",), options=LambdaReservedConcurrencyOptions)
def lambda_reserved_concurrency(ctx: CheckContext) -> Iterator[Hit]:
    """Functions that reserve more concurrency than the account may have to give.

    What it finds: the Lambda functions of a stack whose literal ``ReservedConcurrentExecutions``
    add up to 100 or more (the rubric option ``min_total``). One finding per stack lists them.

    Why it matters: Lambda refuses a reservation that leaves the account less unreserved
    concurrency than its minimum ("Specified ReservedConcurrentExecutions for function decreases
    account's UnreservedConcurrentExecution below its minimum value"). At the default quota of
    1,000 executions the minimum is 100, so 900 can be reserved; new accounts often have a
    lowered quota (as low as 10, with a minimum of 10) and cannot reserve even a few. The template
    does not tell the account: a total above 900 fails unless the quota was raised (medium);
    a smaller total deploys at the default quota and fails on a lowered one (low).

    Bad example:

        ProcessorFunction:
          Type: AWS::Lambda::Function
          Properties:
            ReservedConcurrentExecutions: 100

    Fix: leave ``ReservedConcurrentExecutions`` out unless the workload needs a hard cap or a
    guaranteed share, and then reserve the few executions it needs (or make it a parameter).
    """
    floor = ctx.options(LambdaReservedConcurrencyOptions).min_total
    by_stack: dict[str, list[tuple[Resource, int]]] = {}
    for res in ctx.template.resources("AWS::Lambda::Function"):
        reserved = _literal_int(res.properties.get("ReservedConcurrentExecutions"))
        if reserved:
            by_stack.setdefault(res.stack, []).append((res, reserved))
    most = _DEFAULT_QUOTA - _UNRESERVED_FLOOR
    for stack, reserving in by_stack.items():
        total = sum(n for _, n in reserving)
        if total < floor:
            continue
        listed = names_list(f"{describe(res)} {n}" for res, n in reserving)
        if total > most:
            outcome = (
                f"more than the {most} an account with the default quota of {_DEFAULT_QUOTA:,} can reserve"
                f" (AWS keeps {_UNRESERVED_FLOOR} unreserved), so the functions fail to create unless the"
                f" account's quota was raised to at least {total + _UNRESERVED_FLOOR:,}"
            )
        else:
            outcome = (
                f"this fits the default quota of {_DEFAULT_QUOTA:,} (up to {most} can be reserved), but an"
                " account with a lowered quota (new accounts can have 10) cannot give it, and the"
                " functions then fail to create: whether it deploys depends on the account"
            )
        yield Hit(
            f"functions reserve {total} concurrent executions in all ({listed}): {outcome}",
            [res.evidence(value=f"ReservedConcurrentExecutions: {n}") for res, n in reserving],
            key=f"{stack}:reserved-concurrency",
            lens="template",
            severity=None if total > most else "low",
        )


def _literal_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
