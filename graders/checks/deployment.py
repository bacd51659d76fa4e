"""Deployment checks: hard-coded physical names, stacks without a region, stateful data deleted with the stack."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graders.checks import check
from graders.checks._ast import call_name, construct_id, dotted, iter_calls, kwarg, walk
from graders.checks._scope import (
    SourceIndex,
    best_matches,
    describe,
    id_regex,
    index_sources,
    method_receiver,
)
from graders.checks.context import CheckContext, Hit, Resource, SourceFile
from graders.models import Evidence
from graders.prompt import asks_destroyable

# =====================================================================================
# hardcoded-name
# =====================================================================================

# Which constructor a physical-name keyword counts on. Several keywords also appear on
# constructs that only *refer* to an existing resource (``CfnFlowLog(log_group_name=...)``,
# ``CfnPermission(function_name=...)``) or name something that is not unique
# (``BackupPlanRule(rule_name=...)``, ``lambda_.Alias(alias_name="live")``); the class pattern
# keeps those out. A keyword the rubric adds that is not listed here counts on any class.
_NAME_KWARGS: dict[str, str] = {
    "table_name": r"(Cfn)?(Global)?Table(V2)?$",
    "function_name": r"Function$",
    "bucket_name": r"Bucket$",
    "role_name": r"Role$",
    "log_group_name": r"(Cfn)?LogGroup$",
    "queue_name": r"Queue$",
    "topic_name": r"Topic$",
    "stream_name": r"(Cfn)?Stream$",
    "delivery_stream_name": r"DeliveryStream$",
    "secret_name": r"(Secret|from_generated_secret|from_username|from_password)$",
    "parameter_name": r"Parameter$",
    "state_machine_name": r"StateMachine$",
    "trail_name": r"Trail$",
    "dashboard_name": r"Dashboard$",
    "alarm_name": r"(Alarm|create_alarm)$",
    "composite_alarm_name": r"CompositeAlarm$",
    "instance_identifier": r"(DatabaseInstance\w*|provisioned|serverless_v2)$",
    "db_instance_identifier": r"CfnDBInstance$",
    "cluster_identifier": r"(DatabaseCluster\w*|ServerlessCluster\w*)$",
    "db_cluster_identifier": r"CfnDBCluster$",
    "event_bus_name": r"EventBus$",
    "rule_name": r"^(Rule|CfnRule|CfnSamplingRule|SamplingRuleProperty)$",
    "config_rule_name": r"Rule$",
    "cluster_name": r"Cluster$",
    "repository_name": r"Repository$",
    "managed_policy_name": r"ManagedPolicy$",
    "security_group_name": r"SecurityGroup$",
    "group_name": r"^(Group|CfnGroup|CfnPlacementGroup)$",
    "load_balancer_name": r"LoadBalancer$",
    "target_group_name": r"TargetGroup$",
    "replication_group_id": r"ReplicationGroup$",
    "cache_subnet_group_name": r"SubnetGroup$",
    "subnet_group_name": r"SubnetGroup$",
    "parameter_group_name": r"ParameterGroup$",
    "backup_vault_name": r"BackupVault$",
    "project_name": r"Project$",
    "pipeline_name": r"Pipeline$",
    "mesh_name": r"Mesh$",
    "launch_template_name": r"LaunchTemplate$",
    "auto_scaling_group_name": r"AutoScalingGroup$",
    "instance_profile_name": r"InstanceProfile$",
    "key_pair_name": r"KeyPair$",
    "export_name": r"^CfnOutput$",
    "alias": r"^(Key|CfnKey)$",
    "alias_name": r"^(Alias|CfnAlias)$",
    "domain_name": r"^(Cfn)?Domain$",
    "service_name": r"((Fargate|Ec2|External)Service|^CfnService)$",
    "name": r"^Cfn(WebACL|IPSet|RegexPatternSet)$",
}
# Lower-case callees that create a named resource (most constructors are capitalised).
_NAMING_FACTORIES = {
    "from_generated_secret",
    "from_username",
    "from_password",
    "create_alarm",
    "provisioned",
    "serverless_v2",
}

# The physical-name property of each resource type in the template, for evidence.
_CFN_NAME_PROPS: dict[str, str] = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::SSM::Parameter": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::CloudTrail::Trail": "TrailName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::CompositeAlarm": "AlarmName",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::EKS::Cluster": "Name",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::EC2::SecurityGroup": "GroupName",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::ElastiCache::ReplicationGroup": "ReplicationGroupId",
    "AWS::ElastiCache::CacheCluster": "ClusterName",
    "AWS::ElastiCache::SubnetGroup": "CacheSubnetGroupName",
    "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
    "AWS::DAX::Cluster": "ClusterName",
    "AWS::DAX::ParameterGroup": "ParameterGroupName",
    "AWS::DAX::SubnetGroup": "SubnetGroupName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::OpenSearchService::Domain": "DomainName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::ECS::Service": "ServiceName",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::Config::ConfigRule": "ConfigRuleName",
    "AWS::WAFv2::WebACL": "Name",
    "AWS::EC2::LaunchTemplate": "LaunchTemplateName",
    "AWS::AutoScaling::AutoScalingGroup": "AutoScalingGroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::EC2::KeyPair": "KeyName",
    "AWS::AppMesh::Mesh": "MeshName",
}

# A value that varies only with the account or region (``self.account``, ``Aws.REGION``).
_ACCOUNT_REGION = object()
_AR_ATTRS = {"account", "region", "ACCOUNT_ID", "REGION", "URL_SUFFIX"}
_AR_ENV = re.compile(r"(ACCOUNT|REGION)")
# Calls whose string argument is a default/fallback: a literal there is configurable, not fixed.
_DEFAULT_GIVERS = {"get", "getenv", "try_get_context", "get_context", "setdefault", "pop"}

Part = str | object


@dataclass
class _NameUse:
    """A physical-name keyword the source sets to a value that does not vary per environment."""

    idx: SourceIndex
    call: ast.Call
    keyword: str
    node: ast.expr
    parts: list[Part]
    construct: str | None
    cls: str
    label: str | None = None

    @property
    def src(self) -> SourceFile:
        return self.idx.src

    @property
    def account_region(self) -> bool:
        return any(p is _ACCOUNT_REGION for p in self.parts)

    @property
    def text(self) -> str:
        """The name as a reader sees it: the literal, or the f-string with {account}/{region}."""
        return "".join(p if isinstance(p, str) else "{account/region}" for p in self.parts)

    def pattern(self) -> re.Pattern[str]:
        """Matches the template's value (account/region parts resolved or still intrinsics)."""
        body = "".join(re.escape(p) if isinstance(p, str) else ".+" for p in self.parts)
        return re.compile(f"^{body}$")


@check("hardcoded-name", lenses=("source", "template"))
def hardcoded_name(ctx: CheckContext) -> Iterator[Hit]:
    """Physical resource names written as literals, with nothing that varies per environment.

    What it finds: physical-name properties (``table_name``, ``function_name``, ``bucket_name``,
    ``log_group_name``, export names, ...) set to a literal, or to an f-string whose only variable
    parts are the account or region. A name with an environment suffix, the stack name, a stack
    parameter or any other variable part varies and is not reported; names the task's prompt
    itself mandates and display names (API names, topic display names) are not reported either.
    The source decides: a template cannot tell ``f"orders-{env}"`` from ``"orders-dev"`` because
    synth resolves the suffix. The template adds the logical id of the named resource, and on its
    own reports a template name that equals a literal the answer wrote elsewhere (a name passed
    in through props from app.py, say).

    Why it matters: a fixed physical name can exist only once per account (and region, or
    globally for buckets), so a second environment or a second copy of the stack fails to
    deploy, and any change that needs a replacement of the resource fails as well.

    Bad example:

        dynamodb.Table(self, "UserTable", table_name="user-data-table", ...)

    Fix: leave the name to CloudFormation, or build it from the stack name or an environment
    suffix: ``table_name=f"user-data-{environment_suffix}"``.
    """
    indexes = index_sources(ctx.parsed())
    allowed = set(ctx.option("hardcoded-name", "name_properties", list(_NAME_KWARGS)))
    prompt = ctx.prompt or ""
    answer_classes = {n.name for idx in indexes for n in idx.classes}
    uses = [
        use
        for idx in indexes
        if idx.imports_cdk
        for use in _name_uses(idx, allowed, answer_classes)
        if not (not use.account_region and _prompt_mentions(prompt, use.text))
    ]
    named = list(_template_names(ctx))
    claimed: set[int] = set()
    for use in uses:
        key = f"{use.src.path}:{use.construct or use.call.lineno}"
        where = f" on {use.label or use.construct}" if use.construct else ""
        if use.account_region:
            why = "varies only with the account/region, not per environment or stack"
        else:
            why = "has no environment, stack-name or parameter component"
        shown = use.idx.segment(use.node, 80)
        if not isinstance(use.node, ast.Constant | ast.JoinedStr):
            shown += f'` (= "{use.text}")'  # reached through a variable: show what it holds
        else:
            shown += "`"
        message = f"`{use.keyword}={shown}{where} ({use.cls}) {why}"
        yield Hit(message, [ctx.at(use.src, use.node, value=use.text)], key=key, lens="source")
        for n in _matching_names(use, named):
            claimed.add(n)
            yield Hit(message, [named[n].evidence], key=key, lens="template")
    yield from _template_only_names(ctx, indexes, named, claimed, prompt)


def _name_uses(idx: SourceIndex, allowed: set[str], answer_classes: set[str]) -> Iterator[_NameUse]:
    for call in iter_calls(idx.tree):
        cls = call_name(call)
        if not cls or cls in answer_classes:
            continue  # the answer's own class decides what it does with the keyword
        if not (cls[0].isupper() or cls in _NAMING_FACTORIES):
            continue
        for kw in call.keywords:
            if kw.arg not in allowed or not re.search(_NAME_KWARGS.get(kw.arg, ".*"), cls):
                continue
            parts = _name_parts(idx, kw.value)
            if parts is None or not any(isinstance(p, str) and p for p in parts):
                continue
            if kw.arg == "alias_name" and not "".join(p for p in parts if isinstance(p, str)).startswith(
                "alias/"
            ):
                continue  # lambda_.Alias("live") names a version alias, not a KMS alias
            owner = _construct_call(idx, call)
            cid = construct_id(owner) if owner is not None else None
            label = _id_text(idx, owner) if owner is not None else None
            yield _NameUse(idx, call, kw.arg, kw.value, parts, cid, cls, label)


def _construct_call(idx: SourceIndex, call: ast.Call) -> ast.Call | None:
    """The call itself when it creates a construct, else the construct a factory call sits in."""
    if construct_id(call) is not None:
        return call
    for anc in idx.ancestors(call):
        if isinstance(anc, ast.Call) and construct_id(anc) is not None:
            return anc
    return None


def _id_text(idx: SourceIndex, call: ast.Call) -> str | None:
    """The construct id for a reader: f-string parts resolved when they are constants,
    otherwise shown as ``{expression}``."""
    node = call.args[1] if len(call.args) >= 2 else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return construct_id(call)
    pieces = []
    for value in node.values:
        if isinstance(value, ast.FormattedValue):
            parts = _name_parts(idx, value.value)
            if parts is not None and all(isinstance(p, str) for p in parts):
                pieces.append("".join(p for p in parts if isinstance(p, str)))
            else:
                pieces.append("{" + idx.segment(value.value, 40) + "}")
        elif isinstance(value, ast.Constant):
            pieces.append(str(value.value))
    return "".join(pieces)


def _name_parts(idx: SourceIndex, expr: ast.expr, depth: int = 0) -> list[Part] | None:
    """The pieces of a name value: literal strings and account/region markers; None if it varies."""
    if depth > 8:
        return None
    expr = idx.resolve(expr)
    if isinstance(expr, ast.Constant):
        return [expr.value] if isinstance(expr.value, str) else None
    if isinstance(expr, ast.JoinedStr):
        parts: list[Part] = []
        for value in expr.values:
            sub = (
                _name_parts(idx, value.value, depth + 1)
                if isinstance(value, ast.FormattedValue)
                else _name_parts(idx, value, depth + 1)
            )
            if sub is None:
                return None
            parts += sub
        return parts
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        left, right = _name_parts(idx, expr.left, depth + 1), _name_parts(idx, expr.right, depth + 1)
        return None if left is None or right is None else left + right
    if _is_account_region(expr):
        return [_ACCOUNT_REGION]
    if isinstance(expr, ast.Call):
        return _call_parts(idx, expr, depth)
    return None


def _call_parts(idx: SourceIndex, call: ast.Call, depth: int) -> list[Part] | None:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in ("lower", "upper", "strip") and not call.args:
        inner = _name_parts(idx, func.value, depth + 1)
        if inner is None:
            return None
        return [getattr(p, func.attr)() if isinstance(p, str) else p for p in inner]
    if isinstance(func, ast.Name) and func.id == "str" and len(call.args) == 1:
        return _name_parts(idx, call.args[0], depth + 1)
    if (
        isinstance(func, ast.Attribute)
        and func.attr == "join"
        and isinstance(func.value, ast.Constant)
        and isinstance(func.value.value, str)
        and len(call.args) == 1
        and isinstance(call.args[0], ast.List | ast.Tuple)
    ):
        out: list[Part] = []
        for n, elt in enumerate(call.args[0].elts):
            sub = _name_parts(idx, elt, depth + 1)
            if sub is None:
                return None
            out += ([func.value.value] if n else []) + sub
        return out
    return None


def _is_account_region(expr: ast.expr) -> bool:
    """``self.account``, ``Stack.of(self).region``, ``Aws.ACCOUNT_ID``, ``os.environ["CDK_DEFAULT_REGION"]``."""
    if isinstance(expr, ast.Attribute) and expr.attr in _AR_ATTRS:
        return True
    if isinstance(expr, ast.Call) and dotted(expr.func) in (
        "os.getenv",
        "os.environ.get",
        "getenv",
        "environ.get",
    ):
        key = expr.args[0] if expr.args else None
        return (
            isinstance(key, ast.Constant) and isinstance(key.value, str) and bool(_AR_ENV.search(key.value))
        )
    if isinstance(expr, ast.Subscript) and dotted(expr.value) in ("os.environ", "environ"):
        key = expr.slice
        return (
            isinstance(key, ast.Constant) and isinstance(key.value, str) and bool(_AR_ENV.search(key.value))
        )
    return False


@dataclass
class _TemplateName:
    """A physical name in a template: where, which property, and its text."""

    evidence: Evidence
    text: str
    prop: str
    owner: str


def _template_names(ctx: CheckContext) -> Iterator[_TemplateName]:
    """Every physical name in the templates, export names included.

    Intrinsics in a Fn::Join become ``\\x00`` so that an account/region part still matches.
    """
    for res in ctx.resources(*_CFN_NAME_PROPS):
        prop = _CFN_NAME_PROPS[res.type]
        text = _cfn_text(res.properties.get(prop))
        if text is not None:
            yield _TemplateName(res.evidence(value=text), text, prop, describe(res))
    for stack, template in sorted(ctx.templates.items()):
        outputs = template.get("Outputs")
        for out_id, out in outputs.items() if isinstance(outputs, dict) else []:
            export = out.get("Export") if isinstance(out, dict) else None
            text = _cfn_text(export.get("Name")) if isinstance(export, dict) else None
            if text is not None:
                ev = Evidence(stack=stack, resource=out_id, value=f"Export.Name {text}")
                yield _TemplateName(ev, text, "Export.Name", f"output {out_id}")


def _cfn_text(value: Any) -> str | None:
    if isinstance(value, str):
        return None if "${Token[" in value else value
    if isinstance(value, dict) and len(value) == 1 and "Fn::Join" in value:
        sep_parts = value["Fn::Join"]
        if isinstance(sep_parts, list) and len(sep_parts) == 2 and isinstance(sep_parts[1], list):
            sep = sep_parts[0] if isinstance(sep_parts[0], str) else ""
            return sep.join(p if isinstance(p, str) else "\x00" for p in sep_parts[1])
    return None


def _matching_names(use: _NameUse, named: list[_TemplateName]) -> list[int]:
    """Indexes of the template names a source use became (same value; construct id breaks ties)."""
    pattern = use.pattern()
    alias = use.keyword == "alias" and not use.text.startswith("alias/")
    hits = [
        n
        for n, name in enumerate(named)
        if pattern.match(name.text) or (alias and pattern.match(name.text.removeprefix("alias/")))
    ]
    if len(hits) > 1 and use.construct:
        narrowed = [n for n in hits if _evidence_names(named[n].evidence, use.construct)]
        hits = narrowed or hits
    return hits


def _evidence_names(ev: Evidence, cid: str) -> bool:
    pattern = id_regex(cid)
    if ev.cdk_path:
        return any(pattern.match(p) for p in ev.cdk_path.split("/"))
    alnum = "".join(ch for ch in cid if ch.isalnum())
    return bool(alnum) and (ev.resource or "").startswith(alnum)


def _template_only_names(
    ctx: CheckContext,
    indexes: list[SourceIndex],
    named: list[_TemplateName],
    claimed: set[int],
    prompt: str,
) -> Iterator[Hit]:
    """Template names that equal a literal the answer wrote, reached through props or variables."""
    if not named:
        return
    literals = _fixed_literals(indexes)
    for n, name in enumerate(named):
        text = name.text
        if n in claimed or "\x00" in text or text not in literals or _prompt_mentions(prompt, text):
            continue
        src, node = literals[text]
        message = (
            f'{name.prop} "{text}" of {name.owner} is the literal written at {src.path}:{node.lineno}'
            " (passed in through a variable or props): nothing in it varies per environment"
        )
        key = f"template:{name.evidence.stack}:{name.evidence.resource}"
        yield Hit(message, [name.evidence, ctx.at(src, node, value=text)], key=key, lens="template")


def _fixed_literals(indexes: list[SourceIndex]) -> dict[str, tuple[SourceFile, ast.Constant]]:
    """String literals assigned or passed as values, not given as a default or fallback.

    ``table_name="orders"`` passed to the answer's own stack, ``TABLE = "orders"`` or a props
    dict value count; ``get("name", "orders")``, ``x or "orders"``, parameter defaults and
    per-environment config maps (a dict inside a dict) are configurable and do not.
    """
    out: dict[str, tuple[SourceFile, ast.Constant]] = {}
    for idx in indexes:
        for node in walk(idx.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) >= 3:
                if _is_fixed_position(idx, node):
                    out.setdefault(node.value, (idx.src, node))
    return out


def _is_fixed_position(idx: SourceIndex, node: ast.AST) -> bool:
    parent = idx.parent(node)
    if isinstance(parent, ast.keyword):
        call = idx.parent(parent)
        return isinstance(call, ast.Call) and call_name(call) not in _DEFAULT_GIVERS
    if isinstance(parent, ast.Assign | ast.AnnAssign):
        return not isinstance(idx.parent(parent), ast.ClassDef)  # dataclass field defaults are defaults
    if isinstance(parent, ast.Dict) and node in parent.values:
        grand = idx.parent(parent)
        return not (isinstance(grand, ast.Dict) and parent in grand.values)
    return False


def _prompt_mentions(prompt: str, name: str) -> bool:
    """True when the prompt gives ``name`` itself (a plain word must be quoted to count)."""
    if not prompt or len(name) < 3:
        return False
    bounded = rf"(?<![\w/.-]){re.escape(name)}(?![\w/-])"
    if re.fullmatch(r"[a-z]+", name):
        bounded = rf"[`'\"]{re.escape(name)}[`'\"]"
    if re.search(bounded, prompt) is not None:
        return True
    # The prompt's name with a suffix the answer added (`cloudmigration-s3` -> `cloudmigration-s3-tap`).
    given = re.findall(r"[`'\"]([\w./-]{6,})[`'\"]|(?<![\w/.-])([a-z0-9]+(?:-[a-z0-9]+)+)(?![\w/-])", prompt)
    return any(name.startswith((g + "-", g + "_")) for pair in given for g in pair if len(g) >= 6)


# =====================================================================================
# region-not-set
# =====================================================================================

_STACK_BASES = {"Stack", "Stage"}


@check("region-not-set", lenses=("source", "synth"))
def region_not_set(ctx: CheckContext) -> Iterator[Hit]:
    """A stack the answer's own app creates without an environment region.

    What it finds: ``MyStack(app, "Id")`` calls in the answer's own app code (the scope is an
    ``App()``) with no ``env``, or an ``env`` whose region is missing or None. An env taken from
    ``CDK_DEFAULT_REGION`` counts as set. Answers that never instantiate a stack themselves (the
    scaffold or a generated driver does it) are not reported; env passed through ``**kwargs`` or
    a props object is assumed set. The synth lens adds the stack name when the answer's own entry
    produced that stack.

    Why it matters: an environment-agnostic stack cannot use anything that depends on the region
    (availability zones, lookups, region-specific ARNs) and deploys wherever the CLI profile
    happens to point, which is not what a task that names a region asks for.

    Bad example:

        app = cdk.App()
        ServerlessApiStack(app, "ServerlessApiStack")
        app.synth()

    Fix: pass ``env=cdk.Environment(account=os.getenv("CDK_DEFAULT_ACCOUNT"),
    region=os.getenv("CDK_DEFAULT_REGION", "us-east-1"))`` (or the region the task names).
    """
    indexes = index_sources(ctx.parsed())
    stack_classes = _stack_classes(indexes)
    for idx in indexes:
        for call in iter_calls(idx.tree):
            if not _is_stack_call(call, stack_classes) or not _scoped_to_app(idx, call):
                continue
            problem = _missing_region(idx, call, stack_classes)
            if problem is None:
                continue
            label = idx.segment(call.args[1] if len(call.args) > 1 else call, 60)
            message = f"stack {call_name(call)}({label}) is created by the answer's app {problem}"
            key = f"{idx.src.path}:{call.lineno}"
            yield Hit(message, [ctx.at(idx.src, call, value=idx.segment(call, 100))], key=key)
            stack = _synthesized_stack(ctx, call)
            if stack:
                yield Hit(
                    message,
                    [Evidence(stack=stack, value="synthesized with no region")],
                    key=key,
                    lens="synth",
                )


def _stack_classes(indexes: list[SourceIndex]) -> dict[str, ast.ClassDef]:
    """The answer's Stack (and Stage) subclasses, through its own class hierarchy."""
    classes = {n.name: n for idx in indexes for n in idx.classes}
    found: dict[str, ast.ClassDef] = {}
    changed = True
    while changed:
        changed = False
        for name, cls in classes.items():
            if name in found:
                continue
            bases = {dotted(b).rsplit(".", 1)[-1] for b in cls.bases}
            if "NestedStack" in bases:
                continue
            if bases & _STACK_BASES or bases & set(found):
                found[name] = cls
                changed = True
    return found


def _is_stack_call(call: ast.Call, stack_classes: dict[str, ast.ClassDef]) -> bool:
    name = call_name(call)
    if name in stack_classes or name in _STACK_BASES:
        return True
    # A stack class the answer imports but does not show (the scaffold's TapStack, say)
    return name.endswith("Stack") and name != "NestedStack" and name[:1].isupper() and len(call.args) >= 2


def _scoped_to_app(idx: SourceIndex, call: ast.Call) -> bool:
    scope = call.args[0] if call.args else kwarg(call, "scope")
    if scope is None:
        return False
    value = idx.resolve(scope)
    return isinstance(value, ast.Call) and call_name(value) == "App"


def _missing_region(idx: SourceIndex, call: ast.Call, stack_classes: dict[str, ast.ClassDef]) -> str | None:
    """Why the stack has no region, or None when it has one (or we cannot tell)."""
    if any(kw.arg is None for kw in call.keywords):
        return None  # **kwargs may carry env
    env = kwarg(call, "env")
    if env is None:
        cls = stack_classes.get(call_name(call))
        if cls is not None and _class_sets_env(cls):
            return None
        if any(_mentions_env(idx, arg) for arg in [*call.args[2:], *(kw.value for kw in call.keywords)]):
            return None  # env inside a props object
        return "with no env, so it has no region"
    return _env_without_region(idx, env)


def _env_without_region(idx: SourceIndex, env: ast.expr) -> str | None:
    value = idx.resolve(env)
    if isinstance(value, ast.Constant) and value.value is None:
        return "with env=None, so it has no region"
    if isinstance(value, ast.Call) and call_name(value) == "Environment":
        if any(kw.arg is None for kw in value.keywords) or len(value.args) >= 2:
            return None
        region = kwarg(value, "region")
        if region is None:
            return "with an env that gives no region"
        return "with region=None" if _is_none(idx, region) else None
    if isinstance(value, ast.Dict):
        keys = {
            k.value: v for k, v in zip(value.keys, value.values, strict=False) if isinstance(k, ast.Constant)
        }
        if any(k is None for k in value.keys):
            return None
        if "region" not in keys:
            return "with an env dict that gives no region"
        return "with region None" if _is_none(idx, keys["region"]) else None
    return None


def _is_none(idx: SourceIndex, node: ast.expr) -> bool:
    value = idx.resolve(node)
    return isinstance(value, ast.Constant) and value.value is None


def _class_sets_env(cls: ast.ClassDef) -> bool:
    """The stack class passes an env to ``super().__init__`` itself."""
    for call in iter_calls(cls, "__init__"):
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Call):
            if call_name(call.func.value) == "super" and kwarg(call, "env") is not None:
                return True
    return False


def _mentions_env(idx: SourceIndex, node: ast.expr) -> bool:
    value = idx.resolve(node)
    for sub in walk(value):
        if isinstance(sub, ast.keyword) and sub.arg in ("env", "region"):
            return True
        if (
            isinstance(sub, ast.Constant)
            and sub.value in ("env", "region")
            and isinstance(idx.parent(sub), ast.Dict)
        ):
            return True
    return False


def _synthesized_stack(ctx: CheckContext, call: ast.Call) -> str | None:
    """The stack name, when the answer's own entry synthesized this stack."""
    if ctx.synth.entry_kind != "answer":
        return None
    name_node = kwarg(call, "stack_name") or (call.args[1] if len(call.args) > 1 else None)
    if isinstance(name_node, ast.Constant) and name_node.value in ctx.synth.stacks:
        return str(name_node.value)
    return None


# =====================================================================================
# destroy-stateful
# =====================================================================================

# Constructs whose data CDK keeps by default (RETAIN/SNAPSHOT), by class name, with a label.
# Queues, secrets and state machines are deleted by CDK's own default, so choosing DESTROY
# there changes nothing and is not reported.
_STATEFUL_CLASSES: dict[str, str] = {
    "Table": "DynamoDB table",
    "TableV2": "DynamoDB table",
    "CfnTable": "DynamoDB table",
    "CfnGlobalTable": "DynamoDB table",
    "Bucket": "S3 bucket",
    "CfnBucket": "S3 bucket",
    "DatabaseInstance": "RDS instance",
    "DatabaseInstanceFromSnapshot": "RDS instance",
    "CfnDBInstance": "RDS instance",
    "DatabaseCluster": "database cluster",
    "DatabaseClusterFromSnapshot": "database cluster",
    "ServerlessCluster": "database cluster",
    "CfnDBCluster": "database cluster",
    "Key": "KMS key",
    "CfnKey": "KMS key",
    "LogGroup": "log group",
    "CfnLogGroup": "log group",
    "FileSystem": "file system",
    "CfnFileSystem": "file system",
    "Stream": "Kinesis stream",
    "CfnStream": "Kinesis stream",
    "UserPool": "Cognito user pool",
    "CfnUserPool": "Cognito user pool",
    "Repository": "ECR repository",
    "CfnRepository": "ECR repository",
    "BackupVault": "backup vault",
    "CfnBackupVault": "backup vault",
    "Domain": "search domain",
    "CfnDomain": "search domain",
}
# Module aliases that make an ambiguous class name something else (glue.CfnTable, codecommit.Repository).
_NOT_STATEFUL_MODULES = re.compile(
    r"glue|codecommit|codeartifact|cognito|apigateway|route53|sagemaker|datazone", re.IGNORECASE
)
_TYPE_LABELS = {
    "AWS::DynamoDB::Table": "DynamoDB table",
    "AWS::DynamoDB::GlobalTable": "DynamoDB table",
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::RDS::DBInstance": "RDS instance",
    "AWS::RDS::DBCluster": "database cluster",
    "AWS::KMS::Key": "KMS key",
    "AWS::Logs::LogGroup": "log group",
    "AWS::EFS::FileSystem": "file system",
    "AWS::Kinesis::Stream": "Kinesis stream",
    "AWS::Cognito::UserPool": "Cognito user pool",
    "AWS::ECR::Repository": "ECR repository",
    "AWS::Backup::BackupVault": "backup vault",
    "AWS::OpenSearchService::Domain": "search domain",
    "AWS::Elasticsearch::Domain": "search domain",
    "AWS::Neptune::DBCluster": "database cluster",
    "AWS::DocDB::DBCluster": "database cluster",
}
_DEFAULT_STATEFUL = list(_TYPE_LABELS)
_LOG_NOTE = " (log data only; lower impact than a data store)"


@dataclass
class _Destroy:
    """A DESTROY (or auto-delete) the source sets on a stateful construct."""

    src: SourceFile
    node: ast.AST
    construct: str | None
    label: str
    code: str
    gate: str | None = None
    auto_delete: bool = False
    extra: list[tuple[SourceFile, ast.AST, str]] = field(default_factory=list)
    shown: str | None = None  # the construct id as a reader sees it


@check("destroy-stateful", lenses=("source", "template"))
def destroy_stateful(ctx: CheckContext) -> Iterator[Hit]:
    """Stateful resources (tables, buckets, databases, keys, log groups) deleted with the stack.

    What it finds: in the template, resources CDK would retain by default (DynamoDB tables, S3
    buckets, RDS instances and clusters, KMS keys, log groups, EFS, Kinesis streams, user pools,
    ECR repositories, backup vaults, search domains) that carry ``DeletionPolicy: Delete`` —
    only the answer's own ``RemovalPolicy.DESTROY`` / ``apply_removal_policy`` puts it there
    (instances of an Aurora cluster are Delete by CDK's default and are skipped). In the source,
    ``removal_policy=RemovalPolicy.DESTROY``, ``apply_removal_policy(DESTROY)``,
    ``cfn_options.deletion_policy = DELETE`` and ``auto_delete_objects=True`` on those constructs.
    When a template exists it decides (a DESTROY gated to non-production stages counts only if
    it applies to the stage that synthesized); without one, the source reports unconditional and
    gated DESTROY alike and names the gate. Queues and secrets are not reported: CDK deletes them
    by default anyway.

    Why it matters: deleting or replacing the stack (or a rename that forces replacement) then
    deletes the data: table items, objects, database contents, and for a KMS key everything it
    encrypted.

    Bad example:

        dynamodb.Table(self, "UserTable", removal_policy=RemovalPolicy.DESTROY, ...)

    A DESTROY gated to throw-away stages by a condition that keeps production's data
    (`RemovalPolicy.DESTROY if stage != "prod" else RemovalPolicy.RETAIN`) is what the fix below
    recommends: it is reported as a note at severity info, naming the condition.

    When the task's prompt itself requires everything to be destroyable ("All resources must be
    destroyable (no Retain policies)", a CI test stack), the finding is kept as a note at
    severity info, quoting the prompt: the answer did what it was asked, and the note only says
    the same code must not reach production data. The rubric option ``prompt_waives: false``
    turns that off.

    Fix: keep CDK's default (RETAIN, or SNAPSHOT for databases), or gate DESTROY to throw-away
    stages with a condition that is false for production.
    """
    hits = list(_destroy_hits(ctx))
    asked = asks_destroyable(ctx.prompt) if ctx.option("destroy-stateful", "prompt_waives", True) else None
    for hit in hits:
        if asked and hit.severity != "info":
            hit.as_note(f"; as the task's prompt requires (“{asked}”), so not scored: keep it to test stacks")
        yield hit


def _destroy_hits(ctx: CheckContext) -> Iterator[Hit]:
    stateful = set(ctx.option("destroy-stateful", "stateful_types", _DEFAULT_STATEFUL))
    destroys = [d for idx in index_sources(ctx.parsed()) for d in _source_destroys(idx)]
    if not ctx.has_template:
        yield from _source_only_destroys(ctx, destroys)
        return
    auto_deleted = _auto_deleted_buckets(ctx)
    deleted = [
        r for r in ctx.resources(*stateful) if r.raw.get("DeletionPolicy") == "Delete" and not _cdk_default(r)
    ]
    matched: dict[str, list[_Destroy]] = {}
    for d in destroys:
        if d.construct is None:
            continue
        for res in best_matches(deleted, d.construct):
            matched.setdefault(res.logical_id, []).append(d)
    for res in deleted:
        key = res.logical_id  # the same construct in a dev and a prod stack is one finding
        label = _TYPE_LABELS.get(res.type, res.type)
        sources = matched.get(key, [])
        how = "; ".join(dict.fromkeys(f"`{d.code}`" for d in sources)) or "its removal policy"
        auto = res.logical_id in auto_deleted or any(d.auto_delete for d in sources)
        message = (
            f"{label} {describe(res)} has DeletionPolicy Delete"
            f" from {how}{' and auto-deletes its objects' if auto else ''}: deleting the stack deletes its data"
        )
        if label == "log group":
            message += _LOG_NOTE
        gated = bool(sources) and all(_spares_production(d.gate) for d in sources)
        hits = [Hit(message, [res.evidence(value="DeletionPolicy: Delete")], key=key, lens="template")]
        hits += [Hit(message, _destroy_evidence(ctx, d), key=key, lens="source") for d in sources]
        yield from (hit.as_note(_GATED_NOTE) if gated else hit for hit in hits)


_GATED_NOTE = "; only outside production (the condition keeps production's data), so not scored"
# Conditions under which DESTROY applies that leave production out: `stage != "prod"`,
# `not (stage == "production")`, `not is_prod`, `env not in ("prod", ...)`, `env == "dev"`.
_SPARES_PRODUCTION = re.compile(
    r"!=\s*['\"]prod(?:uction)?['\"]"
    r"|^not\s*\(.*==\s*['\"]prod(?:uction)?['\"]\s*\)$"
    r"|^not\s+[\w.]*prod(?:uction)?\w*$"
    r"|\bnot\s+in\s*[(\[{].*['\"]prod(?:uction)?['\"]"
    r"|==\s*['\"](?:dev|development|test|testing|sandbox|qa|local|ci)['\"]",
    re.IGNORECASE,
)


def _spares_production(gate: str | None) -> bool:
    """A DESTROY condition that keeps production's data (see _SPARES_PRODUCTION)."""
    return bool(gate) and bool(_SPARES_PRODUCTION.search((gate or "").strip()))


def _cdk_default(res: Resource) -> bool:
    """Delete that CDK chose, not the answer: the instances of an Aurora/DocDB cluster."""
    return res.type.endswith("DBInstance") and "DBClusterIdentifier" in res.properties


def _auto_deleted_buckets(ctx: CheckContext) -> set[str]:
    out: set[str] = set()
    for res in ctx.resources("Custom::S3AutoDeleteObjects", include_helpers=True):
        ref = res.properties.get("BucketName")
        if isinstance(ref, dict) and isinstance(ref.get("Ref"), str):
            out.add(ref["Ref"])
    return out


def _source_only_destroys(ctx: CheckContext, destroys: list[_Destroy]) -> Iterator[Hit]:
    for d in destroys:
        name = d.shown or d.construct or f"line {getattr(d.node, 'lineno', '?')}"
        if d.gate:
            message = f"{d.label} {name} is deleted with the stack whenever `{d.gate}`: `{d.code}`"
        else:
            message = f"{d.label} {name} is deleted with the stack: `{d.code}`"
        if d.auto_delete and "auto_delete" not in d.code:
            message += " (auto_delete_objects=True as well)"
        if d.label == "log group":
            message += _LOG_NOTE
        hit = Hit(message, _destroy_evidence(ctx, d), key=f"{d.src.path}:{name}")
        yield hit.as_note(_GATED_NOTE) if _spares_production(d.gate) else hit


def _destroy_evidence(ctx: CheckContext, d: _Destroy) -> list[Evidence]:
    out = [ctx.at(d.src, d.node, value=d.code)]
    out += [ctx.at(src, node, value=code) for src, node, code in d.extra]
    return out


def _source_destroys(idx: SourceIndex) -> list[_Destroy]:
    """DESTROY / auto-delete set on stateful constructs, one entry per construct."""
    by_call: dict[ast.Call, _Destroy] = {}
    order: list[_Destroy] = []

    def add(call: ast.Call, node: ast.AST, code: str, gate: str | None, auto: bool = False) -> None:
        label = _stateful_label(call)
        if label is None:
            return
        if call in by_call:
            d = by_call[call]
            d.extra.append((idx.src, node, code))
            d.auto_delete = d.auto_delete or auto
            if not auto and gate is None:
                d.gate = None  # an unconditional DESTROY wins over a gated one
            return
        d = _Destroy(idx.src, node, construct_id(call), label, code, gate, auto, shown=_id_text(idx, call))
        by_call[call] = d
        order.append(d)

    for call in iter_calls(idx.tree):
        policy = kwarg(call, "removal_policy")
        if policy is not None and (kind := _destroy_kind(idx, policy)) is not None:
            add(call, policy, f"removal_policy={_shown(idx, policy)}", kind[1])
        auto = kwarg(call, "auto_delete_objects")
        if auto is not None and _truthy(idx, auto):
            add(call, auto, f"auto_delete_objects={idx.segment(auto, 60)}", None, auto=True)
        receiver = method_receiver(call, "apply_removal_policy")
        if receiver is not None and call.args and (kind := _destroy_kind(idx, call.args[0])) is not None:
            target = idx.construct_call(receiver)
            if target is not None:
                add(target, call, idx.segment(call, 90), kind[1])
    for node in walk(idx.tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and dotted(node.targets[0]).endswith("cfn_options.deletion_policy")
            and dotted(node.value).endswith(".DELETE")
        ):
            base = node.targets[0].value.value  # type: ignore[attr-defined]
            target = idx.construct_call(base)
            if target is not None:
                add(target, node, idx.segment(node, 90), None)
    return order


def _shown(idx: SourceIndex, expr: ast.expr) -> str:
    """The expression as written, plus what a variable holds when it was reached through one."""
    text = idx.segment(expr, 90)
    value = idx.resolve(expr)
    return text if value is expr else f"{text} (= {idx.segment(value, 90)})"


def _stateful_label(call: ast.Call) -> str | None:
    label = _STATEFUL_CLASSES.get(call_name(call))
    if label is None or _NOT_STATEFUL_MODULES.search(dotted(call.func)):
        return None
    return label


def _destroy_kind(idx: SourceIndex, expr: ast.expr) -> tuple[str, str | None] | None:
    """("always", None) for DESTROY, ("gated", condition) for a DESTROY branch of a conditional."""
    value = idx.resolve(expr)
    if _is_destroy(value):
        return "always", None
    if not isinstance(value, ast.IfExp):
        return None
    body, orelse = _is_destroy(idx.resolve(value.body)), _is_destroy(idx.resolve(value.orelse))
    if body and orelse:
        return "always", None
    if not (body or orelse):
        return None
    test = idx.segment(value.test, 60)
    return "gated", test if body else f"not ({test})"


def _is_destroy(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "DESTROY") or (
        isinstance(node, ast.Name) and node.id == "DESTROY"
    )


def _truthy(idx: SourceIndex, node: ast.expr) -> bool:
    value = idx.resolve(node)
    if isinstance(value, ast.Constant):
        return value.value is True
    return isinstance(value, ast.IfExp) and any(
        isinstance(b, ast.Constant) and b.value is True for b in (value.body, value.orelse)
    )
