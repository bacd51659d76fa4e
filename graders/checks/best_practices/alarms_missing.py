"""alarms-missing: a workload with no CloudWatch alarm at all."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.functions import FUNCTION_CALLS
from iacgrade.graders.analysis.model import AnswerModel, construct_name, names_list
from iacgrade.graders.analysis.pyast import call_name, dotted, walk
from iacgrade.graders.analysis.stacks import stack_class_evidence
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import check
from iacgrade.graders.models import Evidence


@check("alarms-missing", lenses=("source", "template"), kinds=("cdk-python",))
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
    index = AnswerModel.of(ctx)
    if ctx.template.present:
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
    evidence = stack_class_evidence(ctx, index, "no cloudwatch.Alarm / create_alarm") or [
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


def _modules_never_given(ctx: CheckContext, index: AnswerModel) -> list[str]:
    """When a file of the answer is cut off mid-statement: the modules of its own package that
    the answer imports but never gives (the part the answer did not reach)."""
    if not any(src.tree is None for src in ctx.source.files):
        return []
    given = {
        src.path[: -len(".py")].replace("/", ".") for src in ctx.source.files if src.path.endswith(".py")
    }
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
    return any(src.tree is None and pattern.search(src.text) for src in ctx.source.files)


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


def _alarms_template(ctx: CheckContext, index: AnswerModel) -> list[Hit]:
    if any(True for _ in ctx.template.resources(*_ALARM_TYPES, include_helpers=True)):
        return []
    by_stack: dict[str, list[Resource]] = {}
    for res in ctx.template.resources(*_WORKLOAD_TYPES):
        by_stack.setdefault(res.stack, []).append(res)
    if not by_stack:
        return []
    evidence = [
        Evidence(
            stack=stack,
            value="no AWS::CloudWatch::Alarm; workload: "
            + names_list((f"{_WORKLOAD_TYPES[r.type]} {construct_name(r)}" for r in res), 4),
        )
        for stack, res in sorted(by_stack.items())
    ]
    every = [r for res in by_stack.values() for r in res]
    message = f"No CloudWatch alarm in {names_list(sorted(by_stack))}, for a workload of " + names_list(
        (f"{_WORKLOAD_TYPES[r.type]} {construct_name(r)}" for r in every), 5
    )
    hits = [Hit(message, evidence, key="alarms-missing", lens="template")]
    src_ev = stack_class_evidence(ctx, index, "no cloudwatch.Alarm / create_alarm")
    if src_ev:
        hits.append(Hit(message, src_ev[:5], key="alarms-missing", lens="source"))
    return hits
