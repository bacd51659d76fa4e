"""iam-wildcard-resource: iAM Allow statements on ``Resource: "*"`` for actions that could be scoped to ARNs."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.iam_statements import (
    Group,
    SrcStatement,
    answer_strings,
    merge,
    quote,
    source_statements,
    source_where,
    template_statements,
)
from iacgrade.graders.checks import check

# =====================================================================================
# iam-wildcard-resource
# =====================================================================================


@check(
    "iam-wildcard-resource",
    lenses=("source", "template"),
    kinds=("cdk-python", "cdk-typescript", "cdk-javascript"),
)
def iam_wildcard_resource(ctx: CheckContext) -> Iterator[Hit]:
    """IAM Allow statements on ``Resource: "*"`` for actions that could be scoped to ARNs.

    What it finds: Allow statements in identity policies (role/user/group policies) whose
    Resource is ``*`` and that include at least one action that supports resource-level
    permissions, in the template and in the source (CDK Python, TypeScript and JavaScript
    statements, as for iam-wildcard-action). Actions that only work with ``*`` (``xray:PutTraceSegments``,
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
    cfn: dict[str, Group] = {}
    for stmt in template_statements(ctx):
        if not stmt.identity or not stmt.allow or "*" not in stmt.resources or "Condition" in stmt.statement:
            continue
        scopable = [a for a in stmt.actions if not is_unscoped_action(a)]
        if not scopable:
            continue
        key = f"wildcard-resource:{stmt.holder.logical_id}"
        group = cfn.get(key)
        if group is None:
            group = cfn[key] = Group(key, "", set(), [], stmt.owners)
        group.flagged.update(scopable)
        ev = stmt.holder.evidence(value=f"Resource * for {', '.join(scopable)}")
        if ev not in group.evidence:
            group.evidence.append(ev)
        group.message = f"{quote(group.flagged)} allowed on `Resource: *` in {stmt.where()}"
    items = []
    for s in source_statements(ctx):
        if s.deny or s.principals or s.conditions or s.star_resource is None:
            continue
        scopable = [a for a, _ in s.actions if not is_unscoped_action(a)]
        if scopable:
            items.append((s, scopable))

    def describe(key: str, group: list[tuple[SrcStatement, list[str]]]) -> str:
        actions = {a for _, flagged in group for a in flagged}
        written = 'resources=["*"]' if group[0][0].src.path.endswith(".py") else 'resources: ["*"]'
        return f"{quote(actions)} allowed on `{written}` by {source_where(key, group)}"

    strings = answer_strings(ctx)

    def corroborated(group: Group) -> bool:
        # "*" written by CDK itself (ECS Exec, VPC access) comes with actions the answer never typed
        return any(a.lower() in strings for a in group.flagged)

    yield from merge(ctx, list(cfn.values()), items, describe, "wildcard-resource", corroborated)


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
    "ssm:describeparameters", "ssm:describeinstanceinformation",
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
    "iam:listvirtualmfadevices",
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
