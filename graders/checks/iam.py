"""IAM checks: wildcard actions, wildcard resources and broad AWS managed policies."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from graders.checks import check
from graders.checks._ast import call_name, construct_id, dotted, kwarg, walk
from graders.checks._cfn import as_list, is_intrinsic, plain_strings, policy_statements
from graders.checks._scope import (
    SourceIndex,
    best_matches,
    describe,
    display_name,
    index_sources,
    method_receiver,
)
from graders.checks.context import CheckContext, Hit, Resource, SourceFile
from graders.models import Evidence

# Where policy documents sit in a template: (resource type, property path, identity policy?).
# Identity policies are attached to principals; resource policies carry their own Principal.
_IDENTITY_DOCS: dict[str, tuple[str, ...]] = {
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::IAM::RolePolicy": ("PolicyDocument",),
    "AWS::IAM::UserPolicy": ("PolicyDocument",),
    "AWS::IAM::GroupPolicy": ("PolicyDocument",),
}
_INLINE_HOLDERS = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")
_RESOURCE_DOCS: dict[str, tuple[str, ...]] = {
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::SecretsManager::ResourcePolicy": ("ResourcePolicy",),
    "AWS::ECR::Repository": ("RepositoryPolicyText",),
    "AWS::OpenSearchService::Domain": ("AccessPolicies",),
    "AWS::Elasticsearch::Domain": ("AccessPolicies",),
    "AWS::ApiGateway::RestApi": ("Policy",),
    "AWS::Logs::ResourcePolicy": ("PolicyDocument",),
    "AWS::Backup::BackupVault": ("AccessPolicy",),
    "AWS::EFS::FileSystem": ("FileSystemPolicy",),
    "AWS::DynamoDB::Table": ("ResourcePolicy", "PolicyDocument"),
    "AWS::Events::EventBusPolicy": (),
}
_ADD_METHODS = (
    "add_to_policy",
    "add_to_role_policy",
    "add_to_principal_policy",
    "add_to_resource_policy",
    "add_statements",
    "add_to_principal_or_resource",
)
# "*" or "<service>:*"; service prefixes are lower case ("Update:*" is a stack-policy action).
_WILDCARD_ACTION = re.compile(r"^(\*|[a-z0-9-]+:\*)$")
_ENDPOINT = re.compile(r"V[Pp][Cc]Endpoint|add_(gateway|interface)_endpoint")

# Actions that only accept ``"Resource": "*"``: in the AWS Service Authorization Reference their
# "Resource types" column is empty, so "*" is the only possible resource. Lower-case patterns.
# The Lambda-in-VPC network-interface actions are added on purpose: they take ENI/subnet ARNs in
# theory, but AWS's own AWSLambdaVPCAccessExecutionRole grants them on "*" because the ENIs do
# not exist before the function runs; a reviewer would not ask for more.
# fmt: off
UNSCOPED_ACTIONS: tuple[str, ...] = (
    "xray:puttracesegments", "xray:puttelemetryrecords", "xray:getsamplingrules", "xray:getsamplingtargets",
    "xray:getsamplingstatisticsummaries", "xray:getservicegraph", "xray:gettracesummaries",
    "xray:batchgettraces", "xray:gettracegraph", "xray:getgroups",
    "cloudwatch:putmetricdata", "cloudwatch:getmetricdata", "cloudwatch:getmetricstatistics",
    "cloudwatch:listmetrics", "cloudwatch:getmetricwidgetimage", "cloudwatch:listdashboards",
    "cloudwatch:describealarmsformetric",
    "ec2:describe*", "ec2:createnetworkinterface", "ec2:deletenetworkinterface",
    "ec2:assignprivateipaddresses", "ec2:unassignprivateipaddresses",
    "ec2:getinstancetypesfrominstancerequirements",
    "autoscaling:describe*", "elasticloadbalancing:describe*", "application-autoscaling:describe*",
    "ecr:getauthorizationtoken",
    "sts:getcalleridentity", "sts:getsessiontoken",
    "ssm:describeparameters",
    "ssmmessages:createcontrolchannel", "ssmmessages:createdatachannel", "ssmmessages:opencontrolchannel",
    "ssmmessages:opendatachannel",
    "kms:listkeys", "kms:listaliases", "kms:createkey", "kms:generaterandom", "kms:describecustomkeystores",
    "s3:listallmybuckets", "s3:getaccountpublicaccessblock", "s3:putaccountpublicaccessblock",
    "s3:listaccesspoints", "s3:listjobs", "s3:createjob",
    "logs:describeloggroups", "logs:describeresourcepolicies", "logs:putresourcepolicy", "logs:deleteresourcepolicy",
    "logs:describeexporttasks", "logs:describequerydefinitions", "logs:getqueryresults", "logs:stopquery",
    "logs:testmetricfilter", "logs:createlogdelivery", "logs:getlogdelivery", "logs:updatelogdelivery",
    "logs:deletelogdelivery", "logs:listlogdeliveries", "logs:describequeries",
    "secretsmanager:getrandompassword", "secretsmanager:listsecrets", "secretsmanager:batchgetsecretvalue",
    "lambda:listfunctions", "lambda:getaccountsettings", "lambda:listeventsourcemappings",
    "lambda:createeventsourcemapping", "lambda:listlayers", "lambda:listlayerversions",
    "dynamodb:listtables", "dynamodb:describelimits", "dynamodb:listglobaltables", "dynamodb:describeendpoints",
    "dynamodb:listbackups", "dynamodb:liststreams", "dynamodb:listexports", "dynamodb:listimports",
    "dynamodb:describereservedcapacity*",
    "sns:listtopics", "sns:listsubscriptions", "sns:getsmsattributes", "sns:setsmsattributes",
    "sns:checkifphonenumberisoptedout", "sns:listphonenumbersoptedout",
    "sqs:listqueues",
    "config:describecompliancebyresource", "config:getcompliancedetailsbyresource", "config:putevaluations",
    "states:liststatemachines", "states:listactivities", "states:sendtasksuccess", "states:sendtaskfailure",
    "states:sendtaskheartbeat",
    "events:putpartnerevents", "events:listeventbuses", "events:testeventpattern",
    "cloudformation:liststacks", "cloudformation:validatetemplate", "cloudformation:listexports",
    "iam:listroles", "iam:listpolicies", "iam:listusers", "iam:getaccountsummary", "iam:listaccountaliases",
    "iam:getaccountpasswordpolicy", "iam:generatecredentialreport", "iam:getcredentialreport",
    "tag:getresources", "tag:tagresources", "tag:untagresources", "tag:gettagkeys", "tag:gettagvalues",
    "ecs:listclusters", "ecs:describetaskdefinition", "ecs:registertaskdefinition",
    "ecs:deregistertaskdefinition", "ecs:listtaskdefinitions", "ecs:discoverpollendpoint",
    "ecs:createcluster", "ecs:listtaskdefinitionfamilies",
    "kinesis:liststreams", "kinesis:describelimits",
    "rds:describedbengineversions", "rds:describeorderabledbinstanceoptions",
    "rds:describeenginedefaultparameters", "rds:describeaccountattributes", "rds:describecertificates",
    "cloudfront:listdistributions",
    "route53:listhostedzones", "route53:listhostedzonesbyname", "route53:gethostedzonecount",
    "acm:listcertificates", "acm:requestcertificate",
    "servicediscovery:discoverinstances", "servicediscovery:listnamespaces", "servicediscovery:listservices",
    "codebuild:listprojects", "codebuild:listbuilds", "codebuild:listcuratedenvironmentimages",
    "cognito-idp:listuserpools",
    "es:listdomainnames", "es:createelasticsearchservicerole",
    "translate:translatetext", "comprehend:detect*", "comprehend:batchdetect*",
    "rekognition:detectlabels", "rekognition:detectfaces", "rekognition:detecttext",
    "rekognition:detectmoderationlabels", "rekognition:recognizecelebrities", "rekognition:comparefaces",
    "textract:detectdocumenttext", "textract:analyzedocument", "textract:startdocumenttextdetection",
    "textract:getdocumenttextdetection", "textract:startdocumentanalysis", "textract:getdocumentanalysis",
    "textract:analyzeexpense", "textract:analyzeid",
    "pricing:*", "ce:*", "health:describe*", "support:*",
)
# fmt: on


def is_unscoped_action(action: str) -> bool:
    """True when the action only works with ``Resource: "*"`` (see UNSCOPED_ACTIONS)."""
    act = action.lower()
    if "*" in act:
        # a wildcard action is unscoped only when everything it covers is
        return any(p.endswith("*") and act.startswith(p[:-1]) and act.endswith("*") for p in UNSCOPED_ACTIONS)
    return any(fnmatchcase(act, p) for p in UNSCOPED_ACTIONS)


# =====================================================================================
# Statements from the template and from the source
# =====================================================================================


@dataclass
class _CfnStatement:
    holder: Resource
    owners: list[Resource]
    identity: bool
    statement: dict[str, Any]

    @property
    def allow(self) -> bool:
        return self.statement.get("Effect") != "Deny"

    @property
    def actions(self) -> list[str]:
        return [a for a in as_list(self.statement.get("Action")) if isinstance(a, str)]

    @property
    def resources(self) -> list[Any]:
        return as_list(self.statement.get("Resource"))

    @property
    def account_root_kms(self) -> bool:
        """The standard key-policy statement: ``kms:*`` for the account root."""
        principal = self.statement.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else None
        roots = [p for v in as_list(aws) for p in _texts(v) if p.endswith(":root")]
        return bool(roots) and all(a.lower() == "kms:*" for a in self.actions if _WILDCARD_ACTION.match(a))

    def where(self) -> str:
        attached = [o for o in self.owners if o is not self.holder]
        if attached:
            names = ", ".join(display_name(o) for o in attached[:3])
            return f"{describe(self.holder)}, attached to {names}"
        return describe(self.holder)


def _texts(value: Any) -> Iterator[str]:
    """A string, or a Fn::Join's parts with intrinsics shown as ``${Ref}`` / ``${Id.Attr}``."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and "Fn::Join" in value:
        parts = value["Fn::Join"]
        if isinstance(parts, list) and len(parts) == 2 and isinstance(parts[1], list):
            sep = parts[0] if isinstance(parts[0], str) else ""
            yield sep.join(_token(p) for p in parts[1])


def _token(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and isinstance(value.get("Fn::GetAtt"), list):
        return "${" + ".".join(str(p) for p in value["Fn::GetAtt"]) + "}"
    return "${...}"


def _template_statements(ctx: CheckContext) -> Iterator[_CfnStatement]:
    by_id = {(r.stack, r.logical_id): r for r in ctx.resources()}
    for res in ctx.resources():
        if res.type in _IDENTITY_DOCS:
            owners = [res, *_attached(res, by_id)]
            for stmt in policy_statements(_document(res.properties, _IDENTITY_DOCS[res.type])):
                yield _CfnStatement(res, owners, True, stmt)
        elif res.type in _INLINE_HOLDERS:
            for policy in as_list(res.properties.get("Policies")):
                if isinstance(policy, dict):
                    for stmt in policy_statements(_document(policy, ("PolicyDocument",))):
                        yield _CfnStatement(res, [res], True, stmt)
        if res.type in _RESOURCE_DOCS:
            path = _RESOURCE_DOCS[res.type]
            doc = {"Statement": res.properties} if not path else _document(res.properties, path)
            for stmt in policy_statements(doc):
                yield _CfnStatement(res, [res], False, stmt)


def _document(props: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = props
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, str):  # AWS::Logs::ResourcePolicy and a few others take JSON text
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value


def _attached(res: Resource, by_id: dict[tuple[str, str], Resource]) -> list[Resource]:
    """The roles/users/groups an AWS::IAM::Policy is attached to (by Ref)."""
    out = []
    for key in ("Roles", "Users", "Groups"):
        for ref in as_list(res.properties.get(key)):
            if isinstance(ref, dict) and isinstance(ref.get("Ref"), str):
                target = by_id.get((res.stack, ref["Ref"]))
                if target is not None:
                    out.append(target)
    return out


@dataclass
class _SrcStatement:
    """A policy statement the source writes (PolicyStatement call or a JSON-shaped dict)."""

    idx: SourceIndex
    node: ast.AST
    deny: bool = False
    actions: list[tuple[str, ast.AST]] = field(default_factory=list)
    star_resource: ast.AST | None = None
    principals: bool = False
    account_root: bool = False
    conditions: bool = False
    owner: str | None = None

    @property
    def src(self) -> SourceFile:
        return self.idx.src


def _source_statements(ctx: CheckContext) -> list[_SrcStatement]:
    out: list[_SrcStatement] = []
    for idx in index_sources(ctx.parsed()):
        if not idx.imports_cdk:
            continue  # Lambda handlers build policy-shaped dicts (authorizer responses) too
        for call in idx.calls("PolicyStatement"):
            out.append(_from_policy_statement(idx, call))
        for call in idx.calls("add_to_principal"):
            if dotted(call.func).endswith("Grant.add_to_principal"):
                out.append(_from_grant(idx, call))
        for node in walk(idx.tree):
            if isinstance(node, ast.Dict) and _is_statement_dict(node):
                out.append(_from_dict(idx, node))
    kept = []
    for stmt in out:
        if _is_dead(stmt.idx, stmt.node):
            continue  # built but never attached to anything: it grants nothing
        owner = _owner_call(stmt.idx, stmt.node)
        if owner is not None and _ENDPOINT.search(call_name(owner)):
            continue  # a VPC endpoint policy filters traffic; AWS's default one allows "*"
        if stmt.owner is None:
            stmt.owner = construct_id(owner) if owner is not None else None
        kept.append(stmt)
    return kept


def _strings(idx: SourceIndex, node: ast.AST | None) -> list[tuple[str, ast.AST]]:
    """Literal strings of a str / list / tuple value (names resolved), with their nodes."""
    if node is None:
        return []
    value = idx.resolve(node) if isinstance(node, ast.expr) else node
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [(value.value, node)]
    if isinstance(value, ast.List | ast.Tuple):
        out: list[tuple[str, ast.AST]] = []
        for elt in value.elts:
            out += _strings(idx, elt)
        return out
    return []


def _from_policy_statement(idx: SourceIndex, call: ast.Call) -> _SrcStatement:
    stmt = _SrcStatement(idx, call)
    effect = kwarg(call, "effect")
    stmt.deny = effect is not None and dotted(idx.resolve(effect)).endswith("DENY")
    stmt.actions = _strings(idx, kwarg(call, "actions"))
    stmt.star_resource = next((n for s, n in _strings(idx, kwarg(call, "resources")) if s == "*"), None)
    stmt.conditions = kwarg(call, "conditions") is not None
    principals = kwarg(call, "principals")
    stmt.principals = principals is not None
    stmt.account_root = principals is not None and _names_account_root(idx, principals)
    # statement built step by step: stmt = PolicyStatement(); stmt.add_actions("s3:*"); ...
    parent = idx.parent(call)
    if (
        isinstance(parent, ast.Assign)
        and len(parent.targets) == 1
        and isinstance(parent.targets[0], ast.Name)
    ):
        for use in idx.usages(parent.targets[0].id, idx.scope_of(call)):
            method = idx.parent(use)
            caller = idx.parent(method) if isinstance(method, ast.Attribute) else None
            if not isinstance(caller, ast.Call) or not isinstance(method, ast.Attribute):
                continue
            if method.attr == "add_actions":
                for arg in caller.args:
                    stmt.actions += _strings(idx, arg)
            elif method.attr == "add_resources":
                stmt.star_resource = stmt.star_resource or next(
                    (a for a in caller.args if isinstance(a, ast.Constant) and a.value == "*"), None
                )
            elif method.attr in ("add_condition", "add_conditions"):
                stmt.conditions = True
            elif method.attr == "add_all_resources":
                stmt.star_resource = stmt.star_resource or caller
            elif method.attr.startswith("add_") and "principal" in method.attr:
                stmt.principals = True
                stmt.account_root = stmt.account_root or method.attr == "add_account_root_principal"
    return stmt


def _from_grant(idx: SourceIndex, call: ast.Call) -> _SrcStatement:
    stmt = _SrcStatement(idx, call)
    stmt.actions = _strings(idx, kwarg(call, "actions"))
    stmt.star_resource = next((n for s, n in _strings(idx, kwarg(call, "resource_arns")) if s == "*"), None)
    grantee = kwarg(call, "grantee")
    stmt.owner = idx.construct_id_of(grantee) if grantee is not None else None
    return stmt


def _is_statement_dict(node: ast.Dict) -> bool:
    keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
    return "Action" in keys and bool(keys & {"Effect", "Resource"})


def _from_dict(idx: SourceIndex, node: ast.Dict) -> _SrcStatement:
    stmt = _SrcStatement(idx, node)
    items = {k.value: v for k, v in zip(node.keys, node.values, strict=False) if isinstance(k, ast.Constant)}
    effect = _strings(idx, items.get("Effect"))
    stmt.deny = bool(effect) and effect[0][0] == "Deny"
    stmt.actions = _strings(idx, items.get("Action"))
    stmt.star_resource = next((n for s, n in _strings(idx, items.get("Resource")) if s == "*"), None)
    stmt.conditions = "Condition" in items
    principal = items.get("Principal")
    stmt.principals = principal is not None
    if principal is not None:
        stmt.account_root = _names_account_root(idx, principal)
    return stmt


def _names_account_root(idx: SourceIndex, node: ast.AST) -> bool:
    """``AccountRootPrincipal()``, ``AccountPrincipal(...)`` or an ARN ending in ``:root``."""
    for sub in walk(node):
        if isinstance(sub, ast.Call) and call_name(sub) in ("AccountRootPrincipal", "AccountPrincipal"):
            return True
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value.endswith(":root"):
            return True
    return False


def _is_dead(idx: SourceIndex, node: ast.AST, depth: int = 0) -> bool:
    """The value is stored in a variable or attribute nobody reads, or returned by a helper
    whose results all are (or that nobody calls)."""
    stmt = next((a for a in idx.ancestors(node) if isinstance(a, ast.stmt)), None)
    if depth > 3 or stmt is None:
        return False
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            return next(idx.usages(target.id, idx.scope_of(stmt)), None) is None
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
        ):
            return not idx.reads_attribute(target.attr)
        return False
    if isinstance(stmt, ast.Return):
        func = idx.scope_of(stmt)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            return all(_is_dead(idx, call, depth + 1) for call in idx.calls(func.name))
    return False


def _owner(idx: SourceIndex, node: ast.AST) -> str | None:
    call = _owner_call(idx, node)
    return construct_id(call) if call is not None else None


def _owner_call(idx: SourceIndex, node: ast.AST, depth: int = 0) -> ast.Call | None:
    """The construct a statement ends up in: the role/function/bucket it is added to, or the
    Role/Policy/ManagedPolicy it is passed to; followed through a variable or a helper's return."""
    if depth > 3:
        return None
    for anc in idx.ancestors(node):
        if isinstance(anc, ast.Call):
            receiver = method_receiver(anc, *_ADD_METHODS)
            if receiver is not None:
                return idx.construct_call(receiver)
            if construct_id(anc) is not None:
                return anc
        if isinstance(anc, ast.stmt):
            return _owner_through(idx, anc, depth)
    return None


def _owner_through(idx: SourceIndex, stmt: ast.stmt, depth: int) -> ast.Call | None:
    """Follow ``x = <statement>`` to the uses of x, and ``return <statement>`` to the callers."""
    uses: list[ast.AST] = []
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        uses = list(idx.usages(stmt.targets[0].id, idx.scope_of(stmt)))
    elif isinstance(stmt, ast.Return):
        func = idx.scope_of(stmt)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            uses = list(idx.calls(func.name))
    for use in uses:
        found = _owner_call(idx, use, depth + 1)
        if found is not None:
            return found
    return None


# =====================================================================================
# Grouping per policy holder and merging the lenses
# =====================================================================================


@dataclass
class _Group:
    """What one check flags in one policy holder: one finding."""

    key: str
    message: str
    flagged: set[str]
    evidence: list[Evidence]
    owners: list[Resource] = field(default_factory=list)


def _merge(
    ctx: CheckContext,
    cfn_groups: list[_Group],
    src_items: list[tuple[_SrcStatement, list[str]]],
    describe_source: Callable[[str, list[tuple[_SrcStatement, list[str]]]], str],
    lens_check: str,
    corroborated: Callable[[_Group], bool],
) -> Iterator[Hit]:
    """Template groups first (they decide when a template exists), then source evidence.

    A source statement joins the template group whose holder matches its owner construct and
    that flags one of the same actions; failing that, the only group that flags that action.
    With a template, a source statement that joins no group is dropped (the stack is not
    instantiated, or the statement never reached the template), and a template group no source
    statement joins is kept only when ``corroborated`` says the answer asked for it: CDK writes
    statements of its own (ECS Exec, tracing, VPC access) that are not the answer's choice.
    Without a template, source statements are grouped by owner and reported on their own.
    """
    by_key: dict[str, list[tuple[_SrcStatement, list[str]]]] = {}
    for stmt, flagged in src_items:
        if ctx.has_template:
            group = _join(stmt, flagged, cfn_groups)
            if group is None:
                continue
            key = group.key
        else:
            where = stmt.owner or f"{stmt.src.path}:{getattr(stmt.node, 'lineno', 0)}"
            key = f"{lens_check}:{where}"
        by_key.setdefault(key, []).append((stmt, flagged))
    for group in cfn_groups:
        if group.key in by_key or corroborated(group):
            yield Hit(group.message, group.evidence, key=group.key, lens="template")
    cfn_messages = {g.key: g.message for g in cfn_groups}
    for key, items in by_key.items():
        message = cfn_messages.get(key) or describe_source(key, items)
        evidence = [ctx.at(s.src, n, value=a) for s, flagged in items for a, n in s.actions if a in flagged]
        if not evidence:
            evidence = [ctx.at(s.src, s.node) for s, _ in items]
        yield Hit(message, evidence, key=key, lens="source")


def _answer_strings(ctx: CheckContext) -> set[str]:
    """Every string literal of the answer's infrastructure code, lower-cased."""
    return {text.lower() for idx in index_sources(ctx.parsed()) for text in idx.strings}


def _answer_calls(ctx: CheckContext, *names: str) -> bool:
    return any(idx.calls(*names) for idx in index_sources(ctx.parsed()))


def _join(stmt: _SrcStatement, flagged: list[str], groups: list[_Group]) -> _Group | None:
    wanted = {a.lower() for a in flagged}
    sharing = [g for g in groups if wanted & {a.lower() for a in g.flagged}]
    if stmt.owner:
        owners = [r for g in sharing for r in g.owners]
        best = {id(r) for r in best_matches(owners, stmt.owner)}
        matched = [g for g in sharing if any(id(r) in best for r in g.owners)]
        if matched:
            return min(matched, key=lambda g: len(g.key))
    return sharing[0] if len(sharing) == 1 else None


def _show(values: list[Any], limit: int = 2) -> str:
    shown = []
    for value in values[:limit]:
        if isinstance(value, str):
            shown.append(value)
        elif isinstance(value, dict) and "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            shown.append(".".join(str(p) for p in value["Fn::GetAtt"]))
        elif isinstance(value, dict) and "Ref" in value:
            shown.append(str(value["Ref"]))
        else:
            shown.append("".join(_texts(value)) or "(intrinsic)")
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(shown) + more


def _quote(actions: list[str] | set[str]) -> str:
    return ", ".join(f"`{a}`" for a in sorted(actions))


def _source_where(key: str, items: list[tuple[_SrcStatement, list[str]]]) -> str:
    owner = items[0][0].owner
    lines = sorted({getattr(s.node, "lineno", 0) for s, _ in items})
    at = f"{items[0][0].src.path}:{','.join(map(str, lines))}"
    return f"the statement{'s' if len(lines) > 1 else ''} at {at}" + (f" (added to {owner})" if owner else "")


# =====================================================================================
# iam-wildcard-action
# =====================================================================================


@check("iam-wildcard-action", lenses=("source", "template"))
def iam_wildcard_action(ctx: CheckContext) -> Iterator[Hit]:
    """IAM Allow statements that grant every action (``*``) or every action of a service (``s3:*``).

    What it finds: Allow statements whose Action is ``*`` or ``<service>:*`` in identity
    policies (role/user/group inline policies, AWS::IAM::Policy, managed policies) and in
    resource policies (bucket, queue, topic, key, secret, repository, domain, API policies).
    The template decides when there is one, including ``*`` actions that grants such as
    ``grant_full_access`` produce; the source gives file:line for ``PolicyStatement(actions=...)``,
    ``add_actions``, ``Grant.add_to_principal`` and JSON-shaped policy dicts. Partial wildcards
    (``s3:Get*``, CDK's ``s3:List*`` grants), Deny statements and the standard key-policy
    statement that gives the account root ``kms:*`` are not reported.

    Why it matters: a wildcard grants every current and future action of the service, including
    destructive and permission-changing ones, far beyond what the code calls; least privilege is
    the first thing a security review checks.

    Bad example:

        fn.add_to_role_policy(iam.PolicyStatement(actions=["dynamodb:*"], resources=[table.table_arn]))

    Fix: list the actions the code calls (``dynamodb:GetItem``, ``dynamodb:PutItem``) or use the
    CDK grant that matches (``table.grant_read_write_data(fn)``).
    """
    cfn: dict[str, _Group] = {}
    for stmt in _template_statements(ctx):
        wild = [a for a in stmt.actions if _WILDCARD_ACTION.match(a)]
        if not stmt.allow or not wild or stmt.account_root_kms:
            continue
        key = f"wildcard-action:{stmt.holder.logical_id}"
        group = cfn.get(key)
        if group is None:
            group = cfn[key] = _Group(key, "", set(), [], stmt.owners)
        group.flagged.update(wild)
        ev = stmt.holder.evidence(value=f"Action {', '.join(wild)} on {_show(stmt.resources)}")
        if ev not in group.evidence:
            group.evidence.append(ev)
        whom = "" if stmt.identity else f" to principal {_principal(stmt.statement)}"
        group.message = f"{_quote(group.flagged)} allowed{whom} in {stmt.where()} on {_show(stmt.resources)}"
    items = []
    for s in _source_statements(ctx):
        wild = [a for a, _ in s.actions if _WILDCARD_ACTION.match(a)]
        if s.deny or not wild or (s.account_root and all(a.lower() == "kms:*" for a in wild)):
            continue
        items.append((s, wild))

    def describe(key: str, group: list[tuple[_SrcStatement, list[str]]]) -> str:
        actions = {a for _, w in group for a in w}
        return f"{_quote(actions)} allowed by {_source_where(key, group)}"

    strings = _answer_strings(ctx)
    full_access = _answer_calls(ctx, "grant_full_access")

    def corroborated(group: _Group) -> bool:
        # the answer typed the wildcard, or asked for it through grant_full_access
        return full_access or any(a.lower() in strings for a in group.flagged)

    yield from _merge(ctx, list(cfn.values()), items, describe, "wildcard-action", corroborated)


def _principal(statement: dict[str, Any]) -> str:
    principal = statement.get("Principal")
    if principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*"):
        return "`*` (anyone)"
    if isinstance(principal, dict):
        parts = [f"{k}: {_show(as_list(v), 1)}" for k, v in principal.items()]
        return "; ".join(parts)
    return str(principal)


# =====================================================================================
# iam-wildcard-resource
# =====================================================================================


@check("iam-wildcard-resource", lenses=("source", "template"))
def iam_wildcard_resource(ctx: CheckContext) -> Iterator[Hit]:
    """IAM Allow statements on ``Resource: "*"`` for actions that could be scoped to ARNs.

    What it finds: Allow statements in identity policies (role/user/group policies) whose
    Resource is ``*`` and that include at least one action that supports resource-level
    permissions. Actions that only work with ``*`` (``xray:PutTraceSegments``,
    ``cloudwatch:PutMetricData``, ``ecr:GetAuthorizationToken``, ``ec2:Describe*``, ... — the
    documented UNSCOPED_ACTIONS list in this module, from the AWS Service Authorization
    Reference) are not reported, so CDK's own tracing statements never are. Resource policies
    are left out: there ``*`` names the resource the policy is attached to.

    Why it matters: a statement on every resource lets the principal read or change every table,
    bucket or queue of that kind in the account, not just the one the workload owns, so one
    compromised function reaches all of them.

    Bad example:

        role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=["*"]))

    Fix: name the ARNs (``resources=[table.table_arn]``) or use a CDK grant
    (``table.grant_write_data(role)``), which scopes the statement for you.
    """
    cfn: dict[str, _Group] = {}
    for stmt in _template_statements(ctx):
        if not stmt.identity or not stmt.allow or "*" not in stmt.resources or "Condition" in stmt.statement:
            continue
        scopable = [a for a in stmt.actions if not is_unscoped_action(a)]
        if not scopable:
            continue
        key = f"wildcard-resource:{stmt.holder.logical_id}"
        group = cfn.get(key)
        if group is None:
            group = cfn[key] = _Group(key, "", set(), [], stmt.owners)
        group.flagged.update(scopable)
        ev = stmt.holder.evidence(value=f"Resource * for {', '.join(scopable)}")
        if ev not in group.evidence:
            group.evidence.append(ev)
        group.message = f"{_quote(group.flagged)} allowed on `Resource: *` in {stmt.where()}"
    items = []
    for s in _source_statements(ctx):
        if s.deny or s.principals or s.conditions or s.star_resource is None:
            continue
        scopable = [a for a, _ in s.actions if not is_unscoped_action(a)]
        if scopable:
            items.append((s, scopable))

    def describe(key: str, group: list[tuple[_SrcStatement, list[str]]]) -> str:
        actions = {a for _, flagged in group for a in flagged}
        return f'{_quote(actions)} allowed on `resources=["*"]` by {_source_where(key, group)}'

    strings = _answer_strings(ctx)

    def corroborated(group: _Group) -> bool:
        # "*" written by CDK itself (ECS Exec, VPC access) comes with actions the answer never typed
        return any(a.lower() in strings for a in group.flagged)

    yield from _merge(ctx, list(cfn.values()), items, describe, "wildcard-resource", corroborated)


# =====================================================================================
# broad-managed-policy
# =====================================================================================

_AWS_POLICY = re.compile(r":iam::aws:policy/([\w+=,.@/-]+)$")


@check("broad-managed-policy", lenses=("source", "template"))
def broad_managed_policy(ctx: CheckContext) -> Iterator[Hit]:
    """Roles, users or groups given AdministratorAccess, PowerUserAccess or a ``*FullAccess`` policy.

    What it finds: AWS managed policies named in the rubric (AdministratorAccess,
    PowerUserAccess, IAMFullAccess) or ending in a broad suffix (``FullAccess``:
    AmazonS3FullAccess, AmazonDynamoDBFullAccess, ...) attached through ``managed_policies=``,
    ``add_managed_policy`` or ``ManagedPolicyArns``. Narrow managed policies such as
    AWSLambdaBasicExecutionRole or AmazonECSTaskExecutionRolePolicy are not reported.

    Why it matters: these policies grant every action on every resource of a service (or of the
    account), so the workload can read, change or delete data it has nothing to do with.

    Bad example:

        iam.Role(self, "DaxRole", assumed_by=iam.ServicePrincipal("dax.amazonaws.com"),
                 managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonDynamoDBFullAccess")])

    Fix: replace it with a policy that lists the actions on the resources used, or with CDK grants
    (``table.grant_read_write_data(role)``).
    """
    exact = set(ctx.option("broad-managed-policy", "policies", ["AdministratorAccess", "PowerUserAccess"]))
    suffixes = tuple(ctx.option("broad-managed-policy", "suffixes", ["FullAccess"]))

    def broad(name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        return base in exact or base.endswith(suffixes)

    cfn: dict[str, _Group] = {}
    for res in ctx.resources(*_INLINE_HOLDERS):
        for arn in as_list(res.properties.get("ManagedPolicyArns")):
            name = _managed_name(arn)
            if name is None or not broad(name):
                continue
            key = f"managed:{res.logical_id}:{name}"
            who = describe(res)
            cfn[key] = _Group(
                key,
                f"{res.type.rsplit('::', 1)[-1].lower()} {who} has the AWS managed policy {name}",
                {name.rsplit("/", 1)[-1]},
                [res.evidence(value=f"ManagedPolicyArns {name}")],
                [res],
            )
    items = []
    for src_item in _source_managed(ctx):
        if broad(src_item[1]):
            items.append(src_item)
    yield from _merge_managed(ctx, list(cfn.values()), items)


def _managed_name(arn: Any) -> str | None:
    for text in _texts(arn):
        match = _AWS_POLICY.search(text)
        if match:
            return match.group(1)
    if is_intrinsic(arn):
        for text in plain_strings(arn):
            match = _AWS_POLICY.search(text)
            if match:
                return match.group(1)
    return None


def _source_managed(ctx: CheckContext) -> Iterator[tuple[_SrcStatement, str]]:
    """(statement-like record, policy name) for each AWS managed policy the source names."""
    for idx in index_sources(ctx.parsed()):
        for call in idx.calls("from_aws_managed_policy_name", "from_managed_policy_arn"):
            args = list(call.args)
            arg = (
                (args[0] if args else kwarg(call, "managed_policy_name"))
                if call_name(call).startswith("from_aws")
                else (args[2] if len(args) > 2 else kwarg(call, "managed_policy_arn"))
            )
            name = _managed_name_from_source(idx, arg, call_name(call).startswith("from_aws"))
            if name is None:
                continue
            record = _SrcStatement(idx, call)
            record.actions = [(name.rsplit("/", 1)[-1], arg if arg is not None else call)]
            record.owner = _managed_owner(idx, call)
            yield record, name


def _managed_name_from_source(idx: SourceIndex, arg: ast.expr | None, bare: bool) -> str | None:
    if arg is None:
        return None
    value = idx.resolve(arg)
    if bare:
        return value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
    tail = "".join(v.value for v in walk(value) if isinstance(v, ast.Constant) and isinstance(v.value, str))
    match = _AWS_POLICY.search(tail)
    return match.group(1) if match else None


def _managed_owner(idx: SourceIndex, call: ast.Call) -> str | None:
    for anc in idx.ancestors(call):
        if isinstance(anc, ast.Call):
            receiver = method_receiver(anc, "add_managed_policy")
            if receiver is not None:
                return idx.construct_id_of(receiver)
            cid = construct_id(anc)
            if cid is not None:
                return cid
        if isinstance(anc, ast.stmt):
            return _owner(idx, call)
    return None


def _merge_managed(
    ctx: CheckContext, cfn_groups: list[_Group], items: list[tuple[_SrcStatement, str]]
) -> Iterator[Hit]:
    # Managed policies CDK attaches itself (a construct's default service role) are not the
    # answer's choice: a template finding needs the policy name somewhere in the answer's code.
    strings = " ".join(_answer_strings(ctx))
    for group in cfn_groups:
        if any(name.lower() in strings for name in group.flagged):
            yield Hit(group.message, group.evidence, key=group.key, lens="template")
    for record, name in items:
        base = name.rsplit("/", 1)[-1]
        if ctx.has_template:
            joined = _join(record, [base], cfn_groups)
            if joined is None:
                continue
            key, message = joined.key, joined.message
        else:
            key = f"managed:{record.owner or record.src.path}:{name}"
            line = getattr(record.node, "lineno", 0)
            holder = record.owner or f"a role at {record.src.path}:{line}"
            message = f"{holder} gets the AWS managed policy {name}"
        value = record.idx.segment(record.node, 100)
        yield Hit(message, [ctx.at(record.src, record.node, value=value)], key=key, lens="source")
