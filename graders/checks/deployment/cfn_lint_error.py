"""cfn-lint-error: cfn-lint errors in the synthesized template."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import names, template_key
from iacgrade.graders.analysis.pyast import construct_id, walk
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.template import Resource, is_cdk_helper
from iacgrade.graders.checks import CheckOptions, check
from iacgrade.graders.models import Evidence, LintMatch, typed_list


# ---- cfn-lint-error ------------------------------------------------------------------------------
class CfnLintErrorOptions(CheckOptions):
    ignore_rules: tuple[str, ...] = ()
    """cfn-lint rule ids never reported: errors cfn-lint raises on CDK output that CloudFormation
    accepts (E3691 on major-version aliases and E1001 on empty stacks are left out already)."""


@check("cfn-lint-error", lenses=("source", "template"), kinds=("cdk-python",), options=CfnLintErrorOptions)
def cfn_lint_error(ctx: CheckContext) -> Iterator[Hit]:
    """cfn-lint errors in the synthesized template.

    What it finds: cfn-lint's error-level matches (rule ids starting with E) on the answer's
    resources, one finding per rule and resource, with the rule id, cfn-lint's message and the
    construct's file:line. Warnings and informational matches, matches on CDK's own helper
    resources and rules that fire on CDK's boilerplate regardless of the answer (see the rubric
    option `ignore_rules`) are left out.

    Why it matters: CloudFormation rejects most of these at deploy time (invalid property
    values, conflicting properties, duplicate physical names) after synth reported success.

    Bad example:

        rds.DatabaseInstanceReadReplica(self, "Replica", storage_encrypted=True, ...)   # E3020

    Fix: Correct the properties cfn-lint rejects.
    """
    ignore = set(ctx.options(CfnLintErrorOptions).ignore_rules)
    for stack, matches in sorted(_lint_by_stack(ctx).items()):
        by_id = {r.logical_id: r for r in ctx.template.resources(include_helpers=True) if r.stack == stack}
        for (rule, text), located in sorted(_lint_groups(ctx, stack, matches, ignore).items()):
            targets = [
                _lint_target(ctx, by_id.get(lid), lid) for lid in dict.fromkeys(lid for lid, _ in located)
            ]
            message = f"cfn-lint {rule} on {', '.join(targets)}: {text}"
            key = f"lint:{stack}:{rule}:{text}"
            for lid, match in located:
                res = by_id.get(lid)
                value = f"{rule} {'/'.join(str(p) for p in match.path)}"
                evidence = (
                    res.evidence(value=value)
                    if res
                    else Evidence(stack=stack, resource=lid or None, value=value)
                )
                yield Hit(message, [evidence], key=key, lens="template")
                for src, call in _construct_calls(ctx, res) if res is not None else []:
                    yield Hit(
                        message, [ctx.source.at(src, call, value=construct_id(call))], key=key, lens="source"
                    )


def _lint_by_stack(ctx: CheckContext) -> dict[str, list[LintMatch]]:
    """The sandbox's lint results per template, and a lint of our own for any template it did not lint."""
    lint: dict[str, list[LintMatch]] = {}
    for key, matches in ctx.template.lint.items():
        lint.setdefault(_stack_of_lint(ctx, key, matches), []).extend(matches)
    for stack, template in ctx.template.templates.items():
        if stack not in lint:  # lint switched off in the sandbox, or an older worker
            lint[stack] = _lint(json.dumps(template, sort_keys=True))
    return lint


def _lint_groups(
    ctx: CheckContext, stack: str, matches: list[LintMatch], ignore: set[str]
) -> dict[tuple[str, str], list[tuple[str, LintMatch]]]:
    """Error matches on the answer's resources by (rule, message): E3019 names both resources of one
    conflict with the same text, and one mistake on several resources reads best as one finding."""
    template = ctx.template.templates.get(stack, {})
    resources = template.get("Resources") if isinstance(template, dict) else None
    resources = resources if isinstance(resources, dict) else {}
    grouped: dict[tuple[str, str], list[tuple[str, LintMatch]]] = {}
    for m in matches:
        rule, text = m.rule, m.message
        if not rule.startswith("E") or m.level != "error" or rule in ignore:
            continue
        logical = m.logical_id or ""
        raw = resources.get(logical) if logical else None
        if isinstance(raw, dict) and is_cdk_helper(logical, raw):
            continue
        if _lint_noise(rule, text, resources, raw if isinstance(raw, dict) else None):
            continue
        grouped.setdefault((rule, text), []).append((logical, m))
    return grouped


_QUOTED = re.compile(r"'([^']*)'")


def _lint_noise(
    rule: str, message: str, resources: dict[str, Any], resource: dict[str, Any] | None = None
) -> bool:
    """Errors cfn-lint reports on templates CloudFormation deploys fine.

    E3691 on a major-version engine alias (`'8.0' is not one of ['8.0.11', ...]`, what
    `MysqlEngineVersion.VER_8_0` writes): RDS accepts a major version and picks its default minor.
    E1001 "'Resources' is a required property" on a stack with no resources: the CDK CLI skips it.
    E3062 on an RDS instance of a non-Aurora engine whose allowed classes hold no general-purpose
    `db.m*` class: cfn-lint keys its instance classes by version number alone, so RDS PostgreSQL
    15.12 gets Aurora PostgreSQL 15.12's list (memory-optimized, db.t3/t4g medium and up,
    db.serverless). Every RDS engine version runs on db.m classes, so such a list is not the engine's.
    """
    if rule == "E3691":
        quoted = _QUOTED.findall(message)
        return bool(quoted) and any(v.startswith(quoted[0] + ".") for v in quoted[1:])
    if rule == "E1001" and "'Resources'" in message:
        return not resources
    if rule == "E3062":
        props = (resource or {}).get("Properties")
        engine = props.get("Engine") if isinstance(props, dict) else None
        return (
            isinstance(engine, str)
            and not engine.lower().startswith("aurora")
            and not any(c.startswith("db.m") for c in _QUOTED.findall(message)[1:])
        )
    return False


def _lint_target(ctx: CheckContext, res: Resource | None, logical: str) -> str:
    """How a report names a resource: its construct path below the stack, else the source id, else the logical id."""
    if res is None:
        return logical or "the template"
    if res.construct_ids:
        return "/".join(res.construct_ids)
    return _source_construct(ctx, res) or logical


@lru_cache(maxsize=32)
def _lint(template_json: str) -> list[LintMatch]:
    from iacgrade.graders.lint import lint_template

    return typed_list(LintMatch, lint_template(json.loads(template_json)))


def _source_construct(ctx: CheckContext, res: Resource) -> str | None:
    found = list(_construct_calls(ctx, res))
    return construct_id(found[0][1]) if found else None


def _stack_of_lint(ctx: CheckContext, key: str, matches: list[LintMatch]) -> str:
    """The template a lint result belongs to: by name, else the one template holding all its resources
    (lint may be keyed by the cloud-assembly artifact id where templates are keyed by stack name)."""
    if key in ctx.template.templates:
        return key
    ids = {m.logical_id for m in matches} - {None}
    owners = [
        stack
        for stack, template in ctx.template.templates.items()
        if ids and isinstance(template.get("Resources"), dict) and ids <= set(template["Resources"])
    ]
    return owners[0] if len(owners) == 1 else key


def _construct_calls(ctx: CheckContext, res: Resource) -> Iterator[tuple[SourceFile, ast.Call]]:
    """The one call that creates the resource's construct (none when several could)."""
    found = [
        (src, call)
        for src in ctx.source.parsed()
        for call in walk(src.tree)  # type: ignore[arg-type]
        if isinstance(call, ast.Call) and len(call.args) >= 2 and names(construct_id(call), template_key(res))
    ]
    if len(found) == 1:
        yield found[0]
