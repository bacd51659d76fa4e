"""deprecated-api: a deprecated CDK API, as jsii warns about it at synth time."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.synth_failure import cdk_use
from iacgrade.graders.checks import check
from iacgrade.graders.models import Evidence


@check("deprecated-api", lenses=("source", "synth"), kinds=("cdk-python",))
def deprecated_api(ctx: CheckContext) -> Iterator[Hit]:
    """A deprecated CDK API, as jsii warns about it at synth time.

    What it finds: the deprecation warnings synth printed (`TableOptions#pointInTimeRecovery is
    deprecated`), and through the source lens the same uses read from the installed
    aws-cdk-lib's own deprecation marks: deprecated keywords (`point_in_time_recovery=`,
    `cidr=`, `log_retention=`, `container_insights=`), methods (`add_dependency` on L1
    resources, `HealthCheck.elb`), enum members (`SubnetType.PRIVATE_WITH_NAT`) and classes.
    One finding per deprecated API, with every line that uses it. Deprecated static properties
    that emit no warning (`Runtime.PYTHON_3_9`, engine versions) are not reported; nor are
    deprecated arguments of a call that fails anyway (reported as `invalid-api`).

    Why it matters: deprecated APIs are removed in the next major version and often have
    subtly different behaviour from their replacement; the warning is noise in every synth.

    Bad example:

        dynamodb.Table(self, "Table", partition_key=key, point_in_time_recovery=True)

    Fix: Use the replacement the warning names, e.g.
    `point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)`.
    """
    groups: dict[str, list[tuple[SourceFile, ast.AST, str, str]]] = {}
    for src in ctx.source.parsed():
        for dep in cdk_use(src.path, src.text).deprecations:
            groups.setdefault(dep.key, []).append((src, dep.node, dep.fqn, dep.code))
    warnings: dict[str, str] = {}
    for text in ctx.synth.deprecations:
        found = _WARNING.search(text)
        if found:
            module, cls, member = found.group(1).rstrip("."), found.group(2), found.group(3)
            key = _snake(member) if member else cls
            if member and key not in groups and cls in groups:
                key = cls  # S3Origin#bind warns because the answer built a (deprecated) S3Origin
            api_name = f"{module + '.' if module else ''}{cls}{'#' + member if member else ''}"
            if f"{cls}#{member}" in _CDK_OWN_WARNINGS and key not in groups:
                continue  # CDK warns about its own internal use, not the answer's
            warnings.setdefault(key, api_name)
    also = _fold_same_lines(groups)
    for key in sorted(set(groups) | set(warnings), key=lambda k: (k not in groups, k)):
        if key in groups and key not in also:
            continue  # folded into the finding of another name used on the same lines
        uses = groups.get(key, [])
        jsii = warnings.get(key)
        lines = ", ".join(f"{src.path}:{getattr(node, 'lineno', '?')}" for src, node, _, _ in uses)
        what = f"`{uses[0][2]}`" if uses else f"`{jsii}`"
        message = f"{what} is deprecated"
        if also.get(key):
            message += " (and, in the same code, " + ", ".join(f"`{name}`" for name in also[key]) + ")"
        if jsii and uses:
            message += f" (jsii warned: {jsii} is deprecated)"
        elif jsii:
            message += " (jsii warning at synth)"
        if lines:
            message += f"; used at {lines}"
        for src, node, _, code in uses:
            yield Hit(message, [ctx.source.at(src, node, value=code)], key=f"dep:{key}", lens="source")
        if jsii:
            evidence = [Evidence(value=f"{jsii} is deprecated")]
            if not uses:  # the source lens could not follow the call: point at lines that name it
                evidence += [
                    ctx.source.at(src, line, value=text) for src, line, text in _lines_naming(ctx, key)
                ]
            yield Hit(message, evidence, key=f"dep:{key}", lens="synth")


# ---- deprecated-api ------------------------------------------------------------------------------
_WARNING = re.compile(
    r"(?:aws-cdk-lib\.|constructs\.)?((?:[a-z_0-9]+\.)*)([A-Z]\w*)(?:#(\w+))?\s+is deprecated"
)


def _snake(name: str) -> str:
    if name.isupper() or "_" in name:
        return name  # enum members (PRIVATE_WITH_NAT) and already-snake names
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# jsii deprecation warnings CDK prints for its own internal calls whatever the answer wrote:
# StepScalingPolicy passes `cooldown` to StepScalingAction on every scale_on_metric().
_CDK_OWN_WARNINGS = frozenset({"StepScalingActionProps#cooldown"})


def _fold_same_lines(groups: dict[str, list[tuple[SourceFile, ast.AST, str, str]]]) -> dict[str, list[str]]:
    """One finding per deprecated use: a name all of whose uses sit on lines of another name's
    uses (`HealthCheck.elb(grace=...)` is a deprecated class, method and keyword at once) is folded
    into the name with the most uses. Returns kept key -> the other names folded into it."""
    lines = {
        k: {(src.path, getattr(node, "lineno", None)) for src, node, _, _ in uses}
        for k, uses in groups.items()
    }
    order = sorted(groups, key=lambda k: (-len(groups[k]), -len(groups[k][0][2]), k))
    kept: dict[str, list[str]] = {}
    owner: dict[tuple[str, int | None], str] = {}
    for key in order:
        owners = {owner.get(line) for line in lines[key]}
        target = owners.pop() if len(owners) == 1 else None  # every use on lines of one kept name
        if target is None:
            kept[key] = []
            for line in lines[key]:
                owner[line] = key
        else:
            name = groups[key][0][2]
            if name not in kept[target]:
                kept[target].append(name)
    return kept


def _lines_naming(ctx: CheckContext, name: str, limit: int = 5) -> list[tuple[SourceFile, int, str]]:
    """Answer lines that pass `name=`, call `.name(` or mention the member `Name.MEMBER`."""
    pattern = re.compile(rf"\b{re.escape(name)}\s*=(?!=)|\.{re.escape(name)}\s*\(|\.{re.escape(name)}\b")
    out: list[tuple[SourceFile, int, str]] = []
    for src in ctx.source.parsed():
        for n, text in enumerate(src.text.splitlines(), 1):
            if pattern.search(text) and not text.lstrip().startswith("#"):
                out.append((src, n, text.strip()[:80]))
                if len(out) >= limit:
                    return out
    return out
