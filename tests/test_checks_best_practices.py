"""Edge cases of the best-practice checks that fixtures cannot express.

Hand-written templates stand in for synth output where the case is about CloudFormation shapes
(intrinsics, helper resources, aliases); a Workspace stands in for the answer's cdk.json context
and the scaffold entry.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from iacgrade.graders.checks import run_checks
from iacgrade.graders.models import Finding, Workspace
from tests.checkkit import make_context, run_check

MANAGED_FLAG = "@aws-cdk/aws-lambda:useCdkManagedLogGroup"


def _res(rtype: str, path: str, **props: Any) -> dict[str, Any]:
    return {"Type": rtype, "Properties": props, "Metadata": {"aws:cdk:path": f"Stack/{path}/Resource"}}


FN_ARN = {"Fn::GetAtt": ["WorkerA1B2C3D4", "Arn"]}
WORKER = _res("AWS::Lambda::Function", "Worker", MemorySize=256, Timeout=30)

# ---- tags-missing ---------------------------------------------------------------------------
STACK_ONLY = """
from aws_cdk import Stack
from aws_cdk import aws_ssm as ssm


class AppStack(Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        ssm.StringParameter(self, "Param", string_value="x")
"""


def test_tags_read_map_style_tags_and_ignore_key_case() -> None:
    resources = {
        "ParamA1B2C3D4": _res(
            "AWS::SSM::Parameter",
            "Param",
            Type="String",
            Value="x",
            Tags={"environment": "dev", "Owner": "a", "Project": "p"},
        ),
        "PolicyA1B2C3D4": _res("AWS::IAM::Policy", "Policy", PolicyName="p"),  # not taggable
    }
    assert run_check("tags-missing", {}, resources) == []


def test_tags_count_resources_and_keys() -> None:
    tagged = [
        {"Key": "Environment", "Value": "dev"},
        {"Key": "Owner", "Value": "a"},
        {"Key": "Project", "Value": "p"},
    ]
    resources = {
        "QueueA1B2C3D4": _res("AWS::SQS::Queue", "Queue", Tags=tagged),
        "TopicA1B2C3D4": _res("AWS::SNS::Topic", "Topic", Tags=tagged[:1]),
    }
    (finding,) = run_check("tags-missing", {}, resources)
    assert "Owner on 1 of 2 taggable resources" in finding.message and "Topic" in finding.message


def test_tags_with_unreadable_stack_tags_stay_silent() -> None:
    app = """
from aws_cdk import App
from lib.stack import AppStack

app = App()
AppStack(app, "App", tags=load_tags())
app.synth()
"""
    resources = {"QueueA1B2C3D4": _res("AWS::SQS::Queue", "Queue")}
    assert run_check("tags-missing", {"app.py": app, "lib/stack.py": STACK_ONLY}, resources) == []


def test_tags_source_lens_counts_the_scaffold_entry_tags(tmp_path: Path) -> None:
    (tmp_path / "tap.py").write_text(
        "from aws_cdk import App, Tags\napp = App()\nTags.of(app).add('Environment', 'dev')\n"
        "Tags.of(app).add('Owner', 'me')\nTags.of(app).add('Project', 'tap')\napp.synth()\n"
    )
    ws = Workspace(root=str(tmp_path), scaffold_files=["tap.py"], context_source="scaffold")
    files = {"lib/tap_stack.py": STACK_ONLY}
    assert run_check("tags-missing", files, workspace=None) != []  # scaffold unknown: the stack has no tags
    # The answer has no entry of its own, so the scaffold's app tags apply.
    assert _run_with_entry("tags-missing", files, ws) == []


def _run_with_entry(check_id: str, files: dict[str, str], ws: Workspace) -> list[Finding]:
    ctx = make_context(files)
    ctx.sample.entry_file = "tap.py"
    return run_check(check_id, ctx, workspace=ws)


# ---- log-retention-missing --------------------------------------------------------------------
FUNCTION_SRC = """
from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as _lambda


class AppStack(Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        _lambda.Function(self, "Worker", runtime=_lambda.Runtime.PYTHON_3_12, handler="i.h",
                         code=_lambda.Code.from_asset("src"), timeout=Duration.seconds(30))
"""


def test_function_logs_follow_the_managed_log_group_flag() -> None:
    files = {"lib/tap_stack.py": FUNCTION_SRC}
    assert run_check("log-retention-missing", files, workspace=None) == []  # flag unknown: silent
    on = Workspace(root="/nonexistent", context={MANAGED_FLAG: True}, context_source="scaffold")
    assert run_check("log-retention-missing", files, workspace=on) == []
    off = Workspace(root="/nonexistent", context={}, context_source="answer")
    (finding,) = run_check("log-retention-missing", files, workspace=off)
    assert "Worker" in finding.message and finding.lenses == ["source"]


def test_template_function_covered_by_log_group_or_log_retention() -> None:
    name = {"Fn::Join": ["", ["/aws/lambda/", {"Ref": "WorkerA1B2C3D4"}]]}
    with_group = {
        "WorkerA1B2C3D4": WORKER,
        "WorkerLogGroupA1B2C3D4": _res(
            "AWS::Logs::LogGroup", "Worker/LogGroup", LogGroupName=name, RetentionInDays=731
        ),
    }
    assert run_check("log-retention-missing", {}, with_group) == []
    with_retention = {
        "WorkerA1B2C3D4": WORKER,
        "WorkerLogRetentionA1B2C3D4": _res(
            "Custom::LogRetention", "Worker/LogRetention", LogGroupName=name, RetentionInDays=7
        ),
    }
    assert run_check("log-retention-missing", {}, with_retention) == []
    (finding,) = run_check("log-retention-missing", {}, {"WorkerA1B2C3D4": WORKER})
    assert "/aws/lambda/<name> never expires" in finding.message


def test_rds_exports_need_a_retention_for_their_groups() -> None:
    db = _res("AWS::RDS::DBInstance", "Db", EnableCloudwatchLogsExports=["postgresql"])
    (finding,) = run_check("log-retention-missing", {}, {"DbA1B2C3D4": db})
    assert "exports postgresql logs" in finding.message
    retention = _res(
        "Custom::LogRetention",
        "Db/LogRetentionpostgresql",
        RetentionInDays=30,
        LogGroupName={"Fn::Join": ["", ["/aws/rds/instance/", {"Ref": "DbA1B2C3D4"}, "/postgresql"]]},
    )
    assert run_check("log-retention-missing", {}, {"DbA1B2C3D4": db, "DbRetA1B2C3D4": retention}) == []


# ---- tracing-disabled ---------------------------------------------------------------------------
def test_tracing_ignores_helpers_and_reads_intrinsics() -> None:
    resources = {
        "WorkerA1B2C3D4": _res("AWS::Lambda::Function", "Worker", TracingConfig={"Mode": "Active"}),
        "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8aFD4BFC8A": _res(
            "AWS::Lambda::Function", "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"
        ),
        "StageA1B2C3D4": _res(
            "AWS::ApiGateway::Stage", "Api/DeploymentStage.prod", TracingEnabled={"Ref": "TraceParam"}
        ),
    }
    assert run_check("tracing-disabled", {}, resources) == []
    resources["StageA1B2C3D4"]["Properties"]["TracingEnabled"] = False
    (finding,) = run_check("tracing-disabled", {}, resources)
    assert "stage prod of Api" in finding.message


# ---- pitr-disabled --------------------------------------------------------------------------------
def test_pitr_global_table_replicas_and_conditions() -> None:
    on = {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}
    resources = {
        "GlobalA1B2C3D4": _res(
            "AWS::DynamoDB::GlobalTable", "Global", Replicas=[{"Region": "us-east-1", **on}]
        ),
        "CondA1B2C3D4": _res(
            "AWS::DynamoDB::Table",
            "Cond",
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": {"Fn::If": ["IsProd", True, False]}
            },
        ),
    }
    assert run_check("pitr-disabled", {}, resources) == []
    resources["GlobalA1B2C3D4"]["Properties"]["Replicas"] = [{"Region": "us-east-1"}]
    (finding,) = run_check("pitr-disabled", {}, resources)
    assert "Global" in finding.message and "Cond" not in finding.message


def test_pitr_source_leaves_unreadable_values_alone() -> None:
    src = """
from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb


class AppStack(Stack):
    def __init__(self, scope, construct_id, is_prod, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        dynamodb.Table(self, "Orders", partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
                       point_in_time_recovery=is_prod)
"""
    assert run_check("pitr-disabled", {"lib/tap_stack.py": src}) == []


# ---- alarms-missing -------------------------------------------------------------------------------
def test_step_scaling_alarms_count_as_alarms() -> None:
    resources = {
        "WorkerA1B2C3D4": WORKER,
        "ScalingUpperAlarmA1B2C3D4": _res(
            "AWS::CloudWatch::Alarm",
            "Service/TaskCount/Target/Scaling/UpperAlarm",
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            EvaluationPeriods=1,
        ),
    }
    assert run_check("alarms-missing", {}, resources) == []
    del resources["ScalingUpperAlarmA1B2C3D4"]
    (finding,) = run_check("alarms-missing", {}, resources)
    assert "Lambda function Worker" in finding.message


# ---- dlq-missing ---------------------------------------------------------------------------------
def _rule(**props: Any) -> dict[str, Any]:
    return _res("AWS::Events::Rule", "Rule", **props)


def test_dlq_schedule_rules_are_not_event_streams() -> None:
    resources = {
        "WorkerA1B2C3D4": WORKER,
        "RuleA1B2C3D4": _rule(ScheduleExpression="rate(1 hour)", Targets=[{"Arn": FN_ARN, "Id": "t"}]),
    }
    assert run_check("dlq-missing", {}, resources) == []


def test_dlq_rule_target_dead_letter_config_covers_the_rule() -> None:
    pattern = {"source": ["shop"]}
    target = {"Arn": FN_ARN, "Id": "t", "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["DlqA1B2C3D4", "Arn"]}}}
    resources = {
        "WorkerA1B2C3D4": WORKER,
        "DlqA1B2C3D4": _res("AWS::SQS::Queue", "Dlq"),
        "RuleA1B2C3D4": _rule(EventPattern=pattern, Targets=[target]),
    }
    assert run_check("dlq-missing", {}, resources) == []  # and the target DLQ is not a queue lacking a DLQ
    del target["DeadLetterConfig"]
    del resources["DlqA1B2C3D4"]
    (finding,) = run_check("dlq-missing", {}, resources)
    assert "EventBridge rule Rule" in finding.message


def test_dlq_event_invoke_config_on_a_sync_function_is_not_counted() -> None:
    resources = {
        "WorkerA1B2C3D4": WORKER,
        "WorkerEventInvokeConfigA1B2C3D4": _res(
            "AWS::Lambda::EventInvokeConfig",
            "Worker/EventInvokeConfig",
            FunctionName={"Ref": "WorkerA1B2C3D4"},
            Qualifier="$LATEST",
            MaximumRetryAttempts=2,
        ),
    }
    assert run_check("dlq-missing", {}, resources) == []


def test_dlq_sns_to_alias_resolves_the_function_and_on_failure_protects_it() -> None:
    resources = {
        "WorkerA1B2C3D4": WORKER,
        "AliasA1B2C3D4": _res(
            "AWS::Lambda::Alias", "Worker/Alias", FunctionName={"Ref": "WorkerA1B2C3D4"}, Name="live"
        ),
        "SubA1B2C3D4": _res(
            "AWS::SNS::Subscription",
            "Topic/Sub",
            Protocol="lambda",
            Endpoint={"Ref": "AliasA1B2C3D4"},
            TopicArn={"Ref": "TopicA1B2C3D4"},
        ),
        "TopicA1B2C3D4": _res("AWS::SNS::Topic", "Topic"),
    }
    (finding,) = run_check("dlq-missing", {}, resources)
    assert "SNS topic Topic" in finding.message
    resources["ConfigA1B2C3D4"] = _res(
        "AWS::Lambda::EventInvokeConfig",
        "Worker/EventInvokeConfig",
        FunctionName={"Ref": "WorkerA1B2C3D4"},
        Qualifier="$LATEST",
        DestinationConfig={"OnFailure": {"Destination": {"Fn::GetAtt": ["FailA1B2C3D4", "Arn"]}}},
    )
    assert run_check("dlq-missing", {}, resources) == []


def test_dlq_stream_mapping_on_a_dynamodb_table_stream() -> None:
    resources = {
        "WorkerA1B2C3D4": WORKER,
        "TableA1B2C3D4": _res("AWS::DynamoDB::Table", "Table"),
        "MappingA1B2C3D4": _res(
            "AWS::Lambda::EventSourceMapping",
            "Worker/DynamoDBEventSource",
            FunctionName={"Ref": "WorkerA1B2C3D4"},
            StartingPosition="LATEST",
            EventSourceArn={"Fn::GetAtt": ["TableA1B2C3D4", "StreamArn"]},
        ),
    }
    (finding,) = run_check("dlq-missing", {}, resources)
    assert "consumes stream Table" in finding.message


def test_dlq_queue_named_as_a_dlq_is_not_a_consumer_queue() -> None:
    resources = {"OrdersDLQA1B2C3D4": _res("AWS::SQS::Queue", "OrdersDLQ")}
    assert run_check("dlq-missing", {}, resources) == []


def test_dlq_schedule_rules_count_when_the_rubric_says_so() -> None:
    rule = _rule(ScheduleExpression="rate(1 hour)", Targets=[{"Arn": FN_ARN, "Id": "t"}])
    resources = {"WorkerA1B2C3D4": WORKER, "RuleA1B2C3D4": rule}
    (finding,) = run_check("dlq-missing", {}, resources, options={"scheduled_rules": True})
    assert "EventBridge rule Rule" in finding.message


def test_alarms_in_a_file_that_does_not_parse_keep_alarms_missing_quiet() -> None:
    stack = (
        "from aws_cdk import Stack, aws_lambda as _lambda\n"
        "class AppStack(Stack):\n"
        "    def __init__(self, scope, cid):\n"
        "        super().__init__(scope, cid)\n"
        "        _lambda.Function(self, 'Fn', runtime=_lambda.Runtime.PYTHON_3_12,\n"
        "                         handler='i.h', code=_lambda.Code.from_inline('x'))\n"
    )
    cut_off = (
        "from aws_cdk import Stack, aws_cloudwatch as cloudwatch\n"
        "class MonitoringStack(Stack):\n"
        "    def __init__(self, scope, cid, fn):\n"
        "        super().__init__(scope, cid)\n"
        "        cloudwatch.Alarm(self, 'Errors', metric=fn.metric_errors(), threshold=1,\n"
        "                         evaluation_periods=1, alarm_description='errors\n"
    )
    alone = make_context({"lib/app_stack.py": stack})
    assert [f.check for f in run_checks(alone) if f.check == "alarms-missing"] == ["alarms-missing"]
    both = make_context({"lib/app_stack.py": stack, "lib/monitoring_stack.py": cut_off})
    assert not [f for f in run_checks(both) if f.check == "alarms-missing"]


def test_pitr_turned_on_only_for_production_is_a_note() -> None:
    code = (
        "from aws_cdk import Stack, aws_dynamodb as dynamodb\n"
        "class Data(Stack):\n"
        "    def __init__(self, scope, cid, stage):\n"
        "        super().__init__(scope, cid)\n"
        "        dynamodb.Table(self, 'Items', partition_key=dynamodb.Attribute(\n"
        "            name='id', type=dynamodb.AttributeType.STRING),\n"
        "            point_in_time_recovery=True if stage == 'prod' else False)\n"
    )
    found = [f for f in run_checks(make_context({"lib/data.py": code})) if f.check == "pitr-disabled"]
    assert [f.severity for f in found] == ["info"]
    assert "on in production" in found[0].message
    assert "stage == 'prod'" in (found[0].evidence[0].value or "")


def test_no_tags_finding_for_an_answer_with_nothing_to_tag() -> None:
    code = "import aws_cdk as cdk\nfrom lib.tap_stack import TapStack\n\napp = cdk.App()\napp.synth()\n"
    assert not [f for f in run_checks(make_context({"app.py": code})) if f.check == "tags-missing"]


def test_taggable_types_come_from_a_file_made_once_per_cfn_lint_version(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """tags-missing asks whether a resource type can carry tags; the answer is cfn-lint's schema,
    read once per cfn-lint version by a child process into a file the grader keeps (so the
    grading process does not import cfn-lint for it), and it agrees with cfn-lint on every type."""
    import json
    import subprocess
    import sys

    from iacgrade.graders.analysis import cfn

    monkeypatch.setenv("IACGRADE_CACHE_DIR", str(tmp_path))
    cfn._schema_facts.cache_clear()
    try:
        assert cfn.schema_taggable("AWS::S3::Bucket") is True
        [facts] = (tmp_path / "cfn-schemas").glob("*.json")
        data = json.loads(facts.read_text())
        assert len(data["types"]) > 1000 and "AWS::S3::Bucket" in data["taggable"]
        assert [t for t in data["types"] if (t in data["taggable"]) != cfn._taggable_here(t)] == []
        assert cfn.schema_taggable("AWS::Lambda::Permission") is False  # no Tags property
        assert cfn.schema_taggable("AWS::Nothing::Here") is False  # no schema at all
    finally:
        cfn._schema_facts.cache_clear()
    probe = (
        "import sys\n"
        "from iacgrade.graders.analysis.cfn import schema_taggable, stateful_types\n"
        "assert schema_taggable('AWS::DynamoDB::Table') and 'AWS::DynamoDB::Table' in stateful_types()\n"
        "print('cfnlint' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env={**os.environ}
    )
    assert out.stdout.strip() == "False"  # the file was there: cfn-lint was not imported
