"""Edge cases of iam-wildcard-action, iam-wildcard-resource and broad-managed-policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iacgrade.graders.checks.security.iam_wildcard_resource import is_unscoped_action
from tests.checkkit import make_context, run_check

HEADER = """\
from aws_cdk import Stack
from aws_cdk import aws_iam as iam, aws_lambda as lambda_
"""
ROOT = {
    "AWS": {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]
    }
}


def _template(**resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"S": {"Resources": resources}}


def _policy(statements: list[dict[str, Any]], roles: list[str] | None = None) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            "Roles": [{"Ref": r} for r in roles or []],
        },
    }


@pytest.mark.parametrize(
    ("action", "unscoped"),
    [
        ("xray:PutTraceSegments", True),
        ("cloudwatch:PutMetricData", True),
        ("ec2:DescribeInstances", True),
        ("ec2:Describe*", True),
        ("ecr:GetAuthorizationToken", True),
        ("s3:GetObject", False),
        ("s3:List*", False),
        ("logs:*", False),
        ("*", False),
        ("ecr:BatchGetImage", False),
    ],
)
def test_unscoped_actions(action: str, unscoped: bool) -> None:
    assert is_unscoped_action(action) is unscoped


def test_default_key_policy_deny_and_partial_wildcards_are_not_wildcard_actions() -> None:
    templates = _template(
        Key1234ABCD={
            "Type": "AWS::KMS::Key",
            "Properties": {
                "KeyPolicy": {
                    "Statement": [{"Action": "kms:*", "Effect": "Allow", "Principal": ROOT, "Resource": "*"}]
                }
            },
        },
        BucketPolicy1234ABCD={
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Action": "s3:*",
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Resource": "*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ]
                }
            },
        },
        FnPolicy1234ABCD=_policy(
            [
                {
                    "Action": ["s3:GetObject*", "s3:List*"],
                    "Effect": "Allow",
                    "Resource": {"Fn::GetAtt": ["B", "Arn"]},
                }
            ]
        ),
    )
    assert run_check("iam-wildcard-action", make_context({"lib/s.py": HEADER}, templates)) == []


def test_wildcard_action_in_a_resource_policy_names_the_principal() -> None:
    templates = _template(
        QueuePolicy1234ABCD={
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "PolicyDocument": {
                    "Statement": [
                        {"Action": "sqs:*", "Effect": "Allow", "Principal": {"AWS": "*"}, "Resource": "*"}
                    ]
                }
            },
        }
    )
    source = HEADER + 'STATEMENT = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:*"}\n'
    found = run_check("iam-wildcard-action", make_context({"lib/s.py": source}, templates))
    assert len(found) == 1 and "`*` (anyone)" in found[0].message and "`sqs:*`" in found[0].message


def test_json_text_documents_and_intrinsic_actions_do_not_crash() -> None:
    templates = _template(
        LogsPolicy={
            "Type": "AWS::Logs::ResourcePolicy",
            "Properties": {
                "PolicyName": "p",
                "PolicyDocument": json.dumps(
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "logs:*",
                                "Principal": {"Service": "es.amazonaws.com"},
                                "Resource": "*",
                            }
                        ]
                    }
                ),
            },
        },
        Broken={"Type": "AWS::Logs::ResourcePolicy", "Properties": {"PolicyDocument": "{not json"}},
        IfPolicy=_policy(
            [{"Action": {"Fn::If": ["C", "s3:*", "s3:GetObject"]}, "Effect": "Allow", "Resource": "*"}]
        ),
        Odd={"Type": "AWS::IAM::Role", "Properties": {"Policies": ["x", {"PolicyDocument": None}]}},
    )
    source = HEADER + 'ACTIONS = ["logs:*", "s3:*"]\n'
    found = run_check("iam-wildcard-action", make_context({"lib/s.py": source}, templates))
    assert [f.message.split(" ")[0] for f in found] == ["`logs:*`"]


def test_lambda_handler_policy_dicts_are_not_infrastructure() -> None:
    handler = """
def handler(event, context):
    return {"principalId": "u", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:*", "Effect": "Allow", "Resource": "*"}]}}
"""
    ctx = make_context({"lambda/authorizer.py": handler})
    assert run_check("iam-wildcard-action", ctx) == []
    assert run_check("iam-wildcard-resource", make_context({"lambda/authorizer.py": handler})) == []


def test_with_a_template_source_statements_it_lacks_are_dropped() -> None:
    body = """
class Unused(Stack):
    def __init__(self, scope, cid):
        super().__init__(scope, cid)
        role = iam.Role(self, "R", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
"""
    templates = _template(Other1234ABCD={"Type": "AWS::SNS::Topic", "Properties": {}})
    assert run_check("iam-wildcard-action", make_context({"lib/s.py": HEADER + body}, templates)) == []
    assert len(run_check("iam-wildcard-action", make_context({"lib/s.py": HEADER + body}))) == 1


def test_source_and_template_merge_without_path_metadata() -> None:
    body = """
class S(Stack):
    def __init__(self, scope, cid):
        super().__init__(scope, cid)
        fn = lambda_.Function(self, "Handler", runtime=None, handler="i.h", code=None)
        fn.add_to_role_policy(iam.PolicyStatement(actions=["dynamodb:PutItem", "s3:PutObject"], resources=["*"]))
        other = lambda_.Function(self, "HandlerTwo", runtime=None, handler="i.h", code=None)
        other.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=["*"]))
"""
    templates = _template(
        HandlerServiceRoleDefaultPolicyABCD1234=_policy(
            [{"Action": ["dynamodb:PutItem", "s3:PutObject"], "Effect": "Allow", "Resource": "*"}],
            ["HandlerServiceRole11112222"],
        ),
        HandlerServiceRole11112222={"Type": "AWS::IAM::Role", "Properties": {}},
        HandlerTwoServiceRoleDefaultPolicyABCD9999=_policy(
            [{"Action": "s3:PutObject", "Effect": "Allow", "Resource": "*"}],
            ["HandlerTwoServiceRole33334444"],
        ),
        HandlerTwoServiceRole33334444={"Type": "AWS::IAM::Role", "Properties": {}},
    )
    found = run_check("iam-wildcard-resource", make_context({"lib/s.py": HEADER + body}, templates))
    assert len(found) == 2
    by_resource = {next(e.resource for e in f.evidence if e.resource): f for f in found}
    one = by_resource["HandlerServiceRoleDefaultPolicyABCD1234"]
    two = by_resource["HandlerTwoServiceRoleDefaultPolicyABCD9999"]
    assert one.lenses == two.lenses == ["source", "template"]
    assert {e.line for e in one.evidence if e.line} == {8}
    assert {e.line for e in two.evidence if e.line} == {10}


def test_wildcard_resource_leaves_resource_policies_and_unscoped_actions_alone() -> None:
    body = """
class S(Stack):
    def __init__(self, scope, cid, secret, fn):
        super().__init__(scope, cid)
        secret.add_to_resource_policy(iam.PolicyStatement(
            actions=["secretsmanager:GetSecretValue"], principals=[iam.AccountRootPrincipal()], resources=["*"]))
        fn.add_to_role_policy(iam.PolicyStatement(actions=["xray:PutTraceSegments", "ssm:DescribeParameters"],
                                                  resources=["*"]))
        fn.add_to_role_policy(iam.PolicyStatement(effect=iam.Effect.DENY, actions=["s3:DeleteObject"],
                                                  resources=["*"]))
"""
    assert run_check("iam-wildcard-resource", make_context({"lib/s.py": HEADER + body})) == []


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/AdministratorAccess"]]}, 1),
        ("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess", 0),
        ("arn:aws:iam::aws:policy/AWSLambda_FullAccess", 1),
        ("arn:aws:iam::123456789012:policy/TeamFullAccess", 0),
        ({"Ref": "CustomPolicy"}, 0),
    ],
)
def test_broad_managed_policy_arns(arn: Any, expected: int) -> None:
    templates = _template(Role1234ABCD={"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": [arn]}})
    source = (
        HEADER
        + 'NAMES = ["AdministratorAccess", "AWSLambda_FullAccess", "TeamFullAccess", "ViewOnlyAccess"]\n'
    )
    assert len(run_check("broad-managed-policy", make_context({"lib/s.py": source}, templates))) == expected


def test_statements_and_policies_cdk_writes_itself_are_not_the_answers() -> None:
    # enable_execute_command=True: CDK gives the task role logs actions on "*" and, for some
    # constructs, a managed policy of its own; the answer typed none of them.
    body = """
class S(Stack):
    def __init__(self, scope, cid, cluster, task):
        super().__init__(scope, cid)
        ecs.FargateService(self, "Svc", cluster=cluster, task_definition=task, enable_execute_command=True)
"""
    templates = _template(
        TaskRoleDefaultPolicy1234ABCD=_policy(
            [
                {
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "ssmmessages:OpenDataChannel"],
                    "Effect": "Allow",
                    "Resource": "*",
                },
                {"Action": "kms:*", "Effect": "Allow", "Resource": "*"},
            ]
        ),
        ModelRole1234ABCD={
            "Type": "AWS::IAM::Role",
            "Properties": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"]},
        },
    )
    ctx = make_context({"lib/s.py": HEADER + body}, templates)
    assert run_check("iam-wildcard-resource", ctx) == []
    assert run_check("iam-wildcard-action", make_context({"lib/s.py": HEADER + body}, templates)) == []
    assert run_check("broad-managed-policy", make_context({"lib/s.py": HEADER + body}, templates)) == []


def test_broad_managed_policy_from_a_variable_owner() -> None:
    body = """
class S(Stack):
    def __init__(self, scope, cid):
        super().__init__(scope, cid)
        full = iam.ManagedPolicy.from_aws_managed_policy_name("AmazonDynamoDBFullAccess")
        role = iam.Role(self, "DaxRole", assumed_by=iam.ServicePrincipal("dax.amazonaws.com"), managed_policies=[full])
"""
    found = run_check("broad-managed-policy", make_context({"lib/s.py": HEADER + body}))
    assert len(found) == 1 and found[0].message.startswith(
        "DaxRole gets the AWS managed policy AmazonDynamoDBFullAccess"
    )


def test_endpoint_policies_dead_statements_and_stack_policies_are_skipped() -> None:
    body = """
from aws_cdk import aws_ec2 as ec2

class S(Stack):
    def __init__(self, scope, cid, vpc):
        super().__init__(scope, cid)
        self.unused_policy = self._endpoint_policy()
        never_used = iam.PolicyDocument(statements=[iam.PolicyStatement(actions=["dynamodb:*"], resources=["*"])])
        ec2.GatewayVpcEndpoint(self, "S3", vpc=vpc, service=ec2.GatewayVpcEndpointAwsService.S3,
                               policy_document=iam.PolicyDocument(statements=[
                                   iam.PolicyStatement(actions=["s3:*"], principals=[iam.AnyPrincipal()],
                                                       resources=["*"])]))
        self.template_options.stack_policy = {"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*"}]}

    def _endpoint_policy(self):
        return iam.PolicyDocument(statements=[iam.PolicyStatement(actions=["*"], resources=["*"])])
"""
    assert run_check("iam-wildcard-action", make_context({"lib/s.py": HEADER + body})) == []


def test_owner_is_found_through_a_helper_that_returns_the_statement() -> None:
    body = """
class S(Stack):
    def __init__(self, scope, cid):
        super().__init__(scope, cid)
        role = iam.Role(self, "JobRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_policy(self._queue_statement())

    def _queue_statement(self):
        return iam.PolicyStatement(actions=["sqs:*"], resources=["*"])
"""
    found = run_check("iam-wildcard-action", make_context({"lib/s.py": HEADER + body}))
    assert len(found) == 1 and "(added to JobRole)" in found[0].message


def test_condition_scoped_wildcard_resources_are_not_reported() -> None:
    body = """
class S(Stack):
    def __init__(self, scope, cid, role):
        super().__init__(scope, cid)
        role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:StartInstances", "ec2:StopInstances"], resources=["*"],
            conditions={"StringEquals": {"aws:ResourceTag/Team": "ops"}}))
"""
    assert run_check("iam-wildcard-resource", make_context({"lib/s.py": HEADER + body})) == []
