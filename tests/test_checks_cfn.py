"""Edge cases of the CloudFormation checks that the template fixtures cannot express: templates
CDK synthesized (lookups, its own parameters and policies), nested stacks, the task's region."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iacgrade.graders.analysis.managed_policies import aws_policy_part, managed_policies, same_name
from iacgrade.graders.models import Sample
from tests.checkkit import make_context, parse_template_fixture, run_check

CDK_APP = "import aws_cdk as cdk\nfrom aws_cdk import aws_ec2 as ec2\n# ec2.Vpc(self, 'Vpc', max_azs=2)\n"


def _cdk_template(resources: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {"TapStack": {"Resources": resources, **sections}}


def _subnet(zone: str) -> dict[str, Any]:
    return {
        "Type": "AWS::EC2::Subnet",
        "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24", "AvailabilityZone": zone},
        "Metadata": {"aws:cdk:path": "TapStack/Vpc/PublicSubnet1/Subnet"},
    }


def test_zones_and_images_from_a_cdk_lookup_are_not_the_answer_s() -> None:
    template = _cdk_template(
        {
            "VpcPublicSubnet1Subnet": _subnet("us-east-1a"),
            "Host": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "ami-0c02fb55956c7d316"}},
        }
    )
    ctx = make_context({"lib/tap_stack.py": CDK_APP}, template)
    assert run_check("hardcoded-availability-zone", ctx) == []
    assert run_check("hardcoded-ami-id", ctx) == []


def test_zones_the_cdk_answer_wrote_are_reported() -> None:
    app = CDK_APP + "ec2.Vpc(self, 'Vpc', availability_zones=['us-east-1a'])\n"
    ctx = make_context(
        {"lib/tap_stack.py": app}, _cdk_template({"VpcPublicSubnet1Subnet": _subnet("us-east-1a")})
    )
    [found] = run_check("hardcoded-availability-zone", ctx)
    assert "us-east-1a" in found.message


def test_cdk_s_own_parameters_and_paired_policies_are_not_reported() -> None:
    bootstrap = {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/cdk-bootstrap/hnb659fds/version",
        "Description": "Version of the CDK Bootstrap resources in this environment, automatically retrieved "
        "from SSM Parameter Store. [cdk:skip]",
    }
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {},
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
    }
    template = _cdk_template({"Table": table}, Parameters={"BootstrapVersion": bootstrap})
    ctx = make_context({"lib/tap_stack.py": CDK_APP}, template)
    for check_id in ("parameter-no-default", "secret-parameter-no-echo", "update-replace-policy-missing"):
        assert run_check(check_id, ctx) == [], check_id


def test_a_cdk_template_that_keeps_only_on_delete_is_reported() -> None:
    table = {"Type": "AWS::DynamoDB::Table", "Properties": {}, "DeletionPolicy": "Retain"}
    ctx = make_context({"lib/tap_stack.py": CDK_APP}, _cdk_template({"Table": table}))
    assert [f.check for f in run_check("update-replace-policy-missing", ctx)] == [
        "update-replace-policy-missing"
    ]


def test_parameters_of_nested_templates_are_their_parent_s_to_give() -> None:
    parent = {
        "Parameters": {"Env": {"Type": "String"}},
        "Resources": {
            "Network": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {
                    "TemplateURL": "https://example.com/n.yaml",
                    "Parameters": {"Cidr": "10.0.0.0/16"},
                },
            }
        },
    }
    child = {"Parameters": {"Cidr": {"Type": "String"}}, "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    ctx = make_context({}, {"main": parent, "network": child})
    [found] = run_check("parameter-no-default", ctx)
    assert found.message.endswith(": Env") and found.evidence[0].stack == "main"


def test_the_mapping_lookup_uses_the_task_s_region(tmp_path: Path) -> None:
    text = (
        "Mappings:\n  Images:\n    us-east-1: {Id: ami-0a1b2c3d4e5f60718}\n"
        "Resources:\n  Host:\n    Type: AWS::EC2::Instance\n"
        "    Properties:\n      ImageId: !FindInMap [Images, !Ref 'AWS::Region', Id]\n"
    )
    templates, marks = parse_template_fixture(text, "lib/TapStack.yml")
    ctx = make_context({"lib/TapStack.yml": text}, templates, marks=marks)
    assert run_check("mapping-region-missing", ctx) == []  # no region given: us-east-1
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "AWS_REGION").write_text("eu-central-1\n")
    ctx.sample = Sample(sample_id="t", source=str(tmp_path / "lib" / "MODEL_RESPONSE.md"))
    [found] = run_check("mapping-region-missing", ctx)
    assert "eu-central-1" in found.message and found.evidence[0].line == 5


def test_the_managed_policy_list_knows_paths() -> None:
    policies = managed_policies()
    assert len(policies) > 1000 and "service-role/AWSLambdaBasicExecutionRole" in policies
    assert same_name("AWSLambdaBasicExecutionRole") == ["service-role/AWSLambdaBasicExecutionRole"]
    assert aws_policy_part("arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess") == "ReadOnlyAccess"
    assert aws_policy_part("arn:aws:iam::123456789012:policy/mine") is None


def test_the_environment_suffix_the_prompt_asks_for_is_the_deployment_s_to_pass() -> None:
    template = {
        "main": {"Parameters": {"EnvironmentSuffix": {"Type": "String"}, "AlertEmail": {"Type": "String"}}}
    }
    ctx = make_context({}, template)
    [found] = run_check("parameter-no-default", ctx)
    assert "EnvironmentSuffix" in found.message
    ctx.prompt = "Resource names must include environmentSuffix for uniqueness."
    [found] = run_check("parameter-no-default", ctx)
    assert found.message.endswith(": AlertEmail")


def test_a_deletion_cloudformation_applies_by_default_is_not_called_the_answer_s_policy() -> None:
    text = (
        "Resources:\n  Uploads:\n    Type: AWS::S3::Bucket\n"
        "  Scratch:\n    Type: AWS::S3::Bucket\n    DeletionPolicy: Delete\n"
    )
    templates, marks = parse_template_fixture(text, "lib/TapStack.yml")
    ctx = make_context({"lib/TapStack.yml": text}, templates, marks=marks)
    found = {f.evidence[0].resource: f for f in run_check("destroy-stateful", ctx)}
    assert "has no DeletionPolicy" in found["Uploads"].message
    assert found["Uploads"].evidence[0].value == "no DeletionPolicy (CloudFormation's default: Delete)"
    assert found["Uploads"].evidence[0].line == 2
    assert found["Scratch"].evidence[0].value == "DeletionPolicy: Delete"
    # Written in the template: the message says so and names no CDK removal policy.
    assert "has DeletionPolicy Delete:" in found["Scratch"].message
    assert "removal policy" not in found["Scratch"].message


def test_encryption_an_answer_turned_off_reads_false_not_unset() -> None:
    text = (
        "Resources:\n  Cache:\n    Type: AWS::ElastiCache::ReplicationGroup\n    Properties:\n"
        "      ReplicationGroupDescription: cache\n      Engine: redis\n      CacheNodeType: cache.t3.micro\n"
        "      AtRestEncryptionEnabled: true\n      TransitEncryptionEnabled: false\n"
    )
    templates, marks = parse_template_fixture(text, "lib/TapStack.yml")
    [found] = run_check(
        "encryption-missing", make_context({"lib/TapStack.yml": text}, templates, marks=marks)
    )
    assert "TransitEncryptionEnabled is false" in found.message and "AtRest" not in found.message


def test_a_placeholder_ami_blocks_the_deploy_and_a_real_one_only_ties_it_to_a_region() -> None:
    text = (
        "Resources:\n"
        "  Fake:\n    Type: AWS::EC2::Instance\n    Properties:\n      ImageId: ami-0abcdef1234567890\n"
        "  Real:\n    Type: AWS::EC2::Instance\n    Properties:\n      ImageId: ami-0c02fb55956c7d316\n"
    )
    templates, marks = parse_template_fixture(text, "lib/TapStack.yml")
    found = run_check("hardcoded-ami-id", make_context({"lib/TapStack.yml": text}, templates, marks=marks))
    assert {f.evidence[0].resource: f.severity for f in found} == {"Fake": "high", "Real": "medium"}
