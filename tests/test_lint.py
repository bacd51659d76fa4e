"""WarmLinter: with its speed-ups it reports exactly what plain ``cfnlint.api.lint`` reports."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from iacgrade.graders.lint import WarmLinter, install_speedups

ROOT = Path(__file__).resolve().parents[1]


def _cdk_like() -> dict[str, Any]:
    """A template shaped like CDK output: bootstrap rule, metadata, roles, policies, functions, data stores."""
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                    }
                ],
                "Version": "2012-10-17",
            },
            "ManagedPolicyArns": [
                {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                        ],
                    ]
                }
            ],
        },
        "Metadata": {"aws:cdk:path": "TapStack/Handler/ServiceRole/Resource"},
    }
    return {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            },
            "Env": {"Type": "String", "AllowedValues": ["dev", "prod"], "Default": "dev"},
        },
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
        "Resources": {
            "HandlerServiceRole": role,
            "HandlerPolicy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                                "Effect": "Allow",
                                "Resource": [{"Fn::GetAtt": ["Table", "Arn"]}],
                            },
                            {
                                "Action": ["sqs:SendMessage"],
                                "Effect": "Allow",
                                "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                            },
                        ],
                        "Version": "2012-10-17",
                    },
                    "PolicyName": "HandlerPolicy",
                    "Roles": [{"Ref": "HandlerServiceRole"}],
                },
            },
            "Handler": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"},
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["HandlerServiceRole", "Arn"]},
                    "Runtime": "python3.12",
                    "MemorySize": 256,
                    "Timeout": 30,
                    "Environment": {
                        "Variables": {
                            "TABLE": {"Ref": "Table"},
                            "NAME": {"Fn::Sub": "app-${Env}-${AWS::Region}"},
                        }
                    },
                    "TracingConfig": {"Mode": "Active"},
                },
                "DependsOn": ["HandlerPolicy", "HandlerServiceRole"],
            },
            "Logs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {
                    "LogGroupName": {"Fn::Join": ["", ["/aws/lambda/", {"Ref": "Handler"}]]},
                    "RetentionInDays": 7,
                },
                "UpdateReplacePolicy": "Delete",
                "DeletionPolicy": "Delete",
            },
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                },
                "UpdateReplacePolicy": "Retain",
                "DeletionPolicy": "Retain",
            },
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "VisibilityTimeout": 180,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]},
                        "maxReceiveCount": 3,
                    },
                },
            },
            "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "Tags": [{"Key": "Environment", "Value": {"Ref": "Env"}}],
                },
            },
            "Sg": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "db",
                    "SecurityGroupIngress": [
                        {"CidrIp": "10.0.0.0/16", "FromPort": 3306, "ToPort": 3306, "IpProtocol": "tcp"}
                    ],
                    "VpcId": "vpc-12345678",
                },
            },
            "Db": {
                "Type": "AWS::RDS::DBInstance",
                "Condition": "IsProd",
                "Properties": {
                    "DBInstanceClass": "db.t3.micro",
                    "Engine": "mysql",
                    "EngineVersion": "8.0",
                    "AllocatedStorage": "20",
                    "MasterUsername": "admin",
                    "ManageMasterUserPassword": True,
                    "StorageEncrypted": True,
                    "VPCSecurityGroups": [{"Fn::GetAtt": ["Sg", "GroupId"]}],
                },
                "UpdateReplacePolicy": "Snapshot",
                "DeletionPolicy": "Snapshot",
            },
            "CDKMetadata": {
                "Type": "AWS::CDK::Metadata",
                "Properties": {"Analytics": "v2:deflate64:H4sIAAAAAAAA/zPSMzQ3MDBQTC"},
                "Metadata": {"aws:cdk:path": "TapStack/CDKMetadata/Default"},
            },
        },
        "Outputs": {
            "TableName": {
                "Value": {"Ref": "Table"},
                "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-table"}},
            },
            "DbEndpoint": {"Condition": "IsProd", "Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}},
        },
        "Rules": {
            "CheckBootstrapVersion": {
                "Assertions": [
                    {
                        "Assert": {
                            "Fn::Not": [
                                {"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}
                            ]
                        },
                        "AssertDescription": "CDK bootstrap stack version 6 required.",
                    }
                ]
            }
        },
    }


def _variant(change: str) -> str:
    """The CDK-like template with one mistake of the kind answers make (or none), as JSON text."""
    t = _cdk_like()
    res = t["Resources"]
    if change == "queue-retention-too-short":  # E3034
        res["Dlq"]["Properties"]["MessageRetentionPeriod"] = 10
    elif change == "wrong-type":  # E3012
        res["Handler"]["Properties"]["MemorySize"] = "lots"
    elif change == "unknown-property":  # E3002
        res["Table"]["Properties"]["PointInTimeRecovery"] = True
    elif change == "ref-to-nothing":  # E1020
        res["Handler"]["Properties"]["Environment"]["Variables"]["TABLE"] = {"Ref": "Tabel"}
    elif change == "bad-getatt":  # E1010
        res["HandlerPolicy"]["Properties"]["PolicyDocument"]["Statement"][1]["Resource"] = {
            "Fn::GetAtt": ["Queue", "Url"]
        }
    elif change == "sub-unknown-variable":  # E1019
        res["Handler"]["Properties"]["Environment"]["Variables"]["NAME"] = {"Fn::Sub": "app-${Stage}"}
    elif change == "duplicate-log-group":  # E3019
        res["Logs2"] = copy.deepcopy(res["Logs"])
    elif change == "storage-encrypted-replica":  # E3020: StorageEncrypted on a read replica
        res["Db"]["Properties"]["SourceDBInstanceIdentifier"] = "source-db"
    elif change == "missing-required":  # E3003
        del res["Table"]["Properties"]["KeySchema"]
    elif change == "bad-enum":  # E3030
        res["Table"]["Properties"]["BillingMode"] = "ON_DEMAND"
    elif change == "bad-runtime":  # E3030 on Runtime
        res["Handler"]["Properties"]["Runtime"] = "python2.0"
    elif change == "unknown-condition":  # E3015
        res["Db"]["Condition"] = "IsStaging"
    elif change == "circular":  # E3004
        res["Queue"]["DependsOn"] = ["Dlq"]
        res["Dlq"]["DependsOn"] = ["Queue"]
    elif change == "bad-resource-type":  # E3006
        res["Bucket"]["Type"] = "AWS::S3::Bukket"
    elif change == "ports-on-all-protocols":  # W3687: ports on an all-protocols rule
        res["Sg"]["Properties"]["SecurityGroupIngress"][0]["IpProtocol"] = "-1"
    elif change == "class-for-engine":  # E3062, engine in capitals (the rule lowers it)
        res["Db"]["Properties"].update(Engine="MySQL", EngineVersion="8.0.35", DBInstanceClass="db.m1.small")
    elif change == "class-for-engine-version":  # E3062
        res["Db"]["Properties"].update(EngineVersion="5.7.44", DBInstanceClass="db.t4g.micro")
    elif change == "engine-from-parameter":  # E3062's whole schema: the engine is not a string
        t["Parameters"]["DbEngine"] = {"Type": "String", "Default": "mysql", "AllowedValues": ["mysql"]}
        res["Db"]["Properties"].update(Engine={"Ref": "DbEngine"}, DBInstanceClass="db.m1.small")
    elif change == "update-policy-on-table":  # E3016: a table takes no UpdatePolicy
        res["Table"]["UpdatePolicy"] = {"AutoScalingRollingUpdate": {"MinInstancesInService": 1}}
    elif change == "no-resources":  # E1001
        t = {"Parameters": t["Parameters"]}
    elif change == "not-json":  # E0000
        return '{"Resources": {'
    else:
        assert change == "none"
    return json.dumps(t, indent=1)


CHANGES = [
    "none",
    "queue-retention-too-short",
    "wrong-type",
    "unknown-property",
    "ref-to-nothing",
    "bad-getatt",
    "sub-unknown-variable",
    "duplicate-log-group",
    "storage-encrypted-replica",
    "missing-required",
    "bad-enum",
    "bad-runtime",
    "unknown-condition",
    "circular",
    "bad-resource-type",
    "ports-on-all-protocols",
    "class-for-engine",
    "class-for-engine-version",
    "engine-from-parameter",
    "update-policy-on-table",
    "no-resources",
    "not-json",
]

# Both sides run in a fresh interpreter: the speed-ups are process-wide, so "plain" cfn-lint must live
# in a process that never installed them, and one hash seed keeps messages that print sets comparable.
_PLAIN = textwrap.dedent("""
    import json, sys
    import cfnlint.api as api
    out = []
    for text, region in json.load(sys.stdin):
        matches = api.lint(text, regions=[region])
        out.append(sorted([m.rule.id, str(m.message), [str(p) for p in getattr(m, "path", None) or []]] for m in matches))
    print(json.dumps(out))
""")
_WARM = textwrap.dedent("""
    import json, sys
    from iacgrade.graders.lint import WarmLinter, install_speedups
    linter = WarmLinter()
    assert all(install_speedups().values()), install_speedups()
    out = []
    for text, region in json.load(sys.stdin):
        matches = linter.lint(text, regions=(region,))
        out.append(sorted([m["rule"], m["message"], [str(p) for p in m["path"]]] for m in matches))
    print(json.dumps(out))
""")


def _run(script: str, texts: list[tuple[str, str]]) -> list[list[list[Any]]]:
    """Each (template text, region) linted by ``script`` in a fresh interpreter: its matches."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: list[list[list[Any]]] = json.loads(proc.stdout)
    return result


def test_warm_linter_with_speedups_reports_what_plain_cfn_lint_reports() -> None:
    texts = [(_variant(c), "us-east-1") for c in CHANGES]
    plain = _run(_PLAIN, texts)
    warm = _run(_WARM, texts)
    for change, p, w in zip(CHANGES, plain, warm, strict=True):
        assert w == p, change
    # The comparison means something only if the variants do trip error rules.
    errors = {m[0] for matches in plain for m in matches if m[0].startswith("E")}
    assert errors >= {"E0000", "E1001", "E1010", "E1019", "E1020", "E3002", "E3003", "E3004", "E3006"}
    assert errors >= {"E3012", "E3015", "E3019", "E3020", "E3030", "E3016", "E3034", "E3062", "E3691"}


def _regional() -> str:
    """A template whose matches depend on the region: an agent type some regions lack (E3006), an
    instance class some regions do not offer (E3025)."""
    t = _cdk_like()
    t["Resources"]["Agent"] = {"Type": "AWS::Bedrock::Agent", "Properties": {"AgentName": "a"}}
    t["Resources"]["Db"] = {
        "Type": "AWS::RDS::DBInstance",
        "Properties": {
            "Engine": "mysql",
            "DBInstanceClass": "db.r7g.large",
            "AllocatedStorage": "20",
            "MasterUsername": "admin",
            "ManageMasterUserPassword": True,
        },
    }
    return json.dumps(t)


def test_one_warm_linter_lints_each_template_for_its_own_region() -> None:
    """The parse worker keeps one linter for every region: a template linted for one region, then
    another, then the first again gets each region's matches, as a fresh cfn-lint for it gives."""
    regional, plain_text = _regional(), _variant("none")
    pairs = [
        (regional, "us-east-1"),
        (regional, "af-south-1"),
        (plain_text, "af-south-1"),
        (regional, "us-east-1"),
        (regional, "us-west-1"),
        (regional, "af-south-1"),
    ]
    plain = _run(_PLAIN, pairs)
    warm = _run(_WARM, pairs)
    assert warm == plain
    # Only meaningful if the regions do differ: af-south-1 lacks the agent and the instance class.
    rules = [{m[0] for m in matches} for matches in plain]
    assert {"E3006", "E3025"} <= rules[1] - rules[0]
    assert "E3006" in rules[4] - rules[0]


def test_speedups_match_the_installed_cfn_lint() -> None:
    """Fails after a cfn-lint upgrade that changed the patched code: re-check it, then update the fingerprints."""
    linter = WarmLinter()
    # cfn-lint loads each rule file as a module of its own: the narrowing sits on this linter's rule.
    assert "validate" in vars(linter._rules.get("E3062"))
    assert "cfnLint" in vars(linter._rules.get("E1101"))
    assert "validate" in vars(linter._rules.get("E3016"))
    assert install_speedups() == {
        "cfnlint.jsonschema.validators.create": True,
        "cfnlint.context.context.Context.evolve": True,
        "cfnlint.context.context.Path.evolve": True,
        "cfnlint.context.context.Path.descend": True,
        "cfnlint.jsonschema._filter.FunctionFilter.evolve": True,
        "cfnlint.rules.jsonschema.Base.BaseJsonSchema.extend_validator": True,
        "cfnlint.schema.resolver._resolver": True,
        "cfnlint.jsonschema._keywords": True,
        "cfnlint.jsonschema._utils": True,
        "cfnlint.schema._getatts": True,
        "cfnlint.template.template": True,
        "cfnlint.rules.resources.rds.DbInstanceDbInstanceClassWithEngine.validate": True,
        "cfnlint.rules.jsonschema.CfnLintJsonSchema.CfnLintJsonSchema.validate": True,
        "cfnlint.rules.jsonschema.CfnLint.CfnLint.cfnLint": True,
        "cfnlint.rules.resources.updatepolicy.Configuration.Configuration.__init__": True,
        "cfnlint.rules.resources.updatepolicy.Configuration.Configuration.validate": True,
    }


def test_equal_arguments_share_one_validator_class() -> None:
    WarmLinter()
    import cfnlint.jsonschema.validators as validators
    from cfnlint.jsonschema._filter import FunctionFilter

    def fn(*_: Any) -> None:
        return None

    a = validators.create({"x": fn}, FunctionFilter(), {})
    assert validators.create({"x": fn}, FunctionFilter(), {}) is a
    assert validators.create({"x": fn}, FunctionFilter(add_cfn_lint_keyword=False), {}) is not a
    assert validators.create({"y": fn}, FunctionFilter(), {}) is not a
    # An argument that cannot be a key is passed through uncached, not refused.
    unkeyable = validators.create({"x": [fn]}, FunctionFilter(), {})  # type: ignore[dict-item]
    assert unkeyable is not validators.create({"x": [fn]}, FunctionFilter(), {})  # type: ignore[dict-item]


def test_a_repeated_template_gets_the_same_matches_in_fresh_lists() -> None:
    linter = WarmLinter()
    text = _variant("queue-retention-too-short")
    first = linter.lint(text)
    assert any(m["rule"] == "E3034" for m in first)
    expected = copy.deepcopy(first)
    first[0]["path"].append("changed by a caller")
    first.append({"rule": "X"})
    assert linter.lint(text) == expected


def _context() -> Any:
    """cfn-lint's Context for the CDK-like template (parameters, resources, conditions filled in)."""
    from cfnlint.context import create_context_for_template
    from cfnlint.template import Template

    return create_context_for_template(Template("t.json", json.loads(_variant("none")), ["us-east-1"]))


def test_fast_context_and_path_evolve_build_what_the_originals_build() -> None:
    WarmLinter()
    from collections import deque

    from cfnlint.context.context import Context, Path

    context = _context()
    original = Context.evolve.__wrapped__  # type: ignore[attr-defined]
    for kwargs in (
        {},
        {"functions": ["Ref", "Fn::GetAtt"]},
        {"ref_values": {"AWS::Region": "eu-west-1"}},
        {"strict_types": False, "is_resolved_value": True, "parameter_sets": None},
    ):
        fast, slow = context.evolve(**kwargs), original(context, **kwargs)
        assert fast == slow and type(fast) is Context, kwargs
        assert vars(fast) == vars(slow), kwargs
        assert fast is not context
    # ref_values are merged into the old ones, never the old dict changed
    merged = context.evolve(ref_values={"A": 1}).evolve(ref_values={"B": 2})
    assert merged.ref_values == {**context.ref_values, "A": 1, "B": 2}
    assert "A" not in context.ref_values
    # an argument that is not a field fails as it does in cfn-lint
    try:
        context.evolve(no_such_field=1)
    except TypeError:
        pass
    else:
        raise AssertionError("an unknown field was accepted")

    path = Path(deque(["Resources", "Bucket"]), deque(), deque(["Resources", "AWS::S3::Bucket"]))
    for kwargs in ({}, {"path": "Properties"}, {"path": 0, "cfn_path": "*"}, {"value_path": "Default"}):
        fast, slow = path.descend(**kwargs), Path.descend.__wrapped__(path, **kwargs)  # type: ignore[attr-defined]
        assert fast == slow and vars(fast) == vars(slow), kwargs
        for name in kwargs:  # a part given: a new deque (the old one unchanged); else the same one
            assert getattr(fast, name) is not getattr(path, name)
        assert (fast.path is path.path) is (slow.path is path.path)
        assert Path.evolve(path, **{k: deque([v]) for k, v in kwargs.items()}) == Path.evolve.__wrapped__(  # type: ignore[attr-defined]
            path, **{k: deque([v]) for k, v in kwargs.items()}
        )
    assert list(path.path) == ["Resources", "Bucket"]
    for bad in ("Fn::Sub", 3):
        try:
            path.descend(cfn_path=bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"cfn_path {bad!r} was accepted")


def test_fast_function_filter_evolve_builds_what_the_original_builds() -> None:
    WarmLinter()
    from cfnlint.jsonschema._filter import FunctionFilter

    base = FunctionFilter(validate_dynamic_references=False)
    for kwargs in ({}, {"add_cfn_lint_keyword": False}, {"validate_dynamic_references": True}):
        fast, slow = base.evolve(**kwargs), FunctionFilter.evolve.__wrapped__(base, **kwargs)  # type: ignore[attr-defined]
        assert vars(fast) == vars(slow), kwargs
        assert fast.group_functions is not base.group_functions  # a fresh default, as cfn-lint makes


def _validator() -> Any:
    """A validator of the kind cfn-lint's rules evolve: the template's, with a resource schema."""
    from cfnlint.jsonschema.validators import CfnTemplateValidator
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
    from cfnlint.template import Template

    cfn = Template("t.json", json.loads(_variant("none")), ["us-east-1"])
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::S3::Bucket").schema
    return CfnTemplateValidator(schema=schema, cfn=cfn, context=cfn.context)


def test_fast_validator_evolve_builds_what_the_original_builds() -> None:
    WarmLinter()
    validator = _validator()
    cls = type(validator).extend(validator, validators={"x": lambda *_: None})
    base = cls(schema=validator.schema, cfn=validator.cfn, context=validator.context)
    original = cls.evolve.__wrapped__  # type: ignore[attr-defined]
    base.validators = {"type": None}  # as GetAtt does: an evolved copy gets the class's validators back
    for kwargs in (
        {},
        {"schema": {"type": "string"}},
        {"context": validator.context.evolve(strict_types=False)},
    ):
        fast, slow = base.evolve(**kwargs), original(base, **kwargs)
        assert type(fast) is type(slow) is cls
        assert list(vars(fast)) == list(vars(slow))  # same fields, written in the same order
        assert vars(fast) == vars(slow), kwargs
        assert fast.validators is cls().validators and fast is not base
    try:
        base.evolve(no_such_field=1)
    except TypeError:
        pass
    else:
        raise AssertionError("an unknown field was accepted")


def test_fast_extend_validator_builds_what_the_original_builds() -> None:
    WarmLinter()
    from cfnlint.rules.jsonschema.Base import BaseJsonSchema

    validator = _validator()
    rule = BaseJsonSchema()
    rule.validators = {"x": lambda *_: None}  # type: ignore[dict-item]
    schema = {"type": "object", "properties": {"A": {"$ref": "#/definitions/B"}}, "definitions": {"B": {}}}
    context = validator.context.evolve(strict_types=False)
    fast = rule.extend_validator(validator, schema, context)
    slow = BaseJsonSchema.extend_validator.__wrapped__(rule, validator, schema, context)  # type: ignore[attr-defined]
    assert type(fast) is type(slow)
    assert fast.cfn is slow.cfn is validator.cfn and fast.context is slow.context is context
    assert fast.resolver is not slow.resolver and vars(fast.resolver).keys() == vars(slow.resolver).keys()
    assert fast.resolver.referrer is slow.resolver.referrer is schema
    same = ("schema", "validators", "function_filter", "fn_resolvers", "_type_checker", "format_checker")
    assert all(getattr(fast, name) is getattr(slow, name) for name in same)
    assert list(vars(fast)) == list(vars(slow))


def test_cached_schema_search_resolves_what_the_original_resolves() -> None:
    WarmLinter()
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
    from cfnlint.schema.resolver import RefResolver
    from cfnlint.schema.resolver._exceptions import RefResolutionError

    bucket = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::S3::Bucket").schema
    with_ids: dict[str, Any] = {
        "$id": "https://example.com/root",
        "definitions": {"A": {"id": "#named", "type": "string"}, "B": {"$id": "#other", "items": [{"x": 1}]}},
    }
    cases: list[tuple[Any, str]] = [
        (bucket, "/definitions/Tag"),
        (bucket, "definitions/LifecycleConfiguration/properties/Rules"),
        (bucket, ""),
        (with_ids, "named"),
        (with_ids, "other"),
        (with_ids, "/definitions/B/items/0"),
        (with_ids, "/definitions/B/items/x"),
        (with_ids, "/definitions/a~1b"),
        (bucket, "/definitions/NoSuchThing"),
    ]
    resolver = RefResolver.from_schema(bucket)
    original = RefResolver.resolve_fragment.__wrapped__  # type: ignore[attr-defined]
    for _ in range(2):  # the second round reads the cache
        for document, fragment in cases:
            outcomes: list[tuple[str, object]] = []
            for resolve in (resolver.resolve_fragment, lambda d, f: original(resolver, d, f)):
                try:
                    outcomes.append(("ok", id(resolve(document, fragment))))
                except RefResolutionError as e:
                    outcomes.append(("error", str(e)))
            assert outcomes[0] == outcomes[1], (fragment, outcomes)
    assert resolver.resolve_fragment(with_ids, "named") is with_ids["definitions"]["A"]
    for document in (bucket, with_ids):
        fast = RefResolver.from_schema(document)
        slow_table = RefResolver._get_subschemas_cache.__wrapped__(RefResolver.from_schema(document))  # type: ignore[attr-defined]
        assert fast._get_subschemas_cache() == slow_table
        assert fast._get_subschemas_cache() is fast._get_subschemas_cache()  # kept on the resolver
        assert (
            RefResolver.from_schema(document)._get_subschemas_cache()["$id"]
            is not fast._get_subschemas_cache()["$id"]
        )


def test_compiled_search_finds_what_regex_search_finds() -> None:
    WarmLinter()
    import cfnlint.jsonschema._keywords as keywords
    import cfnlint.jsonschema._utils as utils
    import cfnlint.schema._getatts as getatts
    import cfnlint.template.template as template
    import regex

    from iacgrade.graders.lint import _CompiledSearch

    assert all(isinstance(m.re, _CompiledSearch) for m in (keywords, utils, getatts, template))
    search = _CompiledSearch(regex)
    cases = [
        ("^arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/.+$", "arn:aws:iam::123456789012:role/x"),
        ("^arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/.+$", "arn:aws:iam::1234:role/x"),
        ("^[a-z0-9.-]{3,63}$", "my-bucket"),
        ("^[a-z0-9.-]{3,63}$", "My_Bucket"),
        ("\\p{L}+", "übung"),  # regex's own syntax, which re lacks
        ("", "anything"),
    ]
    cases += [("(a)(b)?", "ab a aab"), ("[A-Z]", "ABC"), ("\\d+", "12 and 345"), ("x?", "")]
    for pattern, text in cases * 2:  # the second round reads compiled patterns back
        for name in ("search", "match", "fullmatch"):
            got, want = getattr(search, name)(pattern, text), getattr(regex, name)(pattern, text)
            assert (got and (got.span(), got.groups())) == (want and (want.span(), want.groups())), (
                name,
                pattern,
                text,
            )
        assert search.findall(pattern, text) == regex.findall(pattern, text), (pattern, text)
    assert len(search._compiled) == len({p for p, _ in cases})  # noqa: SLF001
    # flags and other calls pass through to the module
    assert search.search("abc", "ABC", regex.IGNORECASE) is not None
    assert search.fullmatch("a+", "AAA", regex.IGNORECASE) is not None
    assert search.findall(regex.compile("a"), "aXa") == ["a", "a"]
    for bad in ("(", "[a-"):
        try:
            search.search(bad, "x")
        except regex.error:
            pass
        else:
            raise AssertionError(f"{bad!r} compiled")


def test_the_parse_hands_the_lint_the_text_it_decoded() -> None:
    """The parse worker lints the text parse_text decoded (a JSON template cut at its closing brace),
    not the answer's text again: kept beside the decoded template."""
    from iacgrade.graders.kinds.cfn_parse import json_object_only, parse_text

    template = _variant("queue-retention-too-short")
    for text in (template, template + "\n\nThis template creates a queue and a table.\n"):
        keep: list[Any] = []
        read: list[str] = []
        assert parse_text(text, keep, read)["status"] == "ok"
        (decoded,), (linted,) = keep, read
        assert linted == json_object_only(text)[0] and linted.startswith(template)
        assert "This template" not in linted
        assert decoded == json.loads(template)
        matches = WarmLinter().lint(linted, decoded)
        assert any(m["rule"] == "E3034" for m in matches)
