"""What the task's prompt asks for: destroyable stacks and named tag keys, and how checks use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from iacgrade.graders.checks import run_checks
from iacgrade.graders.models import Sample
from iacgrade.graders.prompt import (
    asks_destroyable,
    asks_function_size,
    asks_public_bucket,
    asks_suffixed_names,
    read_prompt,
    tag_keys,
)
from tests.checkkit import make_context


@pytest.mark.parametrize(
    "text",
    [
        "- All resources must be destroyable (no Retain policies)",
        "- **Destroyability**: Complete stack teardown possible for CI/CD",
        "Use RemovalPolicy.DESTROY for all resources",
        "Infrastructure should be fully destroyable for CI/CD workflows",
        "When the stack is deleted, all associated resources should cleanly tear down as well.",
        "When the stack is deleted, everything should tear down neatly.",
    ],
)
def test_destroyable_requirements_are_recognised(text: str) -> None:
    assert asks_destroyable("# Task\n\nBuild an API.\n" + text + "\n")


@pytest.mark.parametrize(
    "text",
    [
        "Build a serverless API with a DynamoDB table.",
        "Can be deployed and updated via CDK CLI (cdk deploy, cdk diff, cdk destroy)",
        "Production data must not be destroyable by a stack update.",
        "Do not use RemovalPolicy.DESTROY on the table; it is never acceptable.",
        "",
    ],
)
def test_other_prompts_do_not_ask_for_destroyable_resources(text: str) -> None:
    assert asks_destroyable(text) is None


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("Every resource must include the tag `Project: CloudMigration`.", ["Project"]),
        (
            "Tag all resources with 'Environment:Production' and 'Application:WebApp'.",
            ["Environment", "Application"],
        ),
        ("Ensure all resources use the tag 'Environment' with a value of 'Development'.", ["Environment"]),
        (
            "Add cost allocation tags: Environment=Production, CostCenter=Finance",
            ["Environment", "CostCenter"],
        ),
        (
            "All resources must be tagged with Environment, Team, and CostCenter tags.",
            ["Environment", "Team", "CostCenter"],
        ),
        (
            "All resources must include mandatory tags: Environment, Owner, CostCenter, ComplianceLevel",
            ["Environment", "Owner", "CostCenter", "ComplianceLevel"],
        ),  # fmt: skip
        ("Tag all resources with 'DR-Role' tag set to either 'primary' or 'secondary'", ["DR-Role"]),
        ("Tag everything with Environment=dev or Environment=prod so we can track cost.", ["Environment"]),
        (
            "Tag every resource with cost allocation tags: Project, Service, Environment, Team, and any other"
            " necessary tags.",
            ["Project", "Service", "Environment", "Team"],
        ),
    ],
)
def test_tag_keys_named_by_the_prompt(text: str, keys: list[str]) -> None:
    assert tag_keys(text) == keys


@pytest.mark.parametrize(
    "text",
    [
        "Tag all resources with appropriate metadata.",
        "- **Cost Optimization**: Resource tagging, auto-scaling policies",
        "Use Environment=prod in the config file.",  # a key=value pair, but not about tags
        "",
    ],
)
def test_vague_or_unrelated_text_names_no_tag_keys(text: str) -> None:
    assert tag_keys(text) == []


def test_read_prompt_finds_the_task_prompt_and_ignores_symlinks(tmp_path: Path) -> None:
    task = tmp_path / "Pr1"
    (task / "lib").mkdir(parents=True)
    answer = task / "lib" / "MODEL_RESPONSE.md"
    answer.write_text("x")
    sample = Sample(sample_id="Pr1/lib/MODEL_RESPONSE", source=str(answer), task_root=str(task))
    assert read_prompt(sample) is None
    secret = tmp_path / "secret.txt"
    secret.write_text("not a prompt")
    (task / "lib" / "PROMPT.md").symlink_to(secret)
    assert read_prompt(sample) is None
    (task / "lib" / "PROMPT.md").unlink()
    (task / "lib" / "PROMPT.md").write_text("All resources must be destroyable.")
    assert read_prompt(sample) == "All resources must be destroyable."


_TABLE = """\
from aws_cdk import RemovalPolicy, Stack, aws_dynamodb as dynamodb
from constructs import Construct


class DataStack(Stack):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        dynamodb.Table(
            self, "Items",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            removal_policy=RemovalPolicy.DESTROY,
        )
"""


def test_destroy_on_a_table_is_a_note_when_the_prompt_requires_destroyable_resources() -> None:
    ctx = make_context({"lib/data_stack.py": _TABLE})
    plain = [f for f in run_checks(ctx) if f.check == "destroy-stateful"]
    assert [f.severity for f in plain] == ["medium"]
    ctx = make_context({"lib/data_stack.py": _TABLE})
    ctx.prompt = "- All resources must be destroyable (no Retain policies)\n"
    asked = [f for f in run_checks(ctx) if f.check == "destroy-stateful"]
    assert [f.severity for f in asked] == ["info"]
    assert "prompt requires" in asked[0].message and "destroyable" in asked[0].message


def test_tag_keys_from_the_prompt_replace_the_rubric_defaults() -> None:
    ctx = make_context({"lib/data_stack.py": _TABLE})
    default = [f for f in run_checks(ctx) if f.check == "tags-missing"]
    assert len(default) == 1 and "Owner" in default[0].message
    ctx = make_context({"lib/data_stack.py": _TABLE})
    ctx.prompt = "Every resource must include the tag `Project: Inventory`.\n"
    asked = [f for f in run_checks(ctx) if f.check == "tags-missing"]
    assert len(asked) == 1
    assert "Project" in asked[0].message and "Owner" not in asked[0].message
    assert asked[0].message.startswith("Tags the prompt asks for")


def test_the_quoted_requirement_is_the_sentence_that_says_it() -> None:
    prompt = (
        "Keep the setup clean and minimal. When the stack is deleted, everything should tear down neatly.\n"
    )
    assert asks_destroyable(prompt) == "When the stack is deleted, everything should tear down neatly."


@pytest.mark.parametrize(
    "text",
    [
        "All functions should have 512MB memory allocation and a 30-second timeout.",
        "Each Lambda function should have a maximum timeout of 5 minutes and a memory limit of 512 MB.",
        "## Lambda settings\n- Runtime: Python 3.12\n- Memory: 512MB per function\n",
    ],
)
def test_prompts_that_size_the_functions(text: str) -> None:
    assert asks_function_size(text)


@pytest.mark.parametrize(
    "text",
    [
        "Use a Lambda function to process uploads.",
        "The DynamoDB table needs 500 RCU and a TTL of 30 days.",
        "Keep the cache memory at 512 MB.",  # not about functions
    ],
)
def test_prompts_that_do_not_size_the_functions(text: str) -> None:
    assert asks_function_size(text) is None


def test_uniform_sizes_the_prompt_asked_for_are_a_note() -> None:
    fn = (
        "        _lambda.Function(self, '{0}', runtime=_lambda.Runtime.PYTHON_3_12, handler='i.h',\n"
        "            code=_lambda.Code.from_inline('x'), memory_size=512, timeout=Duration.seconds(30))\n"
    )
    code = (
        "from aws_cdk import Duration, Stack, aws_lambda as _lambda\n"
        "class Fns(Stack):\n"
        "    def __init__(self, scope, cid):\n"
        "        super().__init__(scope, cid)\n" + fn.format("A") + fn.format("B")
    )
    plain = [f for f in run_checks(make_context({"lib/fns.py": code})) if f.check == "lambda-uniform-config"]
    assert [f.severity for f in plain] == ["low"]
    ctx = make_context({"lib/fns.py": code})
    ctx.prompt = "All functions should have 512MB memory allocation and a 30-second timeout.\n"
    asked = [f for f in run_checks(ctx) if f.check == "lambda-uniform-config"]
    assert [f.severity for f in asked] == ["info"] and "prompt sets this size" in asked[0].message


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("Create an S3 bucket to host a static website with public read access.", True),
        ("Host all static assets in an S3 bucket that is publicly readable.", True),
        ("Buckets aren't publicly accessible, only reachable from EC2 through IAM roles.", False),
        ("Block public read access on every S3 bucket.", False),
        ("Add the Config rule s3-bucket-public-read-prohibited to flag public buckets.", False),
        ("Alert on publicly accessible S3 buckets.", False),
        ("The API is publicly accessible.", False),  # no bucket in the sentence
    ],
)
def test_prompts_that_ask_for_a_public_bucket(text: str, asked: bool) -> None:
    assert bool(asks_public_bucket("# Task\n\n" + text + "\n")) is asked


def test_a_public_website_bucket_the_prompt_asks_for_is_a_note() -> None:
    bucket = {
        "Type": "AWS::S3::Bucket",
        "Properties": {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": False,
                "BlockPublicPolicy": False,
                "IgnorePublicAcls": False,
                "RestrictPublicBuckets": False,
            }
        },
    }
    templates = {"Site": {"Resources": {"Site": bucket}}}
    ctx = make_context({}, templates)
    (scored,) = [f for f in run_checks(ctx) if f.check == "s3-public-access"]
    assert scored.severity == "high"
    ctx = make_context({}, templates)
    ctx.prompt = "Create an S3 bucket to host a static website with public read access.\n"
    (note,) = [f for f in run_checks(ctx) if f.check == "s3-public-access"]
    assert note.severity == "info" and "as the task's prompt requires" in note.message


@pytest.mark.parametrize(
    "text",
    [
        "- Resource names must include **environmentSuffix** for uniqueness",
        "All resources must use the `environmentSuffix` variable in their names to support PR environments.",
        "MANDATORY: All named resources MUST include `EnvironmentSuffix` in their names",
        "Every resource name must include the ENVIRONMENT_SUFFIX interpolated into the name.",
        "Use EnvironmentSuffix in resource names and tags.",
    ],
)
def test_suffixed_name_requirements_are_recognised(text: str) -> None:
    assert asks_suffixed_names("# Task\n\nBuild an API.\n" + text + "\n")


@pytest.mark.parametrize(
    "text",
    [
        "Parameterize domain name, certificate ARN, and environment suffix (e.g., dev, stage, prod).",
        "There should be ONLY ONE CloudFormation stack named `TapStack{environmentSuffix}`.",
        "We need the stack name to include the environment suffix so stacks can coexist.",
        "Create a bucket named `orders-data` for the reports.",
        "",
    ],
)
def test_other_prompts_do_not_ask_for_suffixed_names(text: str) -> None:
    assert asks_suffixed_names(text) is None
