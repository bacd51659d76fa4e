"""Edge cases of hardcoded-name, region-not-set and destroy-stateful the fixtures cannot express."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from iacgrade.graders.checks import run_checks
from iacgrade.graders.models import Finding, Sample, SynthResult
from iacgrade.graders.prompt import read_prompt
from tests.checkkit import make_context, run_check

HEADER = """\
import os
import aws_cdk as cdk
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb, aws_kms as kms, aws_lambda as lambda_, aws_logs as logs
from aws_cdk import aws_s3 as s3, aws_sqs as sqs
"""


def _source(check_id: str, body: str, path: str = "lib/stack.py", **kw: Any) -> list[Finding]:
    return run_check(check_id, make_context({path: HEADER + body}, **kw))


def _resource(rtype: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Type": rtype, "Properties": props, **extra}


# ---- hardcoded-name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        'f"orders-{suffix}"',
        'f"{self.stack_name}-orders"',
        '"-".join(["orders", suffix])',
        "props.table_name",
        'self.node.try_get_context("tableName") or "orders"',
        "f\"orders-{os.getenv('ENV', 'dev')}\"",
    ],
)
def test_names_that_vary_are_not_reported(value: str) -> None:
    body = f"""
class S(Stack):
    def __init__(self, scope, cid, props, suffix: str, **kw):
        super().__init__(scope, cid, **kw)
        dynamodb.Table(self, "T", table_name={value})
"""
    assert _source("hardcoded-name", body) == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('"orders"', '"orders"'),
        ('f"orders"', 'f"orders"'),
        ('"-".join(["shop", "orders"])', "shop-orders"),
        ('APP.lower() + "-orders"', "shop-orders"),
        ('f"{APP}-orders-{cdk.Aws.ACCOUNT_ID}"', "account/region"),
        ("f\"orders-{os.environ['CDK_DEFAULT_REGION']}\"", "account/region"),
    ],
)
def test_fixed_names_are_reported(value: str, shown: str) -> None:
    body = f"""
APP = "SHOP"
class S(Stack):
    def __init__(self, scope, cid, **kw):
        super().__init__(scope, cid, **kw)
        dynamodb.Table(self, "T", table_name={value})
"""
    if "APP" in value and "lower" not in value:
        body = body.replace('APP = "SHOP"', 'APP = "shop"')
    found = _source("hardcoded-name", body)
    assert len(found) == 1
    assert shown in found[0].message or shown in (found[0].evidence[0].value or "")


def test_referring_keywords_and_non_unique_names_are_not_physical_names() -> None:
    body = """
class S(Stack):
    def __init__(self, scope, cid, fn, **kw):
        super().__init__(scope, cid, **kw)
        lambda_.Alias(self, "Live", alias_name="live", version=fn.current_version)
        lambda_.CfnPermission(self, "P", function_name="existing-fn", action="lambda:InvokeFunction",
                              principal="s3.amazonaws.com")
        dynamodb.Table(self, "T", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING))
        logs.LogGroup.from_log_group_name(self, "Imported", "/aws/lambda/existing")
"""
    assert _source("hardcoded-name", body) == []


def test_the_answers_own_construct_class_is_left_to_the_template() -> None:
    body = """
class OrdersTable(Construct):
    def __init__(self, scope, cid, *, table_name):
        super().__init__(scope, cid)
        dynamodb.Table(self, "Resource", table_name=f"{table_name}-{scope.node.try_get_context('env')}")

class S(Stack):
    def __init__(self, scope, cid, **kw):
        super().__init__(scope, cid, **kw)
        OrdersTable(self, "Orders", table_name="orders")
"""
    assert _source("hardcoded-name", body) == []


def test_names_the_prompt_mandates_are_not_reported(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "PROMPT.md").write_text(
        "Create an S3 bucket with this name `cloudmigration-s3` and a table for orders.\n"
    )
    body = """
class S(Stack):
    def __init__(self, scope, cid, **kw):
        super().__init__(scope, cid, **kw)
        s3.Bucket(self, "B", bucket_name="cloudmigration-s3")
        s3.Bucket(self, "C", bucket_name="cloudmigration-s3-logs")
        dynamodb.Table(self, "T", table_name="orders")
"""
    ctx = make_context({"lib/stack.py": HEADER + body})
    ctx.sample = Sample(
        sample_id="t", source=str(tmp_path / "lib" / "MODEL_RESPONSE.md"), task_root=str(tmp_path)
    )
    ctx.prompt = read_prompt(ctx.sample)  # as the pipeline does
    found = run_check("hardcoded-name", ctx)
    # the prompt's name with a suffix is the prompt's name; "orders" appears in the prompt only as a
    # plain word, not as a name: still reported
    assert [f.message.split("`")[1] for f in found] == ['table_name="orders"']


def test_a_prompt_name_is_a_base_when_the_prompt_asks_names_to_carry_the_suffix(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "PROMPT.md").write_text(
        "- Create a CodeCommit repository named 'nodejs-webapp'\n"
        "- Resource names must include **environmentSuffix** for uniqueness\n"
    )
    body = """
class S(Stack):
    def __init__(self, scope, cid, *, environment_suffix, **kw):
        super().__init__(scope, cid, **kw)
        codecommit.Repository(self, "Repo", repository_name="nodejs-webapp")
        codecommit.Repository(self, "Mirror", repository_name=f"nodejs-webapp-{environment_suffix}")
"""
    ctx = make_context({"lib/stack.py": HEADER + "from aws_cdk import aws_codecommit as codecommit\n" + body})
    ctx.sample = Sample(
        sample_id="t", source=str(tmp_path / "lib" / "MODEL_RESPONSE.md"), task_root=str(tmp_path)
    )
    ctx.prompt = read_prompt(ctx.sample)
    found = run_check("hardcoded-name", ctx)
    # the prompt's own name, without the suffix the same prompt asks every name to carry
    assert [f.message.split("`")[1] for f in found] == ['repository_name="nodejs-webapp"']


def test_template_evidence_joins_through_intrinsics_and_kms_alias_prefix() -> None:
    body = """
class S(Stack):
    def __init__(self, scope, cid, **kw):
        super().__init__(scope, cid, **kw)
        s3.Bucket(self, "Logs", bucket_name=f"logs-{self.account}")
        kms.Key(self, "Key", alias="orders-key")
"""
    template = {
        "Resources": {
            "LogsBucket1234ABCD": _resource(
                "AWS::S3::Bucket",
                {"BucketName": {"Fn::Join": ["", ["logs-", {"Ref": "AWS::AccountId"}]]}},
                Metadata={"aws:cdk:path": "S/Logs/Resource"},
            ),
            "KeyAlias5678ABCD": _resource("AWS::KMS::Alias", {"AliasName": "alias/orders-key"}),
            "Weird": "not a resource",
            "NoProps": {"Type": "AWS::SQS::Queue"},
            "IfName": _resource("AWS::SNS::Topic", {"TopicName": {"Fn::If": ["C", "a", "b"]}}),
        }
    }
    found = run_check("hardcoded-name", make_context({"lib/stack.py": HEADER + body}, {"S": template}))
    assert len(found) == 2
    assert all(set(f.lenses) == {"source", "template"} for f in found)
    assert {e.resource for f in found for e in f.evidence if e.resource} == {
        "LogsBucket1234ABCD",
        "KeyAlias5678ABCD",
    }


@pytest.mark.parametrize(
    "assignment",
    [
        'table = props.get("table_name", "orders-main")',
        'table = self.node.try_get_context("table") or "orders-main"',
        'CONFIG = {"dev": {"table": "orders-main"}, "prod": {"table": "orders-prod"}}',
    ],
)
def test_template_only_ignores_defaults_and_per_environment_maps(assignment: str) -> None:
    body = f"""
class S(Stack):
    def __init__(self, scope, cid, props, **kw):
        super().__init__(scope, cid, **kw)
        {assignment}
"""
    template = {
        "Resources": {"Orders12345678": _resource("AWS::DynamoDB::Table", {"TableName": "orders-main"})}
    }
    assert run_check("hardcoded-name", make_context({"lib/stack.py": HEADER + body}, {"S": template})) == []


# ---- region-not-set ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app_code", "expected"),
    [
        ('MyStack(app, "A")', 1),
        ('MyStack(app, "A", env=None)', 1),
        ('MyStack(app, "A", env=cdk.Environment(account="111122223333", region=None))', 1),
        ('MyStack(app, "A", env={"account": "111122223333"})', 1),
        ('MyStack(app, "A", env=cdk.Environment(region="us-east-1"))', 0),
        ('MyStack(app, "A", **settings)', 0),
        ('MyStack(app, "A", env=make_env())', 0),
        ('cdk.Stack(app, "Plain")', 1),
        ('MyStack(stage, "InStage")', 0),
    ],
)
def test_region_not_set_cases(app_code: str, expected: int) -> None:
    body = f"""
class MyStack(Stack):
    pass

app = cdk.App()
stage = cdk.Stage(app, "Prod", env=cdk.Environment(region="us-east-1"))
settings = {{"env": cdk.Environment(region="us-east-1")}}
{app_code}
app.synth()
"""
    assert len(_source("region-not-set", body, path="app.py")) == expected


def test_region_not_set_ignores_nested_stacks_and_stacks_without_an_app() -> None:
    body = """
class Inner(cdk.NestedStack):
    pass

class Outer(Stack):
    def __init__(self, scope, cid, **kw):
        super().__init__(scope, cid, **kw)
        Inner(self, "Inner")

def build(scope):
    Outer(scope, "Outer")
"""
    assert _source("region-not-set", body, path="app.py") == []


def test_region_synth_evidence_only_for_the_answers_own_entry() -> None:
    body = 'app = cdk.App()\nMyStack(app, "Svc")\napp.synth()\n'
    scaffold = SynthResult(status="ok", stacks=["Svc"], entry_kind="scaffold")
    found = run_check("region-not-set", make_context({"app.py": HEADER + body}, synth=scaffold))
    assert len(found) == 1 and found[0].lenses == ["source"]


# ---- destroy-stateful --------------------------------------------------------------------


def test_source_only_reports_gated_destroy_with_its_gate() -> None:
    body = """
class S(Stack):
    def __init__(self, scope, cid, stage, **kw):
        super().__init__(scope, cid, **kw)
        dynamodb.Table(self, "T", removal_policy=RemovalPolicy.RETAIN if stage == "prod" else RemovalPolicy.DESTROY)
        sqs.Queue(self, "Q", removal_policy=RemovalPolicy.DESTROY)
"""
    found = _source("destroy-stateful", body)
    assert len(found) == 1
    assert 'not (stage == "prod")' in found[0].message


def test_template_decides_when_there_is_one() -> None:
    body = """
class S(Stack):
    def __init__(self, scope, cid, stage, **kw):
        super().__init__(scope, cid, **kw)
        dynamodb.Table(self, "T", removal_policy=RemovalPolicy.DESTROY if stage != "prod" else RemovalPolicy.RETAIN)
        b = s3.CfnBucket(self, "Raw")
        b.cfn_options.deletion_policy = cdk.CfnDeletionPolicy.DELETE
"""
    template = {
        "Resources": {
            "T1234ABCD": _resource("AWS::DynamoDB::Table", {}, DeletionPolicy="Retain"),
            "Raw": _resource("AWS::S3::Bucket", {}, DeletionPolicy="Delete"),
            "ClusterWriterABCD1234": _resource(
                "AWS::RDS::DBInstance", {"DBClusterIdentifier": {"Ref": "Cluster"}}, DeletionPolicy="Delete"
            ),
            "Queue12345678": _resource("AWS::SQS::Queue", {}, DeletionPolicy="Delete"),
            "NoPolicy": _resource("AWS::DynamoDB::Table", {}),
        }
    }
    found = run_check("destroy-stateful", make_context({"lib/stack.py": HEADER + body}, {"S": template}))
    assert len(found) == 1
    assert found[0].lenses == ["source", "template"]
    assert "cfn_options.deletion_policy" in found[0].message


def test_one_construct_in_two_stacks_is_one_finding() -> None:
    body = """
class S(Stack):
    def __init__(self, scope, cid, **kw):
        super().__init__(scope, cid, **kw)
        logs.LogGroup(self, "Audit", removal_policy=RemovalPolicy.DESTROY)
"""
    res = {"Audit1234ABCD": _resource("AWS::Logs::LogGroup", {}, DeletionPolicy="Delete")}
    templates = {"S-dev": {"Resources": res}, "S-prod": {"Resources": res}}
    found = run_check("destroy-stateful", make_context({"lib/stack.py": HEADER + body}, templates))
    assert len(found) == 1 and len([e for e in found[0].evidence if e.stack]) == 2
    assert "log data only" in found[0].message


def _reserving(stack: str, *reserved: int) -> dict[str, Any]:
    """A stack of functions with the given reserved concurrency, as CDK synthesizes it under ``stack``."""
    resources = {
        f"Fn{n}A1B2C3D4": _resource(
            "AWS::Lambda::Function",
            {"Runtime": "python3.12", "Handler": "index.handler", "ReservedConcurrentExecutions": r},
            Metadata={"aws:cdk:path": f"{stack}/Fn{n}/Resource"},
        )
        for n, r in enumerate(reserved)
    }
    return {"Resources": resources}


def test_a_stack_class_deployed_twice_is_one_finding_naming_both_stacks() -> None:
    templates = {
        "TapStackDev": _reserving("TapStackDev", 100, 50),
        "TapStackProd": _reserving("TapStackProd", 100, 50),
    }
    (found,) = run_check("lambda-reserved-concurrency", make_context({}, templates))
    assert {e.stack for e in found.evidence} == {"TapStackDev", "TapStackProd"}
    assert len(found.evidence) == 4


def test_what_differs_between_the_two_stacks_stays_apart() -> None:
    templates = {
        "TapStackDev": _reserving("TapStackDev", 100),
        "TapStackProd": _reserving("TapStackProd", 200),
    }
    found = run_check("lambda-reserved-concurrency", make_context({}, templates))
    assert [{e.stack for e in f.evidence} for f in found] == [{"TapStackDev"}, {"TapStackProd"}]


def test_a_duplicated_stack_is_penalised_once() -> None:
    from iacgrade.graders.rubric import load_rubric
    from iacgrade.graders.scoring import score_findings

    one = run_check("lambda-reserved-concurrency", make_context({}, {"Dev": _reserving("Dev", 150)}))
    two = run_check(
        "lambda-reserved-concurrency",
        make_context({}, {"Dev": _reserving("Dev", 150), "Prod": _reserving("Prod", 150)}),
    )
    rubric = load_rubric()
    assert score_findings(two, rubric, has_source=False, has_template=True) == score_findings(
        one, rubric, has_source=False, has_template=True
    )


def test_reserved_concurrency_says_what_the_template_tells_of_the_account() -> None:
    (fits,) = run_check("lambda-reserved-concurrency", make_context({}, {"S": _reserving("S", 100, 50)}))
    assert fits.severity == "low" and "depends on the account" in fits.message
    (over,) = run_check("lambda-reserved-concurrency", make_context({}, {"S": _reserving("S", 800, 200)}))
    assert over.severity == "medium" and "at least 1,100" in over.message


def test_unit_tests_are_not_the_answers_infrastructure() -> None:
    body = """
def test_stack():
    app = cdk.App()
    stack = MyStack(app, "TestStack")
    dynamodb.Table(stack, "T", table_name="fixed", removal_policy=RemovalPolicy.DESTROY)
"""
    for check_id in ("region-not-set", "hardcoded-name", "destroy-stateful"):
        assert _source(check_id, body, path="tests/unit/test_stack.py") == []


def test_destroy_gated_to_non_production_stages_is_a_note() -> None:
    code = (
        "from aws_cdk import RemovalPolicy, Stack, aws_dynamodb as dynamodb\n"
        "class DataStack(Stack):\n"
        "    def __init__(self, scope, cid, stage):\n"
        "        super().__init__(scope, cid)\n"
        "        dynamodb.Table(self, 'Gated', partition_key=dynamodb.Attribute(\n"
        "            name='id', type=dynamodb.AttributeType.STRING),\n"
        "            removal_policy=RemovalPolicy.DESTROY if stage != 'prod' else RemovalPolicy.RETAIN)\n"
        "        dynamodb.Table(self, 'Always', partition_key=dynamodb.Attribute(\n"
        "            name='id', type=dynamodb.AttributeType.STRING),\n"
        "            removal_policy=RemovalPolicy.DESTROY)\n"
        "        dynamodb.Table(self, 'WrongWay', partition_key=dynamodb.Attribute(\n"
        "            name='id', type=dynamodb.AttributeType.STRING),\n"
        "            removal_policy=RemovalPolicy.DESTROY if stage == 'prod' else RemovalPolicy.RETAIN)\n"
    )
    found = {
        f.message.split(" ")[2]: f
        for f in run_checks(make_context({"lib/data_stack.py": code}))
        if f.check == "destroy-stateful"
    }
    assert found["Gated"].severity == "info" and "only outside production" in found["Gated"].message
    assert found["Always"].severity == "medium"
    assert found["WrongWay"].severity == "medium"  # DESTROY exactly in production


def test_a_typescript_name_passed_in_through_props_is_found_in_the_template() -> None:
    """`tableName: 'orders-table'` written in bin/tap.ts reaches the table through props: the
    construct's own prop is a variable, so only the template shows the fixed name."""
    files = {
        "bin/tap.ts": "const app = new cdk.App();\nnew TapStack(app, 'TapStack', { tableName: 'orders-table' });\n",
        "lib/tap-stack.ts": (
            "import * as cdk from 'aws-cdk-lib';\nimport * as dynamodb from 'aws-cdk-lib/aws-dynamodb';\n"
            "export class TapStack extends cdk.Stack {\n  constructor(scope, id, props) {\n"
            "    super(scope, id, props);\n"
            "    new dynamodb.Table(this, 'Orders', { tableName: props.tableName });\n  }\n}\n"
        ),
    }
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {"TableName": "orders-table"},
        "Metadata": {"aws:cdk:path": "TapStack/Orders/Resource"},
    }
    ctx = make_context(files, {"TapStack": {"Resources": {"Orders1234ABCD": table}}}, kind="cdk-typescript")
    (finding,) = run_check("hardcoded-name", ctx)
    assert "bin/tap.ts:2" in finding.message
    assert {(e.file, e.line) for e in finding.evidence if e.file} == {("bin/tap.ts", 2)}
    assert any(e.resource == "Orders1234ABCD" for e in finding.evidence)
