"""synth-failed: the app does not synthesize: no template from the answer as written; the cause is classified."""

from __future__ import annotations

import re
from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.synth_failure import (
    attempt_failures,
    current_failure,
    failure_where,
    has_own_app,
    no_entry_reason,
    one_line,
    stack_classes_of,
)
from iacgrade.graders.checks import check
from iacgrade.graders.models import SYNTH_CAUSES


# ---- synth-failed --------------------------------------------------------------------------------
@check("synth-failed", lenses=("synth",))
def synth_failed(ctx: CheckContext) -> Iterator[Hit]:
    """The app does not synthesize: no template from the answer as written; the cause is classified.

    What it finds: a synth that failed or timed out, with the classified cause (syntax, wrong
    API use, validation, missing module, configuration, CDK v1 feature flag, missing asset,
    ...), the error and the answer's file:line it came from; an answer with no Python code at
    all; and a template that came only after the grader changed the answer's own setup (its
    cdk.json context, a stub for a missing asset, a generated driver for stacks the scaffold
    could not build): the answer as written still fails, and the message names the fallback.

    Why it matters: nothing in an answer that does not synthesize can be deployed; every other
    finding about it is about code that never ran.

    Bad example:

        // cdk.json of the answer
        {"context": {"@aws-cdk/core:enableStackNameDuplicates": "true"}}   // CDK v1 flag: v2 refuses it

    Fix: Fix the error synth reports so that `cdk synth` produces a template.
    """
    s = ctx.synth
    if s.cause == "no-code":
        yield Hit(
            f"{s.message or SYNTH_CAUSES['no-code']} (no code, or fragments only): there is nothing to build",
            [],
            key="synth",
            lens="synth",
        )
        return
    current = current_failure(ctx)
    if current is not None:
        cause = SYNTH_CAUSES.get(current.cause, current.cause)
        if re.search(r"\b\w+_alpha\b", current.message):
            cause = "an `_alpha` package the answer imports is not installed where it was synthesized"
        text = one_line(current.message, current.error_type)
        where = f" at {current.file}:{current.line}" if current.file else ""
        entry = (
            " through a generated driver"
            if s.entry_kind == "driver"
            else f" running {s.entry}"
            if s.entry
            else ""
        )
        message = f"synth failed{entry} ({cause}): {current.error_type}{where}: {text}"
        earlier = [f for f in attempt_failures(ctx) if f.message != current.message]
        if earlier:
            message += "; before that: " + "; ".join(
                f"{f.error_type}: {one_line(f.message, f.error_type)}" for f in earlier[:3]
            )
        if s.entry_kind == "driver" and not has_own_app(ctx):
            message += f"; and {no_entry_reason(ctx)}"
        evidence = [failure_where(ctx, current.file, current.line, f"{current.error_type}: {text}")]
        evidence += [
            failure_where(ctx, f.file, f.line, f"{f.error_type}: {one_line(f.message, f.error_type)}")
            for f in earlier
            if f.file
        ]
        yield Hit(message, evidence, key="synth", lens="synth")
        return
    if s.status != "ok":
        return  # skipped on purpose (--no-synth) or no entry: nothing to judge
    counted = [f for f in s.fallbacks if f.split(":", 1)[0] in _FAILING_FALLBACKS]
    failures = attempt_failures(ctx)
    first = failures[0] if failures else None
    if s.entry_kind == "driver" and first is None and not has_own_app(ctx):
        # the driver was chosen up front: the scaffold entry was seen not to fit the answer
        message = (
            f"the answer as written does not synthesize: {no_entry_reason(ctx)}; a template was "
            "produced only by a driver the grader generated"
        )
        evidence = [
            ctx.source.at(src, node, value=f"class {node.name}") for src, node in stack_classes_of(ctx)
        ]
        yield Hit(message, evidence[:3], key="synth", lens="synth")
        return
    if not counted or first is None:
        return
    text = one_line(first.message, first.error_type)
    where = f" at {first.file}:{first.line}" if first.file else ""
    cause = SYNTH_CAUSES.get(first.cause, first.cause)
    message = (
        f"synth of the answer as written fails ({cause}): {first.error_type}{where}: {text}; "
        f"a template was produced only after the grader's fallback {', '.join(counted)}"
    )
    evidence = [
        failure_where(ctx, f.file, f.line, f"{f.error_type}: {one_line(f.message, f.error_type)}")
        for f in failures
    ]
    yield Hit(message, evidence, key="synth", lens="synth")


# Fallbacks that change the answer's own setup: a template after them is not the answer's.
_FAILING_FALLBACKS = ("scaffold-context", "drop-flag", "stub-asset", "driver")
