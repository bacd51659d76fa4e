"""type-error: the TypeScript compiler rejects the app, so the task's `ts-node` never runs it."""

from __future__ import annotations

from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.synth_failure import failure_where
from iacgrade.graders.checks import check
from iacgrade.graders.kinds.cdk_typescript import diagnostic_category
from iacgrade.graders.models import Diagnostic

_WHAT = {
    "invalid-api": "wrong use of the aws-cdk-lib API",
    "undefined-name": "names never declared or imported",
    "missing-module": "imports of modules that are not there",
    "syntax": "TypeScript that does not parse",
    "type": "other type errors",
}
_MAX_EVIDENCE = 8


@check("type-error", lenses=("synth",))
def type_error(ctx: CheckContext) -> Iterator[Hit]:
    """The TypeScript compiler rejects the app, so the task's `ts-node` never runs it.

    What it finds: the compiler's errors on the files the app's entry imports, checked against
    aws-cdk-lib's own type definitions with the options of a `cdk init` project (strict): an
    unknown property or member, a missing required prop, a wrong enum member, a value of the
    wrong type (invalid API), a name never declared (undefined name), an import of a module that
    is not there, and other type errors; one finding per kind of error, each error with its
    file:line. Implicit `any` and unused names are not reported. The template is still built
    from the code with the types stripped, so the other checks judge what it would deploy.

    Why it matters: the task's `cdk.json` runs `npx ts-node --prefer-ts-exts bin/tap.ts`, which
    type-checks first and stops at the first error: `cdk synth` and `cdk deploy` fail although
    the JavaScript would run.

    Bad example:

        new s3.Bucket(this, 'Logs', { versioning: true });          // no such prop: versioned
        new logs.LogGroup(this, 'L', { retention: logs.RetentionDays.THIRTY_DAYS });  // ONE_MONTH

    Fix: Use the props, members and types the installed aws-cdk-lib v2 declares, and declare or
    import every name.
    """
    groups: dict[str, list[Diagnostic]] = {}
    for diag in ctx.synth.diagnostics:
        category = diagnostic_category(diag.code) if diag.code is not None else "type"
        if category == "syntax" and ctx.synth.cause == "syntax":
            continue  # the file does not parse: parse-error (syntax) and synth-failed report it
        if category is not None:
            groups.setdefault(category, []).append(diag)
    for category, diags in groups.items():
        first = diags[0]
        more = f" (and {len(diags) - 1} more)" if len(diags) > 1 else ""
        where = f" at {first.file}:{first.line}" if first.file else ""
        yield Hit(
            f"{len(diags)} compiler error(s), {_WHAT[category]}: TS{first.code}{where}: "
            f"{_one_line(first.message)}{more}",
            [
                failure_where(ctx, d.file or None, d.line, f"TS{d.code}: {_one_line(d.message)}")
                for d in diags[:_MAX_EVIDENCE]
            ],
            key=f"type-error:{category}",
            lens="synth",
        )


def _one_line(message: object) -> str:
    text = str(message or "").strip().splitlines()
    return text[0][:300] if text else ""
