"""lambda-reserved-concurrency: functions that reserve more concurrency than a new account can give."""

from __future__ import annotations

from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit, Resource
from iacgrade.graders.analysis.model import describe, names_list
from iacgrade.graders.checks import CheckOptions, check

# AWS keeps this many executions of the account's concurrency unreserved.
_UNRESERVED_FLOOR = 100


class LambdaReservedConcurrencyOptions(CheckOptions):
    min_total: int = 100
    """Report a stack whose functions reserve at least this many executions in all: the account
    then needs a concurrency quota of this plus 100, more than a new account is given."""


@check("lambda-reserved-concurrency", lenses=("template",), options=LambdaReservedConcurrencyOptions)
def lambda_reserved_concurrency(ctx: CheckContext) -> Iterator[Hit]:
    """Functions that reserve more concurrency than a new account can give.

    What it finds: the Lambda functions of a stack whose literal ``ReservedConcurrentExecutions``
    add up to 100 or more (the rubric option ``min_total``). One finding per stack lists them.

    Why it matters: AWS keeps 100 executions of the account's concurrency quota unreserved, so
    reserving N needs a quota of at least N + 100. New accounts start with a quota far below the
    1,000 of the documentation, and creating the function then fails ("Specified
    ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution
    below its minimum value"): the stack does not deploy where it is first tried.

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
    for res in ctx.resources("AWS::Lambda::Function"):
        reserved = _literal_int(res.properties.get("ReservedConcurrentExecutions"))
        if reserved:
            by_stack.setdefault(res.stack, []).append((res, reserved))
    for stack, reserving in by_stack.items():
        total = sum(n for _, n in reserving)
        if total < floor:
            continue
        listed = names_list(f"{describe(res)} {n}" for res, n in reserving)
        yield Hit(
            f"functions reserve {total} concurrent executions in all ({listed}): the account needs a"
            f" concurrency quota of at least {total + _UNRESERVED_FLOOR} (AWS keeps {_UNRESERVED_FLOOR}"
            " unreserved), more than new accounts are given, or the functions fail to create",
            [res.evidence(value=f"ReservedConcurrentExecutions: {n}") for res, n in reserving],
            key=f"{stack}:reserved-concurrency",
            lens="template",
        )


def _literal_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
