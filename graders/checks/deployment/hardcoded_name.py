"""hardcoded-name: physical resource names written as literals, with nothing that varies per environment."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

from iacgrade.graders.analysis.cfn import sub_text
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import SourceIndex, describe, index_sources, match_level
from iacgrade.graders.analysis.names import (
    ACCOUNT_REGION,
    Part,
    id_text,
    name_parts,
)
from iacgrade.graders.analysis.pyast import call_name, construct_id, iter_calls, walk
from iacgrade.graders.analysis.source import SourceFile
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.analysis.tsast import TsFile, camel, ts_files
from iacgrade.graders.checks import CheckOptions, check
from iacgrade.graders.models import Evidence
from iacgrade.graders.prompt import asks_suffixed_names

if TYPE_CHECKING:
    from tree_sitter import Node


class HardcodedNameOptions(CheckOptions):
    name_properties: tuple[str, ...] = Field(default_factory=lambda: tuple(_NAME_KWARGS))
    """Keyword arguments that set a physical name. Each known one counts only on the constructs
    that create the named resource (``_NAME_KWARGS``); one added here that the check does not
    know counts on any CDK class. Left out on purpose: names that need not be unique
    (user_pool_name, api_key_name, rest_api_name, display_name, layer_version_name,
    query_definition_name, policy_name of inline policies) and Name tags (vpc_name,
    instance_name, file_system_name)."""


@check(
    "hardcoded-name",
    lenses=("source", "template"),
    kinds=("cdk-python", "cdk-typescript", "cdk-javascript"),
    options=HardcodedNameOptions,
)
def hardcoded_name(ctx: CheckContext) -> Iterator[Hit]:
    """Physical resource names written as literals, with nothing that varies per environment.

    What it finds: physical-name properties (``table_name``, ``function_name``, ``bucket_name``,
    ``log_group_name``, export names, ...) set to a literal, or to an f-string whose only variable
    parts are the account or region. A name with an environment suffix, the stack name, a stack
    parameter or any other variable part varies and is not reported; names the task's prompt
    itself mandates and display names (API names, topic display names) are not reported either,
    unless the prompt also asks every resource name to include the environment suffix (the name it
    gives is then the base of one).
    The source decides: a template cannot tell ``f"orders-{env}"`` from ``"orders-dev"`` because
    synth resolves the suffix. The template adds the logical id of the named resource, and on its
    own reports a template name that equals a literal the answer wrote elsewhere (a name passed
    in through props from app.py or bin/tap.ts, say). In a template the answer wrote itself (a CloudFormation
    answer) the template is the source: a literal ``BucketName: my-bucket`` counts, and so does
    an ``!Sub`` whose only variables are the account and region; an ``!Sub`` with
    ``${AWS::StackName}`` or a parameter (an environment suffix) varies and does not. In CDK
    TypeScript and JavaScript the same props are read in their own spelling (``tableName:
    "orders"``, a template string with only ``${this.account}``/``${this.region}`` parts).

    Why it matters: a fixed physical name can exist only once per account (and region, or
    globally for buckets), so a second environment or a second copy of the stack fails to
    deploy, and any change that needs a replacement of the resource fails as well.

    Bad example:

        dynamodb.Table(self, "UserTable", table_name="user-data-table", ...)

    Fix: leave the name to CloudFormation, or build it from the stack name or an environment
    suffix: ``table_name=f"user-data-{environment_suffix}"``.
    """
    indexes = index_sources(ctx.source.parsed())
    allowed = set(ctx.options(HardcodedNameOptions).name_properties)
    # Names the prompt gives are its own, unless it also asks every resource name to carry the
    # environment suffix: then "a repository named 'nodejs-webapp'" names the base, not the literal.
    prompt = "" if asks_suffixed_names(ctx.prompt) else ctx.prompt or ""
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
    uses += [
        use
        for tsf in ts_files(ctx.source)
        if tsf.imports_cdk()
        for use in _ts_name_uses(tsf, allowed)
        if not (not use.account_region and _prompt_mentions(prompt, use.text))
    ]
    for use in uses:
        key = f"{use.src.path}:{use.construct or use.line}"
        where = f" on {use.label or use.construct}" if use.construct else ""
        if use.account_region:
            why = "varies only with the account/region, not per environment or stack"
        else:
            why = "has no environment, stack-name or parameter component"
        code = f"{use.keyword}{use.assign}{use.shown}"
        shown = f"`` {code} ``" if "`" in code else f"`{code}`"  # a TypeScript template string
        if not use.literal:
            shown += f' (= "{use.text}")'  # reached through a variable: show what it holds
        message = f"{shown}{where} ({use.cls}) {why}"
        yield Hit(message, [ctx.source.at(use.src, use.line, value=use.text)], key=key, lens="source")
        for n in _matching_names(use, named):
            claimed.add(n)
            yield Hit(message, [named[n].evidence], key=key, lens="template")
    yield from _template_only_names(ctx, indexes, named, claimed, prompt)
    yield from _written_names(ctx, prompt)


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
    "alarm_name": r"((?<!Composite)Alarm|CfnCompositeAlarm|create_alarm)$",  # L2 CompositeAlarm: composite_alarm_name
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


# Calls whose string argument is a default/fallback: a literal there is configurable, not fixed.
_DEFAULT_GIVERS = {"get", "getenv", "try_get_context", "get_context", "setdefault", "pop"}


@dataclass
class _NameUse:
    """A physical-name keyword the source sets to a value that does not vary per environment."""

    src: SourceFile
    line: int
    keyword: str
    shown: str  # the value as written, on one line
    literal: bool  # written in place (not reached through a variable)
    parts: list[Part]
    construct: str | None
    cls: str
    label: str | None = None
    assign: str = "="  # `keyword=value` in Python, `keyword: value` in TypeScript

    @property
    def account_region(self) -> bool:
        return any(p is ACCOUNT_REGION for p in self.parts)

    @property
    def text(self) -> str:
        """The name as a reader sees it: the literal, or the f-string with {account}/{region}."""
        return "".join(p if isinstance(p, str) else "{account/region}" for p in self.parts)

    def pattern(self) -> re.Pattern[str]:
        """Matches the template's value (account/region parts resolved or still intrinsics)."""
        body = "".join(re.escape(p) if isinstance(p, str) else ".+" for p in self.parts)
        return re.compile(f"^{body}$")


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
            parts = name_parts(idx, kw.value)
            if parts is None or not any(isinstance(p, str) and p for p in parts):
                continue
            if kw.arg == "alias_name" and not "".join(p for p in parts if isinstance(p, str)).startswith(
                "alias/"
            ):
                continue  # lambda_.Alias("live") names a version alias, not a KMS alias
            owner = _construct_call(idx, call)
            cid = construct_id(owner) if owner is not None else None
            label = id_text(idx, owner) if owner is not None else None
            literal = isinstance(kw.value, ast.Constant | ast.JoinedStr)
            shown = idx.segment(kw.value, 80)
            yield _NameUse(idx.src, kw.value.lineno, kw.arg, shown, literal, parts, cid, cls, label)


# The same keywords as TypeScript spells them (`tableName`), and its factories (`createAlarm`).
_TS_NAME_PROPS = {camel(k): v for k, v in _NAME_KWARGS.items()}
_TS_NAMING_FACTORIES = {camel(f) for f in _NAMING_FACTORIES}


def _ts_name_uses(tsf: TsFile, allowed: set[str]) -> Iterator[_NameUse]:
    """Physical-name properties of the CDK constructs a TypeScript/JavaScript file creates."""
    answer_classes = {
        tsf.text(n) for c in tsf.nodes("class_declaration") if (n := c.child_by_field_name("name"))
    }
    allowed_ts = {camel(k) for k in allowed}
    made: list[tuple[Node, str, Node | None]] = []  # (call, class or factory, props)
    for new in tsf.news():
        if new.cls[:1].isupper() and new.cls not in answer_classes:
            made.append((new.node, new.cls, new.args[-1] if new.args else None))
    for factory in tsf.calls(*_TS_NAMING_FACTORIES):
        if factory.receiver is not None and factory.args and factory.method:
            made.append((factory.node, factory.method, factory.args[-1]))
    for call, cls, props in made:
        for prop, value in tsf.props(props).items():
            if prop not in allowed_ts or not re.search(_TS_NAME_PROPS.get(prop, ".*"), cls):
                continue
            parts = tsf.name_parts(value)
            if parts is None or not any(isinstance(p, str) and p for p in parts):
                continue
            if prop == "aliasName" and not "".join(p for p in parts if isinstance(p, str)).startswith(
                "alias/"
            ):
                continue  # new lambda.Alias(..., { aliasName: "live" }) names a version alias
            id_node = _ts_construct(tsf, call)
            cid = tsf.construct_id(id_node) if id_node is not None else None
            id_parts = tsf.name_parts(id_node) if id_node is not None else None
            label = "".join(p for p in id_parts if isinstance(p, str)) if id_parts else cid
            literal = value.type in ("string", "template_string")
            yield _NameUse(
                tsf.src, tsf.line(value), prop, tsf.segment(value), literal, parts, cid, cls, label, ": "
            )


def _ts_construct(tsf: TsFile, call: Node) -> Node | None:
    """The id argument of the construct a name belongs to: the call's own (`new Bucket(this,
    "Id", ...)`, `metric.createAlarm(this, "Id", ...)`), or that of the `new` a factory call sits in."""
    factory = tsf.call(call)
    own = factory.args if factory is not None else []
    if len(own) >= 3 and tsf.construct_id(own[1]) is not None:
        return own[1]
    owner = tsf.enclosing_construct(call)
    return owner.arg(1) if owner is not None else None


def _construct_call(idx: SourceIndex, call: ast.Call) -> ast.Call | None:
    """The call itself when it creates a construct, else the construct a factory call sits in."""
    if construct_id(call) is not None:
        return call
    for anc in idx.ancestors(call):
        if isinstance(anc, ast.Call) and construct_id(anc) is not None:
            return anc
    return None


@dataclass
class _TemplateName:
    """A physical name in a template: where, which property, and its text."""

    evidence: Evidence
    text: str
    prop: str
    owner: str
    resource: Resource | None = None  # None for an output's export name


def _template_names(ctx: CheckContext) -> Iterator[_TemplateName]:
    """Every physical name in the templates, export names included.

    Intrinsics in a Fn::Join become ``\\x00`` so that an account/region part still matches.
    """
    for res in ctx.template.resources(*_CFN_NAME_PROPS):
        prop = _CFN_NAME_PROPS[res.type]
        text = _cfn_text(res.properties.get(prop))
        if text is not None:
            yield _TemplateName(res.evidence(value=text), text, prop, describe(res), res)
    for stack, template in sorted(ctx.template.templates.items()):
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
        narrowed = [n for n in hits if _within(named[n].resource, use.construct)]
        hits = narrowed or hits
    return hits


def _within(res: Resource | None, cid: str) -> bool:
    """The resource is the construct ``cid`` or sits inside it."""
    return res is not None and match_level(res, cid) >= 2


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
    for tsf in ts_files(ctx.source):
        for text, line in _ts_fixed_literals(tsf):
            literals.setdefault(text, (tsf.src, line))
    for n, name in enumerate(named):
        text = name.text
        if n in claimed or "\x00" in text or text not in literals or _prompt_mentions(prompt, text):
            continue
        src, line = literals[text]
        message = (
            f'{name.prop} "{text}" of {name.owner} is the literal written at {src.path}:{line}'
            " (passed in through a variable or props): nothing in it varies per environment"
        )
        key = f"template:{name.evidence.stack}:{name.evidence.resource}"
        yield Hit(message, [name.evidence, ctx.source.at(src, line, value=text)], key=key, lens="template")


# Pseudo parameters that vary with the account or region only, not per environment or stack.
_ACCOUNT_REGION_VARS = {"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::URLSuffix"}


def _written_names(ctx: CheckContext, prompt: str) -> Iterator[Hit]:
    """Names in a template the answer wrote itself (a CloudFormation answer: the template is the
    source): a literal, or an ``Fn::Sub`` whose only variables are the account and region."""
    for res in ctx.template.resources(*_CFN_NAME_PROPS):
        if res.file is None:
            continue
        prop = _CFN_NAME_PROPS[res.type]
        value = res.properties.get(prop)
        text = sub_text(value)
        if text is not None:
            variables = set(re.findall(r"\$\{([^}!]+)\}", text))
            if not variables or not variables <= _ACCOUNT_REGION_VARS:
                continue
            why = "varies only with the account/region, not per environment or stack"
        elif isinstance(value, str):
            text = value
            why = "has no environment, stack-name or parameter component"
        else:
            continue
        if _prompt_mentions(prompt, text):
            continue
        message = f"{prop} `{text}` of {describe(res)} ({res.type}) {why}"
        yield Hit(
            message, [res.evidence(value=text)], key=f"template:{res.stack}:{res.logical_id}", lens="template"
        )


def _fixed_literals(indexes: list[SourceIndex]) -> dict[str, tuple[SourceFile, int]]:
    """String literals assigned or passed as values, not given as a default or fallback.

    ``table_name="orders"`` passed to the answer's own stack, ``TABLE = "orders"`` or a props
    dict value count; ``get("name", "orders")``, ``x or "orders"``, parameter defaults and
    per-environment config maps (a dict inside a dict) are configurable and do not.
    """
    out: dict[str, tuple[SourceFile, int]] = {}
    for idx in indexes:
        for node in walk(idx.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) >= 3:
                if _is_fixed_position(idx, node):
                    out.setdefault(node.value, (idx.src, node.lineno))
    return out


def _ts_fixed_literals(tsf: TsFile) -> Iterator[tuple[str, int]]:
    """The same in a TypeScript/JavaScript file: a string that is the value of a `const` or of an
    object's property. A fallback (`props.name ?? "orders"`) is not, and neither is a property of
    an object that is itself the value of another's property (a per-environment config map) or a
    class field's initial value."""
    for node in tsf.nodes("string"):
        text = tsf.string(node)
        parent = node.parent
        if text is None or len(text) < 3 or parent is None:
            continue
        if parent.type == "variable_declarator" and parent.child_by_field_name("value") == node:
            yield text, tsf.line(node)
        elif parent.type == "pair" and parent.child_by_field_name("value") == node:
            obj = parent.parent
            outer = obj.parent if obj is not None else None
            if outer is None or outer.type != "pair":
                yield text, tsf.line(node)


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
