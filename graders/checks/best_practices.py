"""Best-practice checks: tags, log retention, tracing, backups, alarms and dead-letter queues."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.checks import check
from graders.checks._ast import call_name, dotted, kwarg, literal, str_literal, walk
from graders.checks._copies import (
    Instance,
    Item,
    SourceIndex,
    items_hit,
    key_matches,
    names_list,
    ref_name,
    ref_target,
    refs_in,
    refs_within,
    resource_label,
    string_pattern,
    substitute,
    template_key,
    text_of,
)
from graders.checks.context import CheckContext, Hit, Resource, SourceFile
from graders.checks.performance import FUNCTION_CALLS, workload_functions
from graders.models import Evidence
from graders.prompt import tag_keys

# ==== tags-missing ===========================================================================
DEFAULT_TAGS = ["Environment", "Owner", "Project"]


@functools.lru_cache(maxsize=512)
def _taggable(rtype: str) -> bool:
    """True when CloudFormation lets the resource type carry tags (cfn-lint's schema says)."""
    if rtype.startswith("Custom::") or rtype in _CDK_UNTAGGED:
        return False
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", rtype).schema
    except Exception:  # unknown type or schema trouble: do not judge it
        return False
    tagging = schema.get("tagging") or {}
    return bool(tagging.get("taggable", True)) and "Tags" in (schema.get("properties") or {})


# Types whose schema has Tags but that CDK's Tags.of() never reaches (no tag manager in the L1).
_CDK_UNTAGGED = frozenset(
    {
        "AWS::CDK::Metadata",
        "AWS::CloudFormation::Stack",
        "AWS::ApiGateway::Deployment",
    }
)


def _template_tag_keys(props: dict[str, Any]) -> set[str]:
    tags = props.get("Tags")
    if isinstance(tags, dict):  # map-style tags (SSM parameters, Glue, ...)
        return {k for k in tags if isinstance(k, str)}
    keys: set[str] = set()
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict):
                key = tag.get("Key", tag.get("TagKey"))
                if isinstance(key, str):
                    keys.add(key)
    return keys


@dataclass
class _TagUse:
    key: str | None  # None: a key the source lens cannot read
    wide: bool  # applied to an app or stack, not one construct
    src: SourceFile
    node: ast.AST
    text: str
    stack_tags: bool = False  # a Stack's tags= prop: CloudFormation tags the resources at deploy time


def _tag_uses(ctx: CheckContext, index: SourceIndex) -> list[_TagUse]:
    """Every tag the answer's code (and the scaffold entry it relies on) applies."""
    stacks = index.stack_classes()
    uses: list[_TagUse] = []
    for src in index.sources:
        app_names = _app_names(src)
        stack_vars = _stack_vars(src, stacks)
        for call in (n for n in walk(src.tree) if isinstance(n, ast.Call)) if src.tree else ():
            uses.extend(_tag_uses_of_call(index, src, call, stacks, app_names | stack_vars))
    uses.extend(_scaffold_tag_uses(ctx))
    return uses


def _tag_uses_of_call(
    index: SourceIndex, src: SourceFile, call: ast.Call, stacks: set[str], wide_names: set[str]
) -> Iterator[_TagUse]:
    func = call.func
    # Tags.of(scope).add("Key", value) and Aspects.of(scope).add(Tag("Key", value))
    if isinstance(func, ast.Attribute) and func.attr == "add" and isinstance(func.value, ast.Call):
        of = func.value
        of_name = dotted(of.func)
        if of_name.endswith("Tags.of") and of.args and call.args:
            wide = _is_wide_scope(index, src, of.args[0], stacks, wide_names)
            for key in _keys_of(index, src, call, call.args[0]):
                yield _TagUse(key, wide, src, call, text_of(call, 100))
            return
        if of_name.endswith("Aspects.of") and of.args and call.args and isinstance(call.args[0], ast.Call):
            tag = call.args[0]
            if call_name(tag) == "Tag" and tag.args:
                wide = _is_wide_scope(index, src, of.args[0], stacks, wide_names)
                for key in _keys_of(index, src, tag, tag.args[0]):
                    yield _TagUse(key, wide, src, call, text_of(call, 100))
            return
    tags = kwarg(call, "tags")
    if tags is None:
        return
    is_stack = (
        call_name(call) in stacks
        or call_name(call).endswith("Stack")
        or _is_super_init(index, src, call, stacks)
    )
    keys = _dict_or_list_keys(index, src, call, tags)
    shown = f"tags={text_of(tags, 60)}: keys {', '.join(k or '?' for k in keys)}"
    for key in keys:
        yield _TagUse(key, is_stack, src, call, shown, stack_tags=is_stack)


def _is_super_init(index: SourceIndex, src: SourceFile, call: ast.Call, stacks: set[str]) -> bool:
    if not (isinstance(call.func, ast.Attribute) and call.func.attr == "__init__"):
        return False
    cls = index.enclosing(src, call, (ast.ClassDef,))
    return isinstance(cls, ast.ClassDef) and cls.name in stacks


def _keys_of(index: SourceIndex, src: SourceFile, call: ast.Call, node: ast.expr) -> list[str | None]:
    """The tag key(s) one call applies, loop variables bound to their literal values."""
    keys: list[str | None] = []
    for layers in index.copies(src, call, 0):
        value = substitute(node, layers)
        keys.append(value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None)
    return keys or [None]


def _dict_or_list_keys(
    index: SourceIndex, src: SourceFile, call: ast.Call, node: ast.expr
) -> list[str | None]:
    if isinstance(node, ast.Name):
        node = index.assigned_literal(src, call, node.id) or node
    if isinstance(node, ast.Dict):
        out: list[str | None] = []
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:  # {**common, ...}
                inner = index.assigned_literal(src, call, v.id) if isinstance(v, ast.Name) else None
                out.extend(_dict_or_list_keys(index, src, call, inner) if inner is not None else [None])
            else:
                out.append(str_literal(k))
        return out
    if isinstance(node, (ast.List, ast.Tuple)):  # L1 tags=[CfnTag(key=..., value=...)] or [{"key": ...}]
        out = []
        for el in node.elts:
            key_node = kwarg(el, "key") if isinstance(el, ast.Call) else None
            if isinstance(el, ast.Call) and key_node is None and el.args:
                key_node = el.args[0]
            if isinstance(el, ast.Dict):
                key_node = next(
                    (v for k, v in zip(el.keys, el.values, strict=True) if str_literal(k) in ("key", "Key")),
                    None,
                )
            out.append(str_literal(key_node))
        return out
    return [None]


def _app_names(src: SourceFile) -> set[str]:
    out = set()
    for node in walk(src.tree) if src.tree else ():
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and call_name(node.value) == "App"
        ):
            out |= {r for t in node.targets if (r := ref_name(t))}
    return out


def _stack_vars(src: SourceFile, stacks: set[str]) -> set[str]:
    out = set()
    for node in walk(src.tree) if src.tree else ():
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            name = call_name(node.value)
            if name in stacks or name.endswith("Stack"):
                out |= {r for t in node.targets if (r := ref_name(t))}
    return out


def _is_wide_scope(
    index: SourceIndex, src: SourceFile, scope: ast.expr, stacks: set[str], wide_names: set[str]
) -> bool:
    ref = ref_name(scope)
    if ref == "self":
        cls = index.enclosing(src, scope, (ast.ClassDef,))
        return isinstance(cls, ast.ClassDef) and cls.name in stacks
    if ref in wide_names:
        return True
    if isinstance(scope, ast.Call) and call_name(scope) in ("of", "App"):
        return True  # Stack.of(self)
    return False


def _answer_has_entry(ctx: CheckContext) -> bool:
    for src in ctx.parsed():
        for node in walk(src.tree) if src.tree else ():
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "synth"
            ):
                return True
    return False


def _scaffold_tag_uses(ctx: CheckContext) -> list[_TagUse]:
    """Tags the scaffold entry adds to the app, when the answer relies on that entry."""
    ws = ctx.workspace
    if ws is None or _answer_has_entry(ctx):
        return []
    entry = ctx.synth.entry or ctx.sample.entry_file
    if not entry or entry not in ws.scaffold_files:
        return []
    try:
        text = (Path(ws.root) / entry).read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError):
        return []
    src = SourceFile(entry, text, tree, None)
    out = []
    for call in (n for n in walk(tree) if isinstance(n, ast.Call)):
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "add" and isinstance(func.value, ast.Call):
            if dotted(func.value.func).endswith("Tags.of") and call.args:
                out.append(_TagUse(str_literal(call.args[0]), True, src, call, text_of(call, 100)))
    return out


def _stack_class_evidence(ctx: CheckContext, index: SourceIndex, value: str) -> list[Evidence]:
    stacks = index.stack_classes()
    out = []
    for src in index.sources:
        for node in walk(src.tree) if src.tree else ():
            if isinstance(node, ast.ClassDef) and node.name in stacks:
                out.append(ctx.at(src, node, value=f"class {node.name}: {value}"))
    return out


@check("tags-missing", lenses=("source", "template"))
def tags_missing(ctx: CheckContext) -> Iterable[Hit]:
    """Resources without the tags the rubric requires (default Environment, Owner, Project).

    What it finds: on the template, taggable resources whose Tags lack a required key (tags
    from `Tags.of(app|stack).add` and the scaffold entry's app tags reach the template; a
    Stack's own `tags=` prop is applied by CloudFormation at deploy time, so it is read from the
    source); one finding names the missing keys, how many resources lack each and a few of
    them. Keys match case-insensitively. Without a template, the source lens reports only keys
    that no `Tags.of(...).add`, `tags=` or scaffold app tag ever applies.

    Why it matters: without owner, project and environment tags nobody can allocate cost,
    find who to page or clean up a forgotten stack.

    Bad example:

        app = cdk.App()
        TapStack(app, "TapStack")          # no Tags.of(app).add(...) anywhere
        app.synth()

    When the task's prompt names the tags to apply (`Project: CloudMigration`, "tagged with
    Environment, Team, and CostCenter"), those keys are the required ones instead of the
    rubric's list (rubric option ``keys_from_prompt: false`` to always use the rubric's).

    Fix: tag the whole app or stack once:
    `for k, v in {"Environment": env, "Owner": "team-a", "Project": "tap"}.items(): Tags.of(app).add(k, v)`.
    """
    required = [str(t) for t in ctx.option("tags-missing", "required_tags", DEFAULT_TAGS) or []]
    asked = tag_keys(ctx.prompt) if ctx.option("tags-missing", "keys_from_prompt", True) else []
    if asked:
        required = asked
    if not required:
        return []
    index = SourceIndex(ctx)
    uses = _tag_uses(ctx, index)
    whose = "Tags the prompt asks for" if asked else "Required tags"
    if ctx.has_template:
        return _tags_template(ctx, index, required, uses, whose)
    return _tags_source(ctx, index, required, uses, whose)


def _tags_template(
    ctx: CheckContext, index: SourceIndex, required: list[str], uses: list[_TagUse], whose: str
) -> list[Hit]:
    taggable = [r for r in ctx.resources() if _taggable(r.type)]
    if not taggable:
        return []
    # Stack tags live in the cloud assembly manifest, not in the template: read them from the source.
    deploy_time = [u for u in uses if u.stack_tags]
    if any(u.key is None for u in deploy_time):
        return []
    at_deploy = {(u.key or "").lower() for u in deploy_time}
    required = [k for k in required if k.lower() not in at_deploy]
    lacking: list[tuple[Resource, list[str]]] = []
    for res in taggable:
        keys = _template_tag_keys(res.properties)
        lowered = {k.lower() for k in keys}  # case-insensitive: a `project` tag is taken for Project
        absent = [k for k in required if k.lower() not in lowered]
        if absent:
            lacking.append((res, absent))
    if not lacking:
        return []
    total = len(taggable)
    counts = {k: sum(k in absent for _, absent in lacking) for k in required}
    parts = [f"{k} on {_share(n, total)}" for k, n in counts.items() if n]
    missing = [k for k, n in counts.items() if n]
    message = (
        f"{whose} missing: {'; '.join(parts)} (e.g. {names_list((resource_label(r) for r, _ in lacking), 4)})"
    )
    evidence = [r.evidence(value="no " + ", ".join(absent) + " tag") for r, absent in lacking[:5]]
    hits = [Hit(message, evidence, key="tags-missing", lens="template")]
    src_ev = [ctx.at(u.src, u.node, value=u.text) for u in uses if u.src in index.sources]
    if not src_ev:
        src_ev = _stack_class_evidence(ctx, index, "no Tags.of(...).add or tags= for " + ", ".join(missing))
    if src_ev:
        hits.append(Hit(message, src_ev[:5], key="tags-missing", lens="source"))
    return hits


def _share(n: int, total: int) -> str:
    """`all 12 taggable resources`, `3 of 12 taggable resources`, `the only taggable resource`."""
    if total == 1:
        return "the only taggable resource"
    if n == total:
        return "both taggable resources" if total == 2 else f"all {total} taggable resources"
    return f"{n} of {total} taggable resources"


def _tags_source(
    ctx: CheckContext, index: SourceIndex, required: list[str], uses: list[_TagUse], whose: str
) -> list[Hit]:
    if not index.sources or any(u.key is None and u.wide for u in uses):
        return []  # no CDK code, or app/stack tags whose keys we cannot read: stay silent
    applied = {u.key.lower() for u in uses if u.key}
    never = [k for k in required if k.lower() not in applied]
    if not never:
        return []  # every key appears somewhere; coverage of construct-level tags is not judged
    partial = [
        k
        for k in required
        if k.lower() in applied and not any((u.key or "").lower() == k.lower() and u.wide for u in uses)
    ]
    if any(u.key is None for u in uses):  # construct-level tags with unreadable keys
        message = f"{whose} not applied to the app or its stacks: {', '.join(never)}"
    else:
        message = f"{whose} never applied: {', '.join(never)}"
    if not uses:
        message += " (the answer applies no tags at all)"
    elif partial:
        message += f"; {', '.join(partial)} only on some constructs"
    evidence = [ctx.at(u.src, u.node, value=u.text) for u in uses if u.src in index.sources][:5]
    if not evidence:
        evidence = _stack_class_evidence(ctx, index, "no Tags.of(...).add or tags= for " + ", ".join(never))
    if not evidence:
        return []  # no stack and no tag anywhere: an answer with nothing to tag is not judged
    return [Hit(message, evidence, key="tags-missing", lens="source")]


# ==== log-retention-missing ================================================================
_MANAGED_LOG_FLAG = "@aws-cdk/aws-lambda:useCdkManagedLogGroup"
_RDS_TYPES = ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")
_RDS_CALLS = (
    "DatabaseInstance",
    "DatabaseCluster",
    "DatabaseInstanceFromSnapshot",
    "DatabaseClusterFromSnapshot",
    "DatabaseInstanceReadReplica",
)
_LOG_DRIVER_CALLS = ("aws_logs", "AwsLogDriver")


def _log_groups(ctx: CheckContext) -> list[Resource]:
    """Log groups and CDK LogRetention resources: both give a named group a retention."""
    return list(ctx.resources("AWS::Logs::LogGroup")) + list(
        ctx.resources("Custom::LogRetention", include_helpers=True)
    )


def _names_function(name: Any, fn: Resource) -> bool:
    strings = " ".join(_strings(name))
    if fn.logical_id in refs_within(name) and "/aws/lambda/" in strings:
        return True
    fname = fn.properties.get("FunctionName")
    return isinstance(fname, str) and isinstance(name, str) and name == f"/aws/lambda/{fname}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _template_log_items(ctx: CheckContext) -> list[Item]:
    groups = _log_groups(ctx)
    items: list[Item] = []
    for res in ctx.resources("AWS::Logs::LogGroup"):
        if "RetentionInDays" not in res.properties:
            name = res.properties.get("LogGroupName")
            shown = f" ({name})" if isinstance(name, str) else ""
            items.append(
                Item(
                    template_key(res),
                    f"log group {resource_label(res)}{shown} has no RetentionInDays",
                    res.evidence(value="RetentionInDays not set"),
                )
            )
    for fn in workload_functions(ctx):
        logging = fn.properties.get("LoggingConfig")
        if isinstance(logging, dict) and logging.get("LogGroup") is not None:
            continue  # its own log group, judged above
        if any(g.stack == fn.stack and _names_function(g.properties.get("LogGroupName"), fn) for g in groups):
            continue
        items.append(
            Item(
                template_key(fn),
                f"function {resource_label(fn)} has no log group of its own and no log_retention "
                "(/aws/lambda/<name> never expires)",
                fn.evidence(value="no LoggingConfig.LogGroup, LogGroup or LogRetention for /aws/lambda/<fn>"),
            )
        )
    for db in ctx.resources(*_RDS_TYPES):
        exports = db.properties.get("EnableCloudwatchLogsExports")
        if not isinstance(exports, list) or not exports:
            continue
        if any(
            g.stack == db.stack and db.logical_id in refs_within(g.properties.get("LogGroupName"))
            for g in groups
        ):
            continue
        shown = ", ".join(e for e in exports if isinstance(e, str))
        items.append(
            Item(
                template_key(db),
                f"{'cluster' if db.type.endswith('Cluster') else 'DB instance'} {resource_label(db)} exports "
                f"{shown} logs with no cloudwatch_logs_retention (RDS creates those groups with no expiry)",
                db.evidence(value=f"EnableCloudwatchLogsExports {shown}; no LogRetention"),
            )
        )
    return items


def _managed_log_groups(ctx: CheckContext) -> bool | None:
    """Whether functions get a CDK-managed log group (True/False), None when unknown."""
    ws = ctx.workspace
    if ws is None:
        return None
    return ws.context.get(_MANAGED_LOG_FLAG) in (True, "true")


def _source_log_items(ctx: CheckContext, index: SourceIndex) -> list[Item]:
    items: list[Item] = []
    for inst in index.instances("LogGroup"):
        ret = inst.kw("retention")
        if ret is not None and dotted(ret).endswith("INFINITE"):
            items.append(
                Item(
                    inst.cid,
                    f"log group {inst.label} has retention=RetentionDays.INFINITE",
                    inst.evidence(ctx, value=text_of(ret), node=ret),
                )
            )
    for inst in index.instances("CfnLogGroup"):
        if not inst.opaque and not inst.kw_set("retention_in_days"):
            items.append(
                Item(
                    inst.cid,
                    f"log group {inst.label} (CfnLogGroup) has no retention_in_days",
                    inst.evidence(ctx, value="retention_in_days not set"),
                )
            )
    items.extend(_source_function_log_items(ctx, index))
    rds_named = _named_log_groups(index, "/aws/rds/")
    for inst in index.instances(*_RDS_CALLS, "CfnDBInstance", "CfnDBCluster"):
        exports = inst.kw("cloudwatch_logs_exports") or inst.kw("enable_cloudwatch_logs_exports")
        if exports is None or (isinstance(exports, (ast.List, ast.Tuple)) and not exports.elts):
            continue
        if inst.kw_set("cloudwatch_logs_retention") or (call_name(inst.call).startswith("Cfn") and rds_named):
            continue
        items.append(
            Item(
                inst.cid,
                f"database {inst.label} exports {_list_text(exports)} logs with no cloudwatch_logs_retention "
                "(RDS creates those groups with no expiry)",
                inst.evidence(ctx, value=f"cloudwatch_logs_exports={text_of(exports)}", node=exports),
            )
        )
    for src, call in index.calls:
        if call_name(call) in _LOG_DRIVER_CALLS and not (
            kwarg(call, "log_retention") or kwarg(call, "log_group")
        ):
            if call_name(call) == "aws_logs" and not dotted(call.func).lower().endswith(
                ("logdrivers.aws_logs", "logdriver.aws_logs")
            ):
                continue
            items.append(
                Item(
                    None,
                    f"container log driver {text_of(call, 60)} has no log_retention",
                    ctx.at(src, call, value="no log_retention / log_group"),
                )
            )
    return items


def _list_text(node: ast.expr) -> str:
    """`postgresql, upgrade` for a list of string literals, else the expression's text."""
    if isinstance(node, (ast.List, ast.Tuple)) and all(str_literal(e) for e in node.elts):
        return ", ".join(str(str_literal(e)) for e in node.elts)
    return text_of(node)


def _named_log_groups(index: SourceIndex, prefix: str) -> list[Instance]:
    out = []
    for inst in index.instances("LogGroup", "CfnLogGroup"):
        name = string_pattern(inst.kw("log_group_name"))
        if name and name.startswith(prefix):
            out.append(inst)
    return out


def _source_function_log_items(ctx: CheckContext, index: SourceIndex) -> list[Item]:
    managed = _managed_log_groups(ctx)
    if managed or (managed is None and not ctx.has_template):
        return []  # CDK-managed groups with retention, or we cannot know the flag
    lambda_groups = _named_log_groups(index, "/aws/lambda/")
    covered_refs: set[str] = set()
    covered_names: set[str] = set()
    for g in lambda_groups:
        name_node = g.kw("log_group_name")
        covered_refs |= refs_in(name_node)
        covered_names.add(string_pattern(name_node) or "")
    items = []
    for inst in index.instances(*FUNCTION_CALLS):
        if inst.opaque or any(inst.kw_set(k) for k in ("log_group", "log_retention", "logging_config")):
            continue
        fname = string_pattern(inst.kw("function_name"))
        if fname and f"/aws/lambda/{fname}" in covered_names:
            continue
        if index.assigned_names(inst) & covered_refs:
            continue
        items.append(
            Item(
                inst.cid,
                f"function {inst.label} has no log_group or log_retention (/aws/lambda/<name> never expires)",
                inst.evidence(ctx, value="no log_group / log_retention"),
            )
        )
    return items


@check("log-retention-missing", lenses=("source", "template"))
def log_retention_missing(ctx: CheckContext) -> Iterable[Hit]:
    """Log groups, Lambda logs and exported database logs kept forever.

    What it finds: log groups without RetentionInDays (in CDK: `RetentionDays.INFINITE` or a
    CfnLogGroup without retention; an L2 LogGroup left alone gets 2 years), Lambda functions
    with no log group of their own and no log_retention (their implicit `/aws/lambda/<name>`
    group never expires; the `@aws-cdk/aws-lambda:useCdkManagedLogGroup` flag gives them a
    managed group with retention and is respected), RDS/Aurora `cloudwatch_logs_exports`
    without `cloudwatch_logs_retention`, and ECS awslogs drivers without log_retention. The
    execution-log group API Gateway creates itself is not counted.

    Why it matters: logs that never expire grow the CloudWatch bill every month and keep
    personal data longer than any policy allows.

    Bad example:

        rds.DatabaseInstance(self, "Db", engine=..., vpc=vpc,
                             cloudwatch_logs_exports=["postgresql"])

    Fix: set `retention=logs.RetentionDays.ONE_MONTH` on log groups, give functions a
    `log_group` with a retention, and add `cloudwatch_logs_retention` next to
    `cloudwatch_logs_exports`.
    """
    index = SourceIndex(ctx)
    template_items = _template_log_items(ctx) if ctx.has_template else []
    source_items = _source_log_items(ctx, index)

    def message(items: list[Item]) -> str:
        head = (
            "No log retention: " if len(items) == 1 else f"{len(items)} log destinations keep logs forever: "
        )
        return (
            head
            + "; ".join(i.text for i in items[:6])
            + (f"; and {len(items) - 6} more" if len(items) > 6 else "")
        )

    return items_hit(ctx, "log-retention-missing", template_items, source_items, message)


# ==== tracing-disabled ======================================================================
_REST_API_CALLS = ("RestApi", "LambdaRestApi", "SpecRestApi", "StepFunctionsRestApi")
_STAGE_ID = re.compile(r"^(?P<api>.*?)DeploymentStage\.?(?P<stage>.*)$")


def _stage_key(res: Resource) -> tuple[str, str]:
    """(key, label) of an API stage: the RestApi's construct id for the stage CDK deploys."""
    ids = res.construct_ids
    if len(ids) >= 2 and ids[-1].startswith("DeploymentStage"):
        return ids[-2], f"stage {ids[-1].split('.', 1)[-1]} of {ids[-2]}"
    key = template_key(res)
    m = _STAGE_ID.match(key)
    if m and m.group("api"):
        return m.group("api"), f"stage {m.group('stage') or '?'} of {m.group('api')} ({res.logical_id})"
    return key, f"stage {resource_label(res)}"


def _template_tracing_items(ctx: CheckContext) -> list[Item]:
    items = []
    for fn in workload_functions(ctx):
        mode = (
            (fn.properties.get("TracingConfig") or {}).get("Mode")
            if isinstance(fn.properties.get("TracingConfig"), dict)
            else None
        )
        if mode != "Active" and not isinstance(mode, dict):
            items.append(
                Item(
                    template_key(fn),
                    f"function {resource_label(fn)}",
                    fn.evidence(value=f"TracingConfig {'Mode ' + str(mode) if mode else 'not set'}"),
                )
            )
    for stage in ctx.resources("AWS::ApiGateway::Stage"):
        enabled = stage.properties.get("TracingEnabled")
        if enabled is True or enabled == "true" or isinstance(enabled, dict):
            continue
        key, label = _stage_key(stage)
        items.append(Item(key, f"API {label}", stage.evidence(value="TracingEnabled not set")))
    return items


def _truthy_kw(node: ast.expr | None) -> bool | None:
    """True/False for a literal, None when the value is an expression we cannot read."""
    if node is None:
        return False
    value = literal(node, default=ast)
    return bool(value) if value is not ast else None


def _source_tracing_items(ctx: CheckContext, index: SourceIndex) -> list[Item]:
    items = []
    for inst in index.instances(*FUNCTION_CALLS):
        tracing = inst.kw("tracing") if call_name(inst.call) != "CfnFunction" else inst.kw("tracing_config")
        if tracing is None and inst.opaque:
            continue
        shown = text_of(tracing) if tracing is not None else ""
        if tracing is not None and (
            "ACTIVE" in shown or "Active" in shown or not _reads_as_untraced(tracing)
        ):
            continue
        items.append(
            Item(
                inst.cid,
                f"function {inst.label}",
                inst.evidence(ctx, value=f"tracing={shown}" if shown else "tracing not set"),
            )
        )
    for inst in index.instances(*_REST_API_CALLS):
        if _truthy_kw(inst.kw("deploy")) is False and inst.kw("deploy") is not None:
            continue  # no stage deployed by this construct
        opts = inst.kw("deploy_options")
        state = _struct_flag(index, inst, opts, "tracing_enabled")
        if state is None or state:
            continue
        items.append(
            Item(
                inst.cid,
                f"API {inst.label} (its deployment stage)",
                inst.evidence(ctx, value="deploy_options without tracing_enabled=True"),
            )
        )
    for inst in index.instances("Stage", "CfnStage"):
        if (
            call_name(inst.call) == "Stage"
            and "apigateway" not in dotted(inst.call.func).lower()
            and not inst.kw_set("deployment")
        ):
            continue  # another service's Stage (CDK pipelines)
        state = _truthy_kw(inst.kw("tracing_enabled"))
        if state is False and not inst.opaque:
            items.append(
                Item(inst.cid, f"API stage {inst.label}", inst.evidence(ctx, value="tracing_enabled not set"))
            )
    return items


def _reads_as_untraced(node: ast.expr) -> bool:
    text = text_of(node)
    return "DISABLED" in text or "PASS_THROUGH" in text or "PassThrough" in text


def _struct_flag(index: SourceIndex, inst: Instance, node: ast.expr | None, name: str) -> bool | None:
    """A boolean field of a struct argument (StageOptions(...) or a dict); None when unreadable."""
    if node is None:
        return False
    if isinstance(node, ast.Name):
        node = (
            index.assigned_literal(inst.src, inst.call, node.id)
            or _assigned_call(index, inst, node.id)
            or node
        )
    if isinstance(node, ast.Call):
        if any(kw.arg is None for kw in node.keywords):
            return None
        return _truthy_kw(kwarg(node, name))
    if isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                return None
            if str_literal(k) == name:
                return _truthy_kw(v)
        return False
    return None


def _assigned_call(index: SourceIndex, inst: Instance, name: str) -> ast.Call | None:
    scope = index.enclosing(inst.src, inst.call, (ast.FunctionDef, ast.AsyncFunctionDef)) or inst.src.tree
    found = None
    for node in walk(scope) if scope is not None else ():
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                found = node.value
    return found


@check("tracing-disabled", lenses=("source", "template"))
def tracing_disabled(ctx: CheckContext) -> Iterable[Hit]:
    """Lambda functions and REST API stages without X-Ray tracing.

    What it finds: the answer's Lambda functions whose TracingConfig is not Active and API
    Gateway REST API stages without TracingEnabled (HTTP APIs cannot trace, so they are not
    counted). One finding lists them.

    Why it matters: without traces a slow or failing request through API Gateway, Lambda and
    the data store cannot be followed; latency and errors have no place to be looked up.

    Bad example:

        fn = _lambda.Function(self, "Handler", ...)            # no tracing=
        apigw.LambdaRestApi(self, "Api", handler=fn)           # no deploy_options tracing

    Fix: `tracing=_lambda.Tracing.ACTIVE` on each function and
    `deploy_options=apigw.StageOptions(tracing_enabled=True)` on the API.
    """
    index = SourceIndex(ctx)
    template_items = _template_tracing_items(ctx) if ctx.has_template else []
    source_items = _source_tracing_items(ctx, index)

    def message(items: list[Item]) -> str:
        return f"X-Ray tracing is off for {names_list((i.text for i in items), 8)}"

    return items_hit(ctx, "tracing-disabled", template_items, source_items, message)


# ==== pitr-disabled ========================================================================
_TABLE_CALLS = ("Table", "TableV2", "CfnTable", "CfnGlobalTable")


def _pitr_on(spec: Any) -> bool | None:
    if not isinstance(spec, dict):
        return False
    flag = spec.get("PointInTimeRecoveryEnabled")
    if isinstance(flag, dict):
        return None
    return flag is True or flag == "true"


def _template_pitr_items(ctx: CheckContext) -> list[Item]:
    items = []
    for table in ctx.resources("AWS::DynamoDB::Table"):
        state = _pitr_on(table.properties.get("PointInTimeRecoverySpecification"))
        if state is False:
            items.append(
                Item(
                    template_key(table),
                    resource_label(table),
                    table.evidence(value="PointInTimeRecoverySpecification not enabled"),
                )
            )
    for table in ctx.resources("AWS::DynamoDB::GlobalTable"):
        replicas = table.properties.get("Replicas")
        states = (
            [_pitr_on(r.get("PointInTimeRecoverySpecification")) for r in replicas if isinstance(r, dict)]
            if isinstance(replicas, list)
            else []
        )
        if states and all(s is False for s in states):
            items.append(
                Item(
                    template_key(table),
                    resource_label(table),
                    table.evidence(value="no replica has PointInTimeRecoverySpecification enabled"),
                )
            )
    return items


def _source_pitr_state(index: SourceIndex, inst: Instance) -> bool | None:
    """True/False when the source says whether PITR is on, None when it cannot tell."""
    l1 = call_name(inst.call).startswith("Cfn")
    if not l1:
        legacy = inst.kw("point_in_time_recovery")
        if legacy is not None:
            return _truthy_kw(legacy)
    spec = inst.kw("point_in_time_recovery_specification")
    if spec is None:
        if call_name(inst.call) == "CfnGlobalTable":
            return None  # per-replica settings: leave to the template
        return None if inst.opaque else False
    if isinstance(spec, ast.Name):
        spec = (
            index.assigned_literal(inst.src, inst.call, spec.id)
            or _assigned_call(index, inst, spec.id)
            or spec
        )
    if isinstance(spec, ast.Call):
        return _truthy_kw(kwarg(spec, "point_in_time_recovery_enabled"))
    if isinstance(spec, ast.Dict):
        # An L2 struct dict takes snake_case keys; an L1 property dict only camelCase ones (others are dropped).
        wanted = "pointInTimeRecoveryEnabled" if l1 else "point_in_time_recovery_enabled"
        for k, v in zip(spec.keys, spec.values, strict=True):
            if k is None:
                return None
            if str_literal(k) == wanted:
                return _truthy_kw(v)
        return False
    return None


@check("pitr-disabled", lenses=("source", "template"))
def pitr_disabled(ctx: CheckContext) -> Iterable[Hit]:
    """DynamoDB tables without point-in-time recovery.

    What it finds: tables whose PointInTimeRecoverySpecification is not enabled (TableV2 /
    global tables: no replica has it). In the source: `point_in_time_recovery=True` (deprecated
    but effective) or `point_in_time_recovery_specification=PointInTimeRecoverySpecification(
    point_in_time_recovery_enabled=True)` count as on; a value the source cannot read is left
    to the template. One finding lists the tables. PITR turned on only for production
    (`point_in_time_recovery=True if stage == "prod" else False`) is a stage choice: reported as a
    note at severity info.

    Why it matters: without PITR a bad deploy, a buggy batch job or a mistaken delete loses
    data for good; with it the table can be restored to any second of the last 35 days.

    Bad example:

        dynamodb.Table(self, "Orders",
                       partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING))

    Fix: `point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
    point_in_time_recovery_enabled=True)`.
    """
    index = SourceIndex(ctx)
    template_items = _template_pitr_items(ctx) if ctx.has_template else []
    source_items = []
    off = gated = 0
    for inst in index.instances(*_TABLE_CALLS):
        condition = _pitr_condition(inst)
        if condition is not None and _on_in_production(condition):
            gated += 1
            value = f"point-in-time recovery only when `{condition}`"
            source_items.append(Item(inst.cid, inst.label, inst.evidence(ctx, value=value)))
        elif _source_pitr_state(index, inst) is False:
            off += 1
            source_items.append(
                Item(inst.cid, inst.label, inst.evidence(ctx, value="point-in-time recovery not enabled"))
            )

    def message(items: list[Item]) -> str:
        noun = "table has" if len(items) == 1 else f"{len(items)} tables have"
        return f"DynamoDB {noun} no point-in-time recovery: {names_list(i.text for i in items)}"

    hits = items_hit(ctx, "pitr-disabled", template_items, source_items, message)
    if gated and not off and len(template_items) <= gated:
        for hit in hits:  # every table without it turns PITR on in production: a stage choice
            hit.as_note("; it is on in production (the answer enables it only there), so not scored")
    return hits


def _pitr_condition(inst: Instance) -> str | None:
    """The condition under which a table's PITR is on, when the source writes `True if C else False`."""
    value = inst.kw("point_in_time_recovery")
    spec = inst.kw("point_in_time_recovery_specification")
    if value is None and isinstance(spec, ast.Call):
        value = kwarg(spec, "point_in_time_recovery_enabled")
    if not isinstance(value, ast.IfExp):
        return None
    body, orelse = literal(value.body, None), literal(value.orelse, None)
    test = " ".join(ast.unparse(value.test).split())
    if body is True and orelse is False:
        return test
    if body is False and orelse is True:
        return f"not ({test})"
    return None


def _on_in_production(condition: str) -> bool:
    return bool(re.search(r"==\s*['\"]prod(?:uction)?['\"]|^[\w.]*is_prod\w*$", condition.strip()))


# ==== alarms-missing =======================================================================
_ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
_WORKLOAD_TYPES = {
    "AWS::Lambda::Function": "Lambda function",
    "AWS::ECS::Service": "ECS service",
    "AWS::EC2::Instance": "EC2 instance",
    "AWS::AutoScaling::AutoScalingGroup": "Auto Scaling group",
    "AWS::EKS::Cluster": "EKS cluster",
    "AWS::StepFunctions::StateMachine": "state machine",
    "AWS::DynamoDB::Table": "DynamoDB table",
    "AWS::DynamoDB::GlobalTable": "DynamoDB table",
    "AWS::RDS::DBInstance": "RDS instance",
    "AWS::RDS::DBCluster": "RDS cluster",
    "AWS::ElastiCache::ReplicationGroup": "ElastiCache group",
    "AWS::ElastiCache::CacheCluster": "ElastiCache cluster",
    "AWS::OpenSearchService::Domain": "OpenSearch domain",
    "AWS::Kinesis::Stream": "Kinesis stream",
    "AWS::SQS::Queue": "SQS queue",
    "AWS::ApiGateway::RestApi": "REST API",
    "AWS::ApiGatewayV2::Api": "HTTP API",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "load balancer",
    "AWS::Redshift::Cluster": "Redshift cluster",
    "AWS::MSK::Cluster": "MSK cluster",
    "AWS::DocDB::DBCluster": "DocumentDB cluster",
    "AWS::Neptune::DBCluster": "Neptune cluster",
    "AWS::AppSync::GraphQLApi": "GraphQL API",
}
_WORKLOAD_CALLS = FUNCTION_CALLS + (
    "Table", "TableV2", "DatabaseInstance", "DatabaseCluster", "ServerlessCluster", "FargateService",
    "Ec2Service", "ApplicationLoadBalancedFargateService", "ApplicationLoadBalancedEc2Service",
    "NetworkLoadBalancedFargateService", "QueueProcessingFargateService", "AutoScalingGroup", "Instance",
    "StateMachine", "Queue", "Stream", "RestApi", "LambdaRestApi", "HttpApi", "ApplicationLoadBalancer",
    "Cluster", "Domain", "CfnReplicationGroup", "CfnCacheCluster", "GraphqlApi",
)  # fmt: skip
_ALARM_CALLS = (
    "Alarm",
    "CompositeAlarm",
    "CfnAlarm",
    "CfnCompositeAlarm",
    "create_alarm",
    "scale_on_metric",
    "StepScalingPolicy",
)


@check("alarms-missing", lenses=("source", "template"))
def alarms_missing(ctx: CheckContext) -> Iterable[Hit]:
    """A workload with no CloudWatch alarm at all.

    What it finds: answers whose stacks hold compute or data resources (functions, services,
    databases, tables, queues, streams, APIs) but not a single CloudWatch alarm or composite
    alarm. Alarms CDK creates for step-scaling policies count as alarms. Evidence: the stacks
    and the workload they contain.

    Why it matters: nobody learns that the functions error, the queue backs up or the database
    runs out of connections until users complain.

    Bad example:

        fn = _lambda.Function(self, "Handler", ...)
        table = dynamodb.Table(self, "Orders", ...)
        # ... and no cloudwatch.Alarm / fn.metric_errors().create_alarm(...)

    Fix: alarm on what breaks: `fn.metric_errors().create_alarm(self, "HandlerErrors",
    threshold=1, evaluation_periods=1)`, throttles, queue age, DB CPU and connections, and
    send them to an SNS topic.
    """
    index = SourceIndex(ctx)
    if ctx.has_template:
        return _alarms_template(ctx, index)
    if any(call_name(c) in _ALARM_CALLS for _, c in index.calls):
        return []
    if _alarms_in_unparsed(ctx):
        return []  # a file cut off mid-statement still shows its alarms: absence cannot be claimed
    workload = [i for i in index.instances(*_WORKLOAD_CALLS)]
    workload = [i for i in workload if _is_workload_call(i.call)]
    if not workload:
        return []
    listed = names_list((f"{call_name(i.call)} {i.label}" for i in workload), 5)
    evidence = _stack_class_evidence(ctx, index, "no cloudwatch.Alarm / create_alarm") or [
        workload[0].evidence(ctx)
    ]
    message = f"No CloudWatch alarm anywhere in the answer, for a workload of {listed}"
    never_given = _modules_never_given(ctx, index)
    if never_given:
        message += (
            f" (the answer is cut off: it imports {names_list(f'`{m}`' for m in never_given)}"
            " but never gives them, so any alarms there are not part of the answer)"
        )
    return [Hit(message, evidence[:5], key="alarms-missing", lens="source")]


def _modules_never_given(ctx: CheckContext, index: SourceIndex) -> list[str]:
    """When a file of the answer is cut off mid-statement: the modules of its own package that
    the answer imports but never gives (the part the answer did not reach)."""
    if not any(src.tree is None for src in ctx.sources):
        return []
    given = {src.path[: -len(".py")].replace("/", ".") for src in ctx.sources if src.path.endswith(".py")}
    given |= {g.rsplit(".", 1)[-1] for g in given}
    packages = {g.split(".", 1)[0] for g in given if "." in g}
    missing: list[str] = []
    for src in index.sources:
        for node in walk(src.tree) if src.tree else ():
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                root = node.module.split(".", 1)[0]
                if root in packages and node.module not in given and node.module not in missing:
                    missing.append(node.module)
    return missing


def _alarms_in_unparsed(ctx: CheckContext) -> bool:
    """Whether a Python file that does not parse creates alarms, read as text."""
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(c) for c in _ALARM_CALLS) + r")\s*\(")
    return any(src.tree is None and pattern.search(src.text) for src in ctx.sources)


def _is_workload_call(call: ast.Call) -> bool:
    name = call_name(call)
    func = dotted(call.func).lower()
    # Names shared with non-workload constructs: keep only the ones from the right module.
    if name == "Cluster":
        return "ecs" in func or "eks" in func or "elasticache" in func
    if name == "Domain":
        return "opensearch" in func or "elasticsearch" in func
    if name == "Instance":
        return "ec2" in func
    if name == "Stream":
        return "kinesis" in func
    return True


def _alarms_template(ctx: CheckContext, index: SourceIndex) -> list[Hit]:
    if any(True for _ in ctx.resources(*_ALARM_TYPES, include_helpers=True)):
        return []
    by_stack: dict[str, list[Resource]] = {}
    for res in ctx.resources(*_WORKLOAD_TYPES):
        by_stack.setdefault(res.stack, []).append(res)
    if not by_stack:
        return []
    evidence = [
        Evidence(
            stack=stack,
            value="no AWS::CloudWatch::Alarm; workload: "
            + names_list((f"{_WORKLOAD_TYPES[r.type]} {template_key(r)}" for r in res), 4),
        )
        for stack, res in sorted(by_stack.items())
    ]
    every = [r for res in by_stack.values() for r in res]
    message = f"No CloudWatch alarm in {names_list(sorted(by_stack))}, for a workload of " + names_list(
        (f"{_WORKLOAD_TYPES[r.type]} {template_key(r)}" for r in every), 5
    )
    hits = [Hit(message, evidence, key="alarms-missing", lens="template")]
    src_ev = _stack_class_evidence(ctx, index, "no cloudwatch.Alarm / create_alarm")
    if src_ev:
        hits.append(Hit(message, src_ev[:5], key="alarms-missing", lens="source"))
    return hits


# ==== dlq-missing ==========================================================================
_DLQ_NAME = re.compile(r"dlq|dead[-_ ]?letter|deadletter", re.I)
_DLQ_KEYS = ("RedrivePolicy", "DeadLetterConfig", "OnFailure", "RedriveAllowPolicy")


@dataclass
class _Consumer:
    group: str  # queue | async | stream
    key: str | None
    text: str
    evidence: Evidence


def _dlq_refs(value: Any) -> set[str]:
    """Logical ids used as dead-letter targets anywhere inside a resource's properties."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k in _DLQ_KEYS:
                out |= refs_within(v)
            else:
                out |= _dlq_refs(v)
    elif isinstance(value, list):
        for v in value:
            out |= _dlq_refs(v)
    return out


def _template_consumers(ctx: CheckContext) -> list[_Consumer]:
    everything = list(ctx.resources(include_helpers=True))
    by_id = {(r.stack, r.logical_id): r for r in everything}
    dlqs = {(r.stack, t) for r in everything for t in _dlq_refs(r.properties)}
    fns = {(f.stack, f.logical_id): f for f in workload_functions(ctx)}
    out: list[_Consumer] = []
    out.extend(_template_queues(ctx, by_id, dlqs))
    schedules = bool(ctx.option("dlq-missing", "scheduled_rules", False))
    out.extend(_template_async_functions(everything, by_id, fns, schedules))
    out.extend(_template_streams(everything, by_id, fns))
    return out


def _consumers_of_queue(everything: list[Resource], queue: Resource) -> list[str]:
    out = []
    for m in everything:
        if m.type == "AWS::Lambda::EventSourceMapping" and m.stack == queue.stack:
            if ref_target(m.properties.get("EventSourceArn")) == queue.logical_id:
                fn = ref_target(m.properties.get("FunctionName"))
                if fn:
                    out.append(fn)
    return out


def _template_queues(
    ctx: CheckContext, by_id: dict[tuple[str, str], Resource], dlqs: set[tuple[str, str]]
) -> list[_Consumer]:
    everything = list(by_id.values())
    out = []
    for q in ctx.resources("AWS::SQS::Queue"):
        if (q.stack, q.logical_id) in dlqs or q.properties.get("RedrivePolicy") is not None:
            continue
        qname = q.properties.get("QueueName")
        if _DLQ_NAME.search(template_key(q)) or (isinstance(qname, str) and _DLQ_NAME.search(qname)):
            continue  # meant as a dead-letter queue itself
        fns = [by_id.get((q.stack, f)) for f in _consumers_of_queue(everything, q)]
        consumers = [template_key(f) for f in fns if f is not None]
        text = f"queue {resource_label(q)} has no dead-letter queue (no RedrivePolicy)"
        if consumers:
            text += f"; its consumer {names_list(consumers)} retries a poison message until it expires"
        out.append(_Consumer("queue", template_key(q), text, q.evidence(value="RedrivePolicy not set")))
    return out


def _function_of(
    value: Any, stack: str, by_id: dict[tuple[str, str], Resource], fns: dict
) -> Resource | None:
    """The function an ARN value points at (directly, or through an alias/version)."""
    target = ref_target(value)
    if target is None:
        return None
    if (stack, target) in fns:
        return fns[(stack, target)]
    res = by_id.get((stack, target))
    if res is not None and res.type in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
        inner = ref_target(res.properties.get("FunctionName"))
        return fns.get((stack, inner)) if inner else None
    return None


def _async_sources(
    everything: list[Resource], by_id: dict, fns: dict, schedules: bool
) -> dict[tuple[str, str], list[tuple[str, bool]]]:
    """For each function: (what invokes it asynchronously, whether that source has its own DLQ)."""
    out: dict[tuple[str, str], list[tuple[str, bool]]] = {}

    def add(fn: Resource | None, label: str, covered: bool) -> None:
        if fn is not None:
            out.setdefault((fn.stack, fn.logical_id), []).append((label, covered))

    for r in everything:
        p = r.properties
        if r.type in ("Custom::S3BucketNotifications", "AWS::S3::Bucket"):
            conf = p.get("NotificationConfiguration")
            lambdas = (
                conf.get("LambdaFunctionConfigurations", conf.get("LambdaConfigurations"))
                if isinstance(conf, dict)
                else None
            )
            bucket = ref_target(p.get("BucketName")) if r.type.startswith("Custom::") else r.logical_id
            bucket_res = by_id.get((r.stack, bucket or ""))
            for entry in lambdas if isinstance(lambdas, list) else []:
                if isinstance(entry, dict):
                    arn = entry.get("LambdaFunctionArn", entry.get("Function"))
                    add(
                        _function_of(arn, r.stack, by_id, fns),
                        f"S3 notifications of {template_key(bucket_res) if bucket_res else bucket}",
                        False,
                    )
        elif r.type == "AWS::SNS::Subscription" and p.get("Protocol") == "lambda":
            topic = by_id.get((r.stack, ref_target(p.get("TopicArn")) or ""))
            add(
                _function_of(p.get("Endpoint"), r.stack, by_id, fns),
                f"SNS topic {template_key(topic) if topic else '?'}",
                p.get("RedrivePolicy") is not None,
            )
        elif r.type == "AWS::SNS::Topic" and isinstance(p.get("Subscription"), list):
            for sub in p["Subscription"]:
                if isinstance(sub, dict) and sub.get("Protocol") == "lambda":
                    add(
                        _function_of(sub.get("Endpoint"), r.stack, by_id, fns),
                        f"SNS topic {template_key(r)}",
                        False,
                    )
        elif r.type == "AWS::Lambda::EventInvokeConfig" and isinstance(p.get("DestinationConfig"), dict):
            source = _function_of(p.get("FunctionName"), r.stack, by_id, fns)
            for outcome in ("OnSuccess", "OnFailure"):
                dest = p["DestinationConfig"].get(outcome)
                if isinstance(dest, dict):
                    label = (
                        f"the {outcome[2:].lower()} destination of {template_key(source) if source else '?'}"
                    )
                    add(_function_of(dest.get("Destination"), r.stack, by_id, fns), label, False)
        elif r.type == "AWS::Events::Rule":
            if not schedules and p.get("ScheduleExpression") is not None and p.get("EventPattern") is None:
                continue  # a timer, not an event stream: a missed tick is not lost data
            for target in p.get("Targets") or []:
                if isinstance(target, dict):
                    add(
                        _function_of(target.get("Arn"), r.stack, by_id, fns),
                        f"EventBridge rule {template_key(r)}",
                        target.get("DeadLetterConfig") is not None,
                    )
    return out


def _template_async_functions(
    everything: list[Resource], by_id: dict, fns: dict, schedules: bool
) -> list[_Consumer]:
    protected: set[tuple[str, str]] = set()
    for key, fn in fns.items():
        if fn.properties.get("DeadLetterConfig") is not None:
            protected.add(key)
    for r in everything:
        if r.type == "AWS::Lambda::EventInvokeConfig":
            dest = r.properties.get("DestinationConfig")
            if isinstance(dest, dict) and dest.get("OnFailure") is not None:
                fn = _function_of(r.properties.get("FunctionName"), r.stack, by_id, fns)
                if fn is not None:
                    protected.add((fn.stack, fn.logical_id))
    out = []
    for key, sources in sorted(_async_sources(everything, by_id, fns, schedules).items()):
        if key in protected:
            continue
        bare = [label for label, covered in sources if not covered]
        if not bare:
            continue
        fn = fns[key]
        text = (
            f"function {resource_label(fn)} is invoked asynchronously by {names_list(bare)} with no "
            "dead_letter_queue or on_failure destination: events that fail their retries are dropped"
        )
        out.append(
            _Consumer(
                "async",
                template_key(fn),
                text,
                fn.evidence(value="no DeadLetterConfig / OnFailure destination"),
            )
        )
    return out


def _is_stream_arn(value: Any, stack: str, by_id: dict) -> bool:
    target = ref_target(value)
    if target is not None:
        res = by_id.get((stack, target))
        if res is None:
            return False
        if res.type in ("AWS::Kinesis::Stream", "AWS::Kinesis::StreamConsumer"):
            return True
        att = value.get("Fn::GetAtt") if isinstance(value, dict) else None
        return (
            res.type in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
            and isinstance(att, list)
            and "StreamArn" in att[1:]
        )
    text = " ".join(_strings(value))
    return ":kinesis:" in text or ("dynamodb" in text and "/stream/" in text)


def _template_streams(everything: list[Resource], by_id: dict, fns: dict) -> list[_Consumer]:
    out = []
    for m in everything:
        if m.type != "AWS::Lambda::EventSourceMapping" or not _is_stream_arn(
            m.properties.get("EventSourceArn"), m.stack, by_id
        ):
            continue
        dest = m.properties.get("DestinationConfig")
        if isinstance(dest, dict) and dest.get("OnFailure") is not None:
            continue
        fn = _function_of(m.properties.get("FunctionName"), m.stack, by_id, fns)
        if fn is None:
            continue
        source = by_id.get((m.stack, ref_target(m.properties.get("EventSourceArn")) or ""))
        what = f"{'Kinesis stream' if source is not None and source.type.startswith('AWS::Kinesis') else 'stream'} {template_key(source) if source else ''}".strip()
        text = (
            f"function {resource_label(fn)} consumes {what} with no on-failure destination: a failing batch "
            "is retried until the records expire and blocks its shard"
        )
        out.append(
            _Consumer(
                "stream", template_key(fn), text, m.evidence(value="DestinationConfig.OnFailure not set")
            )
        )
    return out


# ---- dlq source lens ----------------------------------------------------------------------
_DLQ_KWARGS = (
    "dead_letter_queue",
    "on_failure",
    "redrive_policy",
    "dead_letter_config",
    "dead_letter_target_arn",
)
_DLQ_WRAPPERS = ("SqsDestination", "SqsDlq", "DeadLetterQueue", "SnsDestination")


@dataclass
class _SourceModel:
    index: SourceIndex
    fn_by_ref: dict[str, Instance]
    dlq_refs: set[str]
    schedules: bool = False  # count schedule-only rules as async sources (rubric option)


def _source_model(index: SourceIndex) -> _SourceModel:
    fn_by_ref: dict[str, Instance] = {}
    for inst in index.instances(*FUNCTION_CALLS):
        for ref in index.assigned_names(inst):
            fn_by_ref.setdefault(ref, inst)
    dlq_refs: set[str] = set()
    for _, call in index.calls:
        for kw in call.keywords:
            if kw.arg in _DLQ_KWARGS:
                dlq_refs |= refs_in(kw.value)
        if call_name(call) in _DLQ_WRAPPERS:
            for arg in [*call.args, *(kw.value for kw in call.keywords)]:
                dlq_refs |= refs_in(arg)
    return _SourceModel(index, fn_by_ref, dlq_refs)


def _receiver(call: ast.Call) -> str | None:
    return ref_name(call.func.value) if isinstance(call.func, ast.Attribute) else None


def _first_ref(nodes: Iterable[ast.expr | None]) -> str | None:
    for node in nodes:
        ref = ref_name(node)
        if ref:
            return ref
        if isinstance(node, ast.Attribute):  # fn.function_arn / stream.stream_arn
            inner = ref_name(node.value)
            if inner:
                return inner
    return None


def _source_consumers(ctx: CheckContext, index: SourceIndex) -> list[_Consumer]:
    model = _source_model(index)
    model.schedules = bool(ctx.option("dlq-missing", "scheduled_rules", False))
    out = _source_queues(ctx, index, model)
    out.extend(_source_async(ctx, index, model))
    out.extend(_source_streams(ctx, index, model))
    return out


def _source_queues(ctx: CheckContext, index: SourceIndex, model: _SourceModel) -> list[_Consumer]:
    consumers: dict[str, list[str]] = {}
    for src, call in index.calls:
        if call_name(call) == "SqsEventSource" and call.args:
            queue = _first_ref([call.args[0]])
            fn = _receiver_fn(index, src, call, model)
            if queue and fn:
                consumers.setdefault(queue, []).append(fn.label)
    out = []
    for inst in index.instances("Queue", "CfnQueue"):
        if inst.opaque or inst.kw_set("dead_letter_queue") or inst.kw_set("redrive_policy"):
            continue
        names = index.assigned_names(inst)
        qname = string_pattern(inst.kw("queue_name")) or ""
        if names & model.dlq_refs or _DLQ_NAME.search(inst.label) or _DLQ_NAME.search(qname):
            continue
        if any(_DLQ_NAME.search(n) for n in names):
            continue
        users = [u for n in names for u in consumers.get(n, [])]
        text = f"queue {inst.label} has no dead_letter_queue"
        if users:
            text += f"; its consumer {names_list(users)} retries a poison message until it expires"
        out.append(_Consumer("queue", inst.cid, text, inst.evidence(ctx, value="no dead_letter_queue")))
    return out


def _receiver_fn(index: SourceIndex, src: SourceFile, call: ast.Call, model: _SourceModel) -> Instance | None:
    """The function of `fn.add_event_source(<call>)`."""
    par = index.parent(src, call)
    if (
        isinstance(par, ast.Call)
        and isinstance(par.func, ast.Attribute)
        and par.func.attr == "add_event_source"
    ):
        ref = _receiver(par)
        return model.fn_by_ref.get(ref) if ref else None
    return None


def _protected_fns(index: SourceIndex, model: _SourceModel) -> set[int]:
    """ids of function instances with a DLQ or on-failure destination of their own."""
    out: set[int] = set()
    for inst in model.fn_by_ref.values():
        if (
            inst.kw_set("dead_letter_queue")
            or inst.kw_set("dead_letter_topic")
            or inst.kw_set("on_failure")
            or _truthy_kw(inst.kw("dead_letter_queue_enabled"))
        ):
            out.add(id(inst))
    for _, call in index.calls:
        name = call_name(call)
        if (
            name in ("configure_async_invoke", "add_event_invoke_config")
            and kwarg(call, "on_failure") is not None
        ):
            fn = model.fn_by_ref.get(_receiver(call) or "")
        elif name == "EventInvokeConfig" and kwarg(call, "on_failure") is not None:
            fn = model.fn_by_ref.get(_first_ref([kwarg(call, "function")]) or "")
        else:
            continue
        if fn is not None:
            out.add(id(fn))
    return out


def _scheduled_rule(index: SourceIndex, src: SourceFile, call: ast.Call) -> bool:
    """True when a `targets.LambdaFunction(...)` call sits on a schedule-only rule."""
    rule: ast.Call | None = None
    cur: ast.AST | None = index.parent(src, call)
    while cur is not None and rule is None:
        if isinstance(cur, ast.Call) and call_name(cur) == "Rule":
            rule = cur
        elif (
            isinstance(cur, ast.Call)
            and isinstance(cur.func, ast.Attribute)
            and cur.func.attr == "add_target"
        ):
            var = _receiver(cur)
            rule = _rule_assigned(index, src, var) if var else None
            break
        elif isinstance(cur, ast.stmt):
            break
        cur = index.parent(src, cur)
    return rule is not None and kwarg(rule, "schedule") is not None and kwarg(rule, "event_pattern") is None


def _rule_assigned(index: SourceIndex, src: SourceFile, var: str) -> ast.Call | None:
    for node in walk(src.tree) if src.tree else ():
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and call_name(node.value) == "Rule"
        ):
            if any(ref_name(t) == var for t in node.targets):
                return node.value
    return None


def _async_trigger(
    index: SourceIndex, src: SourceFile, call: ast.Call, model: _SourceModel
) -> tuple[Instance | None, str]:
    """(function, what invokes it) when ``call`` wires a function to an asynchronous source."""
    name = call_name(call)
    first = model.fn_by_ref.get(_first_ref(call.args[:1]) or "") if call.args else None
    if name == "LambdaDestination":  # s3n (S3 notifications) or aws_lambda_destinations (another function)
        where = "a Lambda destination" if "destinations" in dotted(call.func).lower() else "S3 notifications"
        return first, where
    if name == "LambdaSubscription" and kwarg(call, "dead_letter_queue") is None:
        return first, "an SNS subscription"
    if (
        name == "LambdaFunction"
        and kwarg(call, "dead_letter_queue") is None
        and (model.schedules or not _scheduled_rule(index, src, call))
    ):
        return first, "an EventBridge rule"
    if name in ("S3EventSource", "S3EventSourceV2", "SnsEventSource"):
        return _receiver_fn(index, src, call, model), "S3 notifications" if name.startswith(
            "S3"
        ) else "an SNS subscription"
    return None, ""


def _source_async(ctx: CheckContext, index: SourceIndex, model: _SourceModel) -> list[_Consumer]:
    protected = _protected_fns(index, model)
    found: dict[int, tuple[Instance, list[str], list[Evidence]]] = {}
    for src, call in index.calls:
        fn, label = _async_trigger(index, src, call, model)
        if fn is None or id(fn) in protected:
            continue
        entry = found.setdefault(id(fn), (fn, [], []))
        entry[1].append(label)
        entry[2].append(ctx.at(src, call, value=text_of(call, 80)))
    out = []
    for fn, labels, evidence in found.values():
        text = (
            f"function {fn.label} is invoked asynchronously by {names_list(labels)} with no "
            "dead_letter_queue or on_failure destination: events that fail their retries are dropped"
        )
        out.append(
            _Consumer("async", fn.cid, text, fn.evidence(ctx, value="no dead_letter_queue / on_failure"))
        )
        out.extend(_Consumer("async", fn.cid, text, ev) for ev in evidence)
    return out


def _source_streams(ctx: CheckContext, index: SourceIndex, model: _SourceModel) -> list[_Consumer]:
    out = []
    for src, call in index.calls:
        name = call_name(call)
        if kwarg(call, "on_failure") is not None or kwarg(call, "destination_config") is not None:
            continue
        fn: Instance | None = None
        if name in ("KinesisEventSource", "DynamoEventSource"):
            fn = _receiver_fn(index, src, call, model)
            what = f"{'Kinesis stream' if name.startswith('Kinesis') else 'table stream'} {text_of(call.args[0], 40) if call.args else ''}"
        elif name in ("EventSourceMapping", "CfnEventSourceMapping"):
            arn = kwarg(call, "event_source_arn")
            shown = text_of(arn, 60)
            if arn is None or not ("stream" in shown.lower() or "kinesis" in shown.lower()):
                continue
            fn = model.fn_by_ref.get(_first_ref([kwarg(call, "target"), kwarg(call, "function_name")]) or "")
            what = shown
        else:
            continue
        if fn is None:
            continue
        text = (
            f"function {fn.label} consumes {what.strip()} with no on_failure destination: a failing batch is "
            "retried until the records expire and blocks its shard"
        )
        out.append(_Consumer("stream", fn.cid, text, ctx.at(src, call, value="no on_failure")))
    return out


@check("dlq-missing", lenses=("source", "template"))
def dlq_missing(ctx: CheckContext) -> Iterable[Hit]:
    """Asynchronous consumers without a dead-letter queue or on-failure destination.

    What it finds: one finding per consumer. SQS queues that are not themselves dead-letter
    queues and have no redrive policy (their consumers, SQS-triggered functions included,
    retry a poison message forever); functions invoked asynchronously by S3 notifications, SNS
    subscriptions or EventBridge event rules with no dead_letter_queue, on_failure destination
    or target DLQ; Kinesis / DynamoDB stream mappings without an on-failure destination.
    Functions only invoked synchronously (API Gateway) or by schedules are not counted, nor is
    an EventInvokeConfig on such a function.

    Why it matters: events that fail their retries are silently dropped (async invokes), block
    a shard until they expire (streams) or circle until they expire (queues): data is lost and nobody
    can replay it.

    Bad example:

        queue = sqs.Queue(self, "Orders")
        fn.add_event_source(SqsEventSource(queue))

    Fix: `sqs.Queue(self, "Orders", dead_letter_queue=sqs.DeadLetterQueue(queue=dlq,
    max_receive_count=3))`; `on_failure=SqsDestination(dlq)` on stream sources and on
    async-invoked functions (or `dead_letter_queue=`).
    """
    index = SourceIndex(ctx)
    template = _template_consumers(ctx) if ctx.has_template else []
    source = _source_consumers(ctx, index)
    hits: list[Hit] = []
    if ctx.has_template:
        for t in template:
            key = f"{t.group}:{t.key}"
            hits.append(Hit(t.text, [t.evidence], key=key, lens="template"))
            for s in source:
                if s.group == t.group and key_matches(s.key, t.key or ""):
                    hits.append(Hit(t.text, [s.evidence], key=key, lens="source"))
        return hits
    for s in source:
        hits.append(Hit(s.text, [s.evidence], key=f"{s.group}:{s.key or s.text}", lens="source"))
    return hits


__all__ = [
    "alarms_missing",
    "dlq_missing",
    "log_retention_missing",
    "pitr_disabled",
    "tags_missing",
    "tracing_disabled",
]
