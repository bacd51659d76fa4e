"""Edge cases of hardcoded-secret, s3-public-access and encryption-missing (hand-written templates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.checkkit import run_check


def _res(rtype: str, path: str | None = None, **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Type": rtype, "Properties": props}
    if path:
        out["Metadata"] = {"aws:cdk:path": f"Stack/{path}/Resource"}
    return out


CDK_HEADER = "from aws_cdk import Stack, SecretValue\nfrom aws_cdk import aws_lambda as _lambda\n"


# ---- hardcoded-secret ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("apiKey", True),
        ("client_secret", True),
        ("x-api-key", True),
        ("MasterUserPassword", True),
        ("GITHUB_TOKEN", True),
        ("SECRET_NAME", False),
        ("DB_SECRET_ARN", False),
        ("TOKEN_TTL", False),
        ("password_length", False),
        ("GenerateStringKey", False),
        ("SecretStringTemplate", False),
        ("api_key_name", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert _env_var_is_a_secret(name, "Tr0ub4dor&3") is secret


def test_a_secret_name_question_tokenizes_each_word_once() -> None:
    """A template asks about every property name against the same words: the words and the
    names are tokenized once per process, and a caller still gets a list of its own."""
    from iacgrade.graders.analysis import secret_names

    secret_names._tokens.cache_clear()
    secret_names._is_secret_name.cache_clear()
    words = list(secret_names.SECRET_WORDS)
    for _ in range(3):
        assert secret_names.is_secret_name("MasterUserPassword", words)
        assert not secret_names.is_secret_name("BucketName", words)
        assert secret_names.is_secret_name("apiKey", ("api_key",))
    assert secret_names._tokens.cache_info().misses == len(words) + 3  # each word, each name once
    tokens = secret_names.name_tokens("DbPassword")
    tokens.append("x")
    assert secret_names.name_tokens("DbPassword") == ["db", "password"]


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("password123", True),
        ("Tr0ub4dor&3", True),
        ("9f8e7d6c5b4a39281706", True),
        ("CHANGE_ME_IN_CONSOLE", False),
        ("ChangeMe123!", True),
        ("<your-api-key>", False),
        ("your-api-key", False),
        ("prod/db", False),
        ("orders-api-key", False),
        ("DB_SECRET_ARN", False),
        ("{{resolve:secretsmanager:db:SecretString:password}}", False),
        ("'true'", False),
        ("Bearer token", False),
        ("default-key", False),
        ("abc", False),
    ],
)
def test_secret_values(value: str, secret: bool) -> None:
    assert _env_var_is_a_secret("DB_PASSWORD", value) is secret


def _env_var_is_a_secret(name: str, value: str) -> bool:
    """Whether hardcoded-secret reports a function's environment variable ``name`` set to ``value``."""
    resources = {"FnA1B2C3D4": _res("AWS::Lambda::Function", "Fn", Environment={"Variables": {name: value}})}
    return bool(run_check("hardcoded-secret", {}, resources))


def test_secret_through_a_variable_is_one_finding_with_both_lenses() -> None:
    code = CDK_HEADER + (
        "class S(Stack):\n"
        "    def __init__(self, scope, cid):\n"
        "        super().__init__(scope, cid)\n"
        "        env = {'STRIPE_API_KEY': 'rk9ZtQ2wX81mVb7c'}\n"
        "        _lambda.Function(self, 'Payments', environment=env)\n"
    )
    resources = {
        "Payments0A1B2C3D": _res(
            "AWS::Lambda::Function",
            "Payments",
            Environment={"Variables": {"STRIPE_API_KEY": "rk9ZtQ2wX81mVb7c"}},
        )
    }
    (finding,) = run_check("hardcoded-secret", {"lib/stack.py": code}, resources)
    assert finding.lenses == ["source", "template"]
    assert "STRIPE_API_KEY" in finding.message and "rk9ZtQ2wX81mVb7c" not in finding.message
    assert {e.file for e in finding.evidence} == {"lib/stack.py", None}


def test_intrinsics_and_references_are_not_secrets() -> None:
    resolve = {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "DbSecret"}, ":SecretString:password::}}"]]
    }
    resources = {
        "DbA1B2C3D4": _res("AWS::RDS::DBInstance", "Db", MasterUserPassword=resolve, StorageEncrypted=True),
        "FnA1B2C3D4": _res(
            "AWS::Lambda::Function",
            "Fn",
            Environment={"Variables": {"DB_PASSWORD": {"Ref": "Param"}, "API_TOKEN": "${Token[TOKEN.12]}"}},
        ),
        "SecretA1B2C3D4": _res(
            "AWS::SecretsManager::Secret",
            "Secret",
            GenerateSecretString={
                "GenerateStringKey": "password",
                "SecretStringTemplate": '{"username":"app"}',
            },
        ),
    }
    assert run_check("hardcoded-secret", {}, resources) == []


def test_template_only_places_parameters_outputs_ssm_and_secret_strings() -> None:
    resources = {
        "ParamA1B2C3D4": _res(
            "AWS::SSM::Parameter", "Param", Name="/shop/db-password", Value="pgPass2024x", Type="String"
        ),
        "SecretA1B2C3D4": _res(
            "AWS::SecretsManager::Secret",
            "Secret",
            SecretString='{"username": "app", "password": "Zq8!mNp2"}',
        ),
        "KeyA1B2C3D4": _res(
            "AWS::ApiGateway::ApiKey", "Key", Value="k3yV4lu3-0123456789abcdef", Enabled=True
        ),
    }
    extra = {
        "Parameters": {"AdminPassword": {"Type": "String", "Default": "Adm1nPass!", "NoEcho": True}},
        "Outputs": {"ServiceToken": {"Value": "tok_9a8b7c6d5e4f"}, "TableName": {"Value": "orders"}},
    }
    findings = run_check("hardcoded-secret", {}, resources, template_extra=extra)
    text = " | ".join(f.message for f in findings)
    assert len(findings) == 5, text
    for name in ("db-password", "password", "Value", "AdminPassword", "ServiceToken"):
        assert f"`{name}`" in text


def test_application_code_and_getenv_fallbacks_count_tests_do_not() -> None:
    handler = (
        "import os\n"
        "DB_PASSWORD = os.environ.get('DB_PASSWORD', 'localPass99')\n"
        "def handler(event, context):\n"
        "    return connect(password=os.getenv('DB_PASSWORD'))\n"
    )
    test = "def test_x():\n    connect(password='hunter2-test')\n"
    (finding,) = run_check("hardcoded-secret", {"lambda/app.py": handler, "tests/test_app.py": test})
    assert "application code lambda/app.py" in finding.message and finding.evidence[0].line == 2


def test_inline_lambda_code_is_read_for_secrets() -> None:
    code = CDK_HEADER + (
        "class S(Stack):\n"
        "    def __init__(self, scope, cid):\n"
        "        super().__init__(scope, cid)\n"
        "        _lambda.Function(self, 'Fn', runtime=_lambda.Runtime.PYTHON_3_12, handler='index.handler',\n"
        "            code=_lambda.Code.from_inline('API_KEY = \"q7Wm2Kx9Lp4Zr8Tn\"\\ndef handler(e, c):\\n    return 1\\n'))\n"
    )
    (finding,) = run_check("hardcoded-secret", {"lib/stack.py": code})
    assert "inline code of Fn" in finding.message
    assert finding.evidence[0].file == "lib/stack.py"


def test_placeholder_secret_value_is_not_a_finding() -> None:
    code = CDK_HEADER + (
        "class S(Stack):\n"
        "    def __init__(self, scope, cid):\n"
        "        super().__init__(scope, cid)\n"
        "        Secret(self, 'S', secret_object_value={'api_key': SecretValue.unsafe_plain_text('REPLACE_ME')})\n"
    )
    assert run_check("hardcoded-secret", {"lib/stack.py": code}) == []


# ---- s3-public-access ------------------------------------------------------------------------


def _policy(bucket: str, statement: dict[str, Any]) -> dict[str, Any]:
    return _res(
        "AWS::S3::BucketPolicy",
        f"{bucket}/Policy",
        Bucket={"Ref": f"{bucket}A1B2C3D4"},
        PolicyDocument={"Statement": [statement], "Version": "2012-10-17"},
    )


def test_policy_pinned_by_condition_is_not_public_secure_transport_is_no_pin() -> None:
    pinned = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "s3:GetObject",
        "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E1"}},
    }
    tls_only = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Condition": {"Bool": {"aws:SecureTransport": "true"}},
    }
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    resources = {
        "SiteA1B2C3D4": _res("AWS::S3::Bucket", "Site"),
        "SitePolicyA1B2C3D4": _policy("Site", pinned),
        "DataA1B2C3D4": _res("AWS::S3::Bucket", "Data"),
        "DataPolicyA1B2C3D4": _policy("Data", tls_only),
        "LogsA1B2C3D4": _res("AWS::S3::Bucket", "Logs"),
        "LogsPolicyA1B2C3D4": _policy("Logs", deny),
    }
    (finding,) = run_check("s3-public-access", {}, resources)
    assert "Data" in finding.message and "s3:GetObject" in finding.message


def test_relaxed_block_public_access_alone_is_not_public_all_off_is() -> None:
    acls_for_logs = {
        "BlockPublicAcls": False,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    all_off = dict.fromkeys(acls_for_logs, False)
    resources = {
        "LogsA1B2C3D4": _res("AWS::S3::Bucket", "Logs", PublicAccessBlockConfiguration=acls_for_logs),
        "OpenA1B2C3D4": _res("AWS::S3::Bucket", "Open", PublicAccessBlockConfiguration=all_off),
        "CondA1B2C3D4": _res(
            "AWS::S3::Bucket", "Cond", PublicAccessBlockConfiguration={"Fn::If": ["C", all_off, {}]}
        ),
    }
    (finding,) = run_check("s3-public-access", {}, resources)
    assert "Open" in finding.message
    code = (
        "from aws_cdk import aws_s3 as s3\n"
        "s3.Bucket(self, 'Logs', block_public_access=s3.BlockPublicAccess(block_public_acls=False,"
        " ignore_public_acls=False, block_public_policy=True, restrict_public_buckets=True))\n"
        "s3.Bucket(self, 'Site', block_public_access=s3.BlockPublicAccess.BLOCK_ACLS)\n"
    )
    assert run_check("s3-public-access", {"lib/stack.py": code}) == []


def test_source_keys_with_fstrings_merge_with_path_metadata() -> None:
    code = (
        "from aws_cdk import aws_s3 as s3\n"
        "site = s3.Bucket(self, f'Site{suffix}', public_read_access=True,\n"
        "                 block_public_access=s3.BlockPublicAccess.BLOCK_ACLS)\n"
    )
    resources = {
        "SitedevA1B2C3D4": _res(
            "AWS::S3::Bucket",
            "Sitedev",
            PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True},
        ),
        "SitedevPolicyA1B2C3D4": _policy(
            "Sitedev", {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject"}
        ),
    }
    (finding,) = run_check("s3-public-access", {"lib/stack.py": code}, resources)
    assert finding.lenses == ["source", "template"]
    assert any(e.line == 2 for e in finding.evidence)


# ---- encryption-missing ----------------------------------------------------------------------


def test_require_cmk_flags_default_encrypted_stores_without_a_customer_key() -> None:
    resources = {
        "PlainA1B2C3D4": _res("AWS::S3::Bucket", "Plain"),
        "KeyedA1B2C3D4": _res(
            "AWS::S3::Bucket",
            "Keyed",
            BucketEncryption={
                "ServerSideEncryptionConfiguration": [
                    {
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]},
                        }
                    }
                ]
            },
        ),
        "QueueA1B2C3D4": _res("AWS::SQS::Queue", "Queue", KmsMasterKeyId="alias/aws/sqs"),
        "TableA1B2C3D4": _res("AWS::DynamoDB::Table", "Table", SSESpecification={"SSEEnabled": True}),
    }
    assert run_check("encryption-missing", {}, resources) == []
    findings = run_check("encryption-missing", {}, resources, options={"require_cmk": True})
    assert sorted(f.message.split(":")[0] for f in findings) == [
        "DynamoDB Table Table",
        "S3 Bucket Plain",
        "SQS Queue Queue",
    ]


def test_prompt_asking_for_a_cmk_and_encrypted_topics(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "PROMPT.md").write_text(
        "Build an orders service.\n- Database encryption at rest using customer-managed KMS keys.\n"
        "- Alerts go to an SNS topic; encrypt it with KMS.\n"
    )
    resources = {
        "DbA1B2C3D4": _res("AWS::RDS::DBInstance", "Db", StorageEncrypted=True),
        "BucketA1B2C3D4": _res("AWS::S3::Bucket", "Bucket"),
        "AlertsA1B2C3D4": _res("AWS::SNS::Topic", "Alerts"),
    }
    findings = run_check("encryption-missing", {}, resources, task_root=str(tmp_path))
    assert sorted(f.message.split(":")[0] for f in findings) == ["RDS DBInstance Db", "SNS Topic Alerts"]
    assert run_check("encryption-missing", {}, resources) == []  # no prompt: S3 and SNS defaults are fine


def test_cluster_members_serverless_and_intrinsics_are_not_flagged() -> None:
    resources = {
        "ClA1B2C3D4": _res("AWS::RDS::DBCluster", "Cl", Engine="aurora-postgresql"),
        "ClWriterA1B2C3D4": _res(
            "AWS::RDS::DBInstance", "Cl/writer", DBClusterIdentifier={"Ref": "ClA1B2C3D4"}
        ),
        "SlA1B2C3D4": _res("AWS::RDS::DBCluster", "Sl", Engine="aurora-mysql", EngineMode="serverless"),
        "StrA1B2C3D4": _res(
            "AWS::Kinesis::Stream",
            "Str",
            StreamEncryption={
                "Fn::If": [
                    "Unsupported",
                    {"Ref": "AWS::NoValue"},
                    {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
                ]
            },
        ),
        "CondDbA1B2C3D4": _res(
            "AWS::RDS::DBInstance", "CondDb", StorageEncrypted={"Fn::If": ["Prod", True, False]}
        ),
    }
    (finding,) = run_check("encryption-missing", {}, resources)
    assert finding.message.startswith("RDS DBCluster Cl:")


def test_domain_ebs_and_redis_cache_cluster() -> None:
    resources = {
        "SearchA1B2C3D4": _res(
            "AWS::OpenSearchService::Domain",
            "Search",
            EncryptionAtRestOptions={"Enabled": False},
            NodeToNodeEncryptionOptions={"Enabled": True},
        ),
        "HostA1B2C3D4": _res(
            "AWS::EC2::Instance",
            "Host",
            BlockDeviceMappings=[
                {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 50}},
                {"DeviceName": "/dev/xvdb", "Ebs": {"Encrypted": True}},
            ],
        ),
        "MemcA1B2C3D4": _res("AWS::ElastiCache::CacheCluster", "Memc", Engine="memcached"),
    }
    findings = {f.message.split(":")[0]: f.message for f in run_check("encryption-missing", {}, resources)}
    assert set(findings) == {"OpenSearchService Domain Search", "EC2 Instance Host"}
    assert "NodeToNode" not in findings["OpenSearchService Domain Search"]
    assert "/dev/xvda" in findings["EC2 Instance Host"] and "/dev/xvdb" not in findings["EC2 Instance Host"]


def test_source_lens_follows_module_aliases_and_docdb_defaults() -> None:
    code = (
        "from aws_cdk import aws_rds as database\n"
        "from aws_cdk import aws_docdb as docdb\n"
        "from aws_cdk.aws_elasticache import CfnCacheCluster\n"
        "database.DatabaseInstance(self, 'Main', engine=engine, vpc=vpc)\n"
        "docdb.DatabaseCluster(self, 'Docs', master_user=user, vpc=vpc)\n"
        "CfnCacheCluster(self, 'Cache', engine='redis', cache_node_type='cache.t3.micro', num_cache_nodes=1)\n"
        "database.DatabaseInstance(self, 'Enc', engine=engine, vpc=vpc, storage_encryption_key=key)\n"
    )
    findings = run_check("encryption-missing", {"lib/stack.py": code})
    assert sorted(f.message.split(":")[0] for f in findings) == [
        "CfnCacheCluster Cache",
        "DatabaseInstance Main",
    ]


def test_codebuild_references_are_not_secrets_plaintext_values_are() -> None:
    env = [
        {"Name": "DB_PASSWORD", "Type": "SECRETS_MANAGER", "Value": "orders-db:password::"},
        {"Name": "NPM_TOKEN", "Type": "PLAINTEXT", "Value": "npm_Xy12Ab34Cd56Ef78"},
    ]
    resources = {
        "BuildA1B2C3D4": _res("AWS::CodeBuild::Project", "Build", Environment={"EnvironmentVariables": env})
    }
    (finding,) = run_check("hardcoded-secret", {}, resources)
    assert "NPM_TOKEN" in finding.message


# ---- s3-insecure-transport ------------------------------------------------------------------------
_DENY_HTTP = {
    "Statement": [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": False}},
        }
    ]
}


def test_insecure_transport_on_a_cloudformation_template() -> None:
    resources = {
        # A !Sub name is not a key to match a policy by: the policy below reaches it by Ref.
        "Data": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": {"Fn::Sub": "data-${AWS::StackName}"}},
        },
        "DataPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {"Bucket": {"Ref": "Data"}, "PolicyDocument": _DENY_HTTP},
        },
        "Logs": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "acme-logs"}},
        "LogsPolicy": {  # names the bucket by its literal name
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {"Bucket": "acme-logs", "PolicyDocument": _DENY_HTTP},
        },
        "Open": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": {"Fn::Sub": "open-${AWS::StackName}"}},
        },
    }
    (finding,) = run_check("s3-insecure-transport", {}, resources)
    assert [e.resource for e in finding.evidence] == ["Open"]
    assert finding.lenses == ["template"]
