"""Edge cases of the synth/deployment checks and of the CDK API index behind invalid-api/deprecated-api."""

from __future__ import annotations

import ast
import textwrap

import pytest

from iacgrade.graders.analysis.cdkapi import api
from iacgrade.graders.analysis.cdkuse import CdkUse
from iacgrade.graders.checks import run_checks
from iacgrade.graders.lint import lint_template
from iacgrade.graders.models import SynthResult
from tests.checkkit import make_context, run_check

needs_cdk = pytest.mark.skipif(not api().available, reason="aws-cdk-lib is not installed")


def _use(text: str) -> CdkUse:
    text = textwrap.dedent(text)
    return CdkUse(ast.parse(text), text).analyse()


# ---- the API index ---------------------------------------------------------------------------
@needs_cdk
def test_api_index_knows_members_keywords_and_deprecations() -> None:
    a = api()
    days = a.cls("aws_cdk.aws_logs", "RetentionDays")
    assert days is not None and a.member(days, "ONE_MONTH") and a.member(days, "THIRTY_DAYS") is False
    table = a.cls("aws_cdk.aws_dynamodb", "Table")
    assert table is not None
    init = a.init(table)
    assert init is not None and init.get("point_in_time_recovery").deprecated  # type: ignore[union-attr]
    runtime = a.cls("aws_cdk.aws_lambda", "Runtime")
    member = a.member(runtime, "PYTHON_3_9")  # type: ignore[arg-type]
    assert member and member.kind == "classproperty"  # type: ignore[union-attr]
    assert a.module_exists("aws_cdk.aws_s3") and a.module_exists("aws_cdk.core") is False
    assert a.module_exists("boto3") is None


@needs_cdk
def test_use_resolves_only_names_imported_from_aws_cdk() -> None:
    use = _use("""
        from aws_cdk import aws_logs as logs
        logs = make_logs()          # rebound: no longer known to be aws_logs
        logs.RetentionDays.THIRTY_DAYS
        """)
    assert use.errors == []


@needs_cdk
def test_use_skips_guarded_imports_and_optional_packages() -> None:
    use = _use("""
        try:
            from aws_cdk import core
        except ImportError:
            import aws_cdk as core
        import aws_cdk.aws_lambda_python_alpha as pylambda
        from aws_cdk.lambda_layer_kubectl_v31 import KubectlV31Layer
        """)
    assert use.errors == []


@needs_cdk
def test_use_flags_cdk_v1_modules() -> None:
    use = _use("from aws_cdk import core\nimport aws_cdk.aws_lambda_python as pyfn\n")
    assert len(use.errors) == 2
    assert "CDK v1" in use.errors[0].message


@needs_cdk
def test_use_keyword_checks_follow_dict_splats_and_stop_at_opaque_ones() -> None:
    use = _use("""
        from aws_cdk import aws_sqs as sqs
        COMMON = {"retention_period_days": 4}
        def build(scope, **extra):
            sqs.Queue(scope, "A", **COMMON)     # unknown keyword inside the dict literal
            sqs.Queue(scope, "B", **extra)      # cannot tell
            sqs.Queue(scope)                    # missing id: TypeError
        """)
    messages = sorted(e.message for e in use.errors)
    assert len(messages) == 2
    assert any("retention_period_days" in m for m in messages)
    assert any("missing the required argument(s) id" in m for m in messages)


@needs_cdk
def test_use_literal_types() -> None:
    use = _use("""
        from aws_cdk import aws_lambda as lambda_, aws_s3 as s3, Duration
        s3.Bucket(scope, "B", versioned="true")                                     # str for bool
        lambda_.Function(scope, "F", runtime=lambda_.Runtime.PYTHON_3_12, handler="i.h",
                         code=lambda_.Code.from_inline("x"), memory_size=256.0,     # float is a Number
                         timeout=Duration.seconds(3), environment={"A": "1"})
        s3.Bucket(scope, "C", cors=[s3.CorsRule(allowed_methods=["GET"], allowed_origins=["*"])])  # str for enum
        """)
    messages = [e.message for e in use.errors]
    assert len(messages) == 2, messages
    assert any("versioned" in m and "bool" in m for m in messages)
    assert not any("scope" in m for m in messages)
    assert any("allowed_methods" in m for m in messages)


@needs_cdk
def test_use_instance_attributes_through_assignment() -> None:
    use = _use("""
        from aws_cdk import aws_sqs as sqs
        class S:
            def __init__(self):
                self.queue = sqs.Queue(self, "Q")
                q = sqs.Queue(self, "R")
                q.metric_visible_messages()              # no such method
                self.queue.metric_approximate_number_of_messages_visible()
                self.queue.custom = 1
                self.queue.custom                        # set by the answer: fine
        """)
    assert [e.code for e in use.errors] == ["q.metric_visible_messages"]


@needs_cdk
def test_use_deprecations_skip_static_properties_and_failing_calls() -> None:
    use = _use("""
        from aws_cdk import aws_lambda as lambda_, aws_ec2 as ec2
        lambda_.Runtime.PYTHON_3_9
        ec2.Vpc(scope, "V", cidr="10.0.0.0/16")
        ec2.Vpc(scope, "W", cidr="10.1.0.0/16", no_such_option=True)   # fails: invalid-api only
        ec2.SubnetType.PRIVATE_WITH_NAT
        """)
    assert sorted((d.key, d.node.lineno) for d in use.deprecations) == [("PRIVATE_WITH_NAT", 6), ("cidr", 4)]  # type: ignore[attr-defined]


# ---- invalid-api / deprecated-api ------------------------------------------------------------
@needs_cdk
def test_invalid_api_reports_a_failed_attempt_a_fallback_got_past() -> None:
    text = (
        "from aws_cdk import aws_dax as dax\n\ndax.CfnCluster(scope, 'D', iam_role_arn='arn', node_type='dax.r5.large', "
        "replication_factor=3, tags=[{'key': 'a'}])\n"
    )
    synth = SynthResult(
        status="ok",
        stacks=["S"],
        fallbacks=["driver"],
        attempts=[
            {
                "error_type": "RuntimeError",
                "cause": "invalid-api",
                "message": "RuntimeError: Unable to deserialize value: InvalidTagInputExpectedMap (lib/tap_stack.py:3)",
            }
        ],
    )
    [finding] = run_check("invalid-api", {"lib/tap_stack.py": text}, synth=synth)
    assert finding.lenses == ["synth"] and finding.evidence[0].line == 3


@needs_cdk
def test_invalid_api_ignores_errors_raised_in_scaffold_files() -> None:
    synth = SynthResult(
        status="failed",
        cause="invalid-api",
        error_type="TypeError",
        file="tap.py",
        line=30,
        message="TypeError: missing 1 required positional argument: 'suffix' (tap.py:30)",
    )
    assert run_check("invalid-api", {"lib/tap_stack.py": "x = 1\n"}, synth=synth) == []


@needs_cdk
def test_deprecated_api_groups_lines_and_reads_both_warning_formats() -> None:
    text = textwrap.dedent("""
        from aws_cdk import aws_dynamodb as dynamodb
        dynamodb.Table(scope, "A", point_in_time_recovery=True)
        dynamodb.Table(scope, "B", point_in_time_recovery=True)
        """)
    synth = SynthResult(
        status="ok",
        stacks=["S"],
        deprecations=[
            "aws-cdk-lib.aws_dynamodb.TableOptions#pointInTimeRecovery is deprecated",
            "aws_ssm.ParameterType is deprecated",
        ],
    )
    findings = run_check("deprecated-api", {"lib/tap_stack.py": text}, synth=synth)
    assert len(findings) == 2
    pitr = next(f for f in findings if "point_in_time_recovery" in f.message)
    assert pitr.lenses == ["source", "synth"] and [e.line for e in pitr.evidence if e.line] == [3, 4]
    assert any("ParameterType" in f.message and f.lenses == ["synth"] for f in findings)


# ---- synth-failed / no-entry-point ------------------------------------------------------------
def test_synth_failed_without_python_code() -> None:
    skipped = SynthResult(status="skipped", cause="no-code", message="the answer has no Python code")
    [finding] = run_check("synth-failed", {"README.md": "# nothing"}, synth=skipped)
    assert "the answer has no Python code" in finding.message and "nothing to build" in finding.message


def test_synth_failed_on_timeout_and_not_when_switched_off() -> None:
    timeout = SynthResult(
        status="timeout", cause="timeout", error_type="Timeout", message="Timeout: synth ran longer than 60 s"
    )
    [finding] = run_check("synth-failed", {"a.py": "x = 1\n"}, synth=timeout)
    assert "did not finish in time" in finding.message
    assert run_check("synth-failed", {"a.py": "x = 1\n"}, synth=SynthResult(status="skipped")) == []


def test_synth_failed_counts_a_stubbed_asset_but_not_a_dummy_env() -> None:
    attempt = {
        "error_type": "RuntimeError",
        "cause": "missing-asset",
        "message": "RuntimeError: Cannot find asset at /job/lambda (lib/tap_stack.py:20)",
    }
    stubbed = SynthResult(status="ok", stacks=["S"], fallbacks=["stub-asset:lambda"], attempts=[attempt])
    [finding] = run_check(
        "synth-failed", {"lib/tap_stack.py": "x = 1\n"}, templates={"S": {"Resources": {}}}, synth=stubbed
    )
    assert "stub-asset:lambda" in finding.message and finding.evidence[0].line == 20
    dummy = SynthResult(
        status="ok", stacks=["S"], fallbacks=["dummy-env"], attempts=[attempt | {"cause": "config"}]
    )
    assert (
        run_check(
            "synth-failed", {"lib/tap_stack.py": "x = 1\n"}, templates={"S": {"Resources": {}}}, synth=dummy
        )
        == []
    )


def test_no_entry_point_not_when_the_answer_has_its_own_app() -> None:
    text = "import aws_cdk as cdk\napp = cdk.App()\napp.synth()\n"
    synth = SynthResult(status="ok", stacks=["S"], entry_kind="driver")
    assert run_check("no-entry-point", {"app.py": text}, templates={"S": {}}, synth=synth) == []


# ---- missing-asset ---------------------------------------------------------------------------
def test_missing_asset_path_forms() -> None:
    text = textwrap.dedent("""
        import os
        from pathlib import Path
        from aws_cdk import aws_lambda as lambda_
        ROOT = Path(__file__).parent
        lambda_.Code.from_asset("lambda")                                          # given
        lambda_.Code.from_asset("./lambda/")                                       # given
        lambda_.Code.from_asset(os.path.join(os.path.dirname(__file__), "fns"))    # lib/fns: missing
        lambda_.Code.from_asset(str(ROOT / "layer"))                               # lib/layer: missing
        lambda_.Code.from_asset("../outside")                                      # cannot tell
        lambda_.Code.from_asset(some_dir)                                          # cannot tell
        """)
    files = {"lib/tap_stack.py": text, "lambda/index.py": "def handler(e, c):\n    return 1\n"}
    findings = run_check("missing-asset", files)
    assert sorted(f.message.split("points at `")[1].split("`")[0] for f in findings) == [
        "lib/fns",
        "lib/layer",
    ]


def test_missing_asset_accepts_files_the_scaffold_provides() -> None:
    text = "from aws_cdk import aws_lambda as lambda_\nlambda_.Code.from_asset('src/handlers')\n"
    assert run_check("missing-asset", {"lib/tap_stack.py": text}, workspace_files=["src/handlers/a.py"]) == []


def test_missing_asset_ignores_calls_of_other_libraries() -> None:
    text = "from mylib import Code\nCode.from_asset('nowhere')\n"
    assert run_check("missing-asset", {"lib/tap_stack.py": text}) == []


# ---- context-lookup / docker-bundling --------------------------------------------------------
def test_context_lookup_needs_an_aws_cdk_import() -> None:
    text = "def from_lookup(x):\n    return x\n\nclass Vpc:\n    pass\n\nVpc.from_lookup(1)\n"
    assert run_check("context-lookup", {"a.py": text}) == []


def test_context_lookup_ssm_value_from_lookup() -> None:
    text = "from aws_cdk import aws_ssm as ssm\nssm.StringParameter.value_from_lookup(None, '/my/param')\n"
    [finding] = run_check("context-lookup", {"a.py": text})
    assert "value_from_lookup" in finding.message and finding.evidence[0].line == 2


def test_docker_bundling_synth_only() -> None:
    synth = SynthResult(status="ok", stacks=["S"], docker_bundling=["public.ecr.aws/sam/build-python3.12"])
    [finding] = run_check("docker-bundling", {"a.py": "x = 1\n"}, templates={"S": {}}, synth=synth)
    assert finding.lenses == ["synth"] and "build-python3.12" in finding.message


# ---- cfn-lint-error --------------------------------------------------------------------------
def _lint_match(rule: str, resource: str, level: str = "error") -> dict:
    return {
        "rule": rule,
        "level": level,
        "message": f"{rule} says no",
        "path": ["Resources", resource, "Properties"],
        "resource": resource,
    }


def test_cfn_lint_error_skips_warnings_helpers_and_ignored_rules() -> None:
    templates = {
        "S": {
            "Resources": {
                "QueueABCDEF12": {"Type": "AWS::SQS::Queue"},
                "CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F": {
                    "Type": "AWS::Lambda::Function"
                },
            }
        }
    }
    lint = {
        "S": [
            _lint_match("E3034", "QueueABCDEF12"),
            _lint_match("E3034", "QueueABCDEF12"),  # same rule, same resource: one finding
            _lint_match("W3005", "QueueABCDEF12", "warning"),
            _lint_match("E3012", "CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F"),
        ]
    }
    [finding] = run_check("cfn-lint-error", {"lib/tap_stack.py": "x = 1\n"}, templates=templates, lint=lint)
    assert "E3034" in finding.message and finding.message.count("Queue") == 1
    options = {"ignore_rules": ["E3034"]}
    assert (
        run_check("cfn-lint-error", {"a.py": "x = 1\n"}, templates=templates, lint=lint, options=options)
        == []
    )


def test_lint_template_returns_plain_dicts() -> None:
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 10}}}}
    matches = lint_template(template)
    assert {"rule": "E3034", "level": "error", "resource": "Q"}.items() <= matches[0].items()
    assert matches[0]["path"][:2] == ["Resources", "Q"]


@needs_cdk
def test_use_enum_called_with_a_value_it_does_not_have() -> None:
    use = _use("""
        from aws_cdk import aws_logs as logs
        logs.RetentionDays(7)
        logs.RetentionDays("ONE_WEEK")
        """)
    assert [e.code for e in use.errors] == ["logs.RetentionDays(7)"]


@needs_cdk
def test_deprecated_class_member_and_warning_about_a_member_of_a_deprecated_class() -> None:
    text = textwrap.dedent("""
        from aws_cdk import aws_cloudfront_origins as origins
        origins.S3Origin(bucket)
        """)
    synth = SynthResult(
        status="ok", stacks=["S"], deprecations=["aws_cloudfront_origins.S3Origin#bind is deprecated"]
    )
    [finding] = run_check("deprecated-api", {"lib/tap_stack.py": text}, synth=synth)
    assert finding.lenses == ["source", "synth"] and "S3Origin" in finding.message


def test_cfn_lint_error_skips_major_version_aliases_and_empty_stacks() -> None:
    lint = {
        "S": [
            {
                "rule": "E3691",
                "level": "error",
                "resource": "Db",
                "message": "'8.0' is not one of ['5.7.44', '8.0.35', '8.0.36']",
                "path": ["Resources", "Db", "Properties", "EngineVersion"],
            }
        ],
        "Empty": [
            {
                "rule": "E1001",
                "level": "error",
                "resource": None,
                "message": "'Resources' is a required property",
                "path": [],
            }
        ],
    }
    templates = {"S": {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance"}}}, "Empty": {}}
    assert run_check("cfn-lint-error", {"a.py": "x = 1\n"}, templates=templates, lint=lint) == []


def test_cfn_lint_error_skips_aurora_instance_classes_given_for_a_non_aurora_engine() -> None:
    """cfn-lint lists Aurora's classes for RDS PostgreSQL 15.12 (it keys them by version number), so
    a db.t3.micro there is noise; on Aurora, and db.t2 on MySQL 8.0, still count."""

    def db(engine: str, version: str, cls: str) -> dict:
        props = {"Engine": engine, "EngineVersion": version, "DBInstanceClass": cls}
        if not engine.startswith("aurora"):
            props |= {"AllocatedStorage": "20", "MasterUsername": "a", "MasterUserPassword": "abcdefgh12"}
        else:
            props["DBClusterIdentifier"] = "c"
        return {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": props}}}

    def e3062(template: dict) -> list:
        lint = {"S": [m for m in lint_template(template) if m["rule"] == "E3062"]}
        return run_check("cfn-lint-error", {"a.py": "x = 1\n"}, templates={"S": template}, lint=lint)

    assert lint_template(db("postgres", "15.12", "db.t3.micro"))  # cfn-lint does report it
    assert e3062(db("postgres", "15.12", "db.t3.micro")) == []
    assert e3062(db("postgres", "15.12", "db.m5.large")) == []
    [aurora] = e3062(db("aurora-postgresql", "15.12", "db.t3.micro"))
    assert "E3062" in aurora.message
    [old] = e3062(db("mysql", "8.0", "db.t2.micro"))
    assert "db.t2.micro" in old.message


@needs_cdk
def test_api_index_round_trips_through_its_json_cache(tmp_path, monkeypatch) -> None:
    from iacgrade.graders.analysis.cdkapi import CdkApi

    monkeypatch.delenv("IACGRADE_CACHE_DIR", raising=False)  # tests/conftest.py sets it; it comes first
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    logs = CdkApi().module("aws_cdk.aws_logs")
    [cached] = tmp_path.rglob("aws_cdk.aws_logs.json")
    assert logs is not None
    cached.write_text("{not json")  # an unreadable index: the module is parsed directly instead
    direct = CdkApi().module("aws_cdk.aws_logs")
    assert direct is not None and cached.read_text() == "{not json"  # parsed here, not from the index
    assert logs.classes["LogGroup"].init == direct.classes["LogGroup"].init
    assert logs.classes["RetentionDays"].members == direct.classes["RetentionDays"].members


def test_cfn_lint_error_reads_the_sandbox_format_keyed_by_artifact_id() -> None:
    templates = {"tap-dev": {"Resources": {"QueueABCDEF12": {"Type": "AWS::SQS::Queue"}}}}
    lint = {
        "TapStackdev": [
            {
                "rule": "E3034",
                "level": "error",
                "message": "10 is less than the minimum of 60",
                "path": "Resources/QueueABCDEF12/Properties/MessageRetentionPeriod",
                "resource": "QueueABCDEF12",
            }
        ]
    }
    [finding] = run_check("cfn-lint-error", {"a.py": "x = 1\n"}, templates=templates, lint=lint)
    assert finding.evidence[0].stack == "tap-dev"
    assert finding.evidence[0].value == "E3034 Resources/QueueABCDEF12/Properties/MessageRetentionPeriod"


def test_one_deprecated_use_is_one_finding() -> None:
    code = (
        "from aws_cdk import Duration, Stack, aws_autoscaling as autoscaling, aws_ec2 as ec2\n"
        "class Web(Stack):\n"
        "    def __init__(self, scope, cid):\n"
        "        super().__init__(scope, cid)\n"
        "        vpc = ec2.Vpc(self, 'Vpc')\n"
        "        autoscaling.AutoScalingGroup(self, 'Asg', vpc=vpc,\n"
        "            instance_type=ec2.InstanceType('t3.micro'),\n"
        "            machine_image=ec2.MachineImage.latest_amazon_linux2(),\n"
        "            health_check=autoscaling.HealthCheck.elb(grace=Duration.minutes(5)))\n"
    )
    found = [f for f in run_checks(make_context({"lib/web.py": code})) if f.check == "deprecated-api"]
    on_line_9 = [f for f in found if any(e.line == 9 for e in f.evidence)]
    assert len(on_line_9) == 1, [f.message for f in found]
    assert "HealthCheck" in on_line_9[0].message and "in the same code" in on_line_9[0].message


def test_one_api_mistake_on_several_lines_is_one_finding_and_a_misspelt_keyword_is_not_two() -> None:
    code = (
        "from aws_cdk import Stack, aws_logs as logs, aws_autoscaling as autoscaling, Duration\n"
        "class Logs(Stack):\n"
        "    def __init__(self, scope, cid):\n"
        "        super().__init__(scope, cid)\n"
        "        logs.LogGroup(self, 'A', retention=logs.RetentionDays.THIRTY_DAYS)\n"
        "        logs.LogGroup(self, 'B', retention=logs.RetentionDays.THIRTY_DAYS)\n"
        "        autoscaling.HealthCheck.elb(grace_period=Duration.minutes(5))\n"
    )
    found = [f for f in run_checks(make_context({"lib/logs.py": code})) if f.check == "invalid-api"]
    thirty = [f for f in found if "THIRTY_DAYS" in f.message]
    assert len(thirty) == 1 and sorted(e.line for e in thirty[0].evidence) == [5, 6]
    elb = [f for f in found if "elb" in f.message]
    assert len(elb) == 1 and "grace_period" in elb[0].message, [f.message for f in found]
