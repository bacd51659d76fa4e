"""no-entry-point: the answer has no app that instantiates its stacks, and the scaffold's entry cannot either."""

from __future__ import annotations

from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.synth_failure import (
    current_failure,
    has_own_app,
    no_entry_reason,
    one_line,
    stack_classes_of,
)
from iacgrade.graders.checks import check
from iacgrade.graders.models import Evidence


# ---- no-entry-point ------------------------------------------------------------------------------
@check("no-entry-point", lenses=("synth",))
def no_entry_point(ctx: CheckContext) -> Iterator[Hit]:
    """The answer has no app that instantiates its stacks, and the scaffold's entry cannot either.

    What it finds: answers without an `App()` + `app.synth()` of their own whose stacks the task's
    scaffold entry (tap.py) could not build (it imports names such as `TapStackProps` the
    answer does not define, or passes arguments its stack does not take), so the grader had to
    generate a driver to instantiate them.

    Why it matters: `cdk synth` runs the entry cdk.json names; with neither the answer's own app
    nor a working scaffold, nothing is deployed at all.

    Bad example:

        # lib/tap_stack.py defines TradingStack(Stack) - and no file creates App() or calls synth();
        # the scaffold's tap.py does `from lib.tap_stack import TapStack, TapStackProps`

    Fix: Ship an app file that builds `App()`, instantiates the stacks and calls `app.synth()`, or
    match the class and props names the scaffold imports.
    """
    s = ctx.synth
    if has_own_app(ctx):
        return
    if s.entry_kind == "driver":
        message = f"{no_entry_reason(ctx)}; the grader generated a driver to synthesize them"
    elif (
        s.entry_kind == "scaffold"
        and s.status == "failed"
        and s.file == s.entry
        and s.file
        and s.error_type in ("ImportError", "TypeError", "AttributeError")
    ):
        failure = current_failure(ctx)
        assert failure is not None
        message = (
            f"the answer has no App()/app.synth() of its own and the scaffold entry {s.entry} cannot "
            f"instantiate its stacks: {failure.error_type}: {one_line(failure.message, failure.error_type)}"
        )
    else:
        return
    evidence = [ctx.source.at(src, node, value=f"class {node.name}") for src, node in stack_classes_of(ctx)]
    yield Hit(
        message, evidence or [Evidence(file=s.entry, value="generated driver")], key="entry", lens="synth"
    )
