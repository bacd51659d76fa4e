"""Edge cases of the syntax checks (parse-error, undefined-name, unused-import, inline-code-error)."""

from __future__ import annotations

import textwrap

from tests.checkkit import run_check

STACK_HEAD = """\
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct


class S(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
"""


def _fn(code_expr: str, runtime: str = "PYTHON_3_12", handler: str = "index.handler", cid: str = "Fn") -> str:
    return STACK_HEAD + textwrap.indent(
        f'lambda_.Function(self, "{cid}", runtime=lambda_.Runtime.{runtime}, handler="{handler}",\n'
        f"    code=lambda_.Code.from_inline({code_expr}))\n",
        " " * 8,
    )


def _template_fn(zip_file: object, runtime: str = "python3.12", handler: str = "index.handler") -> dict:
    return {
        "S": {
            "Resources": {
                "FnABCDEF12": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"Code": {"ZipFile": zip_file}, "Runtime": runtime, "Handler": handler},
                },
            }
        }
    }


# ---- parse-error -----------------------------------------------------------------------------
def test_parse_error_calls_a_truncated_file_cut_off() -> None:
    text = STACK_HEAD + "        cdk.CfnOutput(self, 'X',\n            value='y'\n"
    [finding] = run_check("parse-error", {"lib/tap_stack.py": text})
    assert "cut off" in finding.message and finding.evidence[0].line == 9


def test_parse_error_in_the_middle_is_not_called_cut_off() -> None:
    text = "x = (1,\ny = 2\n" + "\n".join(f"z{n} = {n}" for n in range(30)) + "\n"
    [finding] = run_check("parse-error", {"a.py": text})
    assert "cut off" not in finding.message


def test_parse_error_ignores_files_that_parse_and_non_python_files() -> None:
    assert run_check("parse-error", {"a.py": "x = 1\n", "README.md": "not ( python"}) == []


# ---- undefined-name --------------------------------------------------------------------------
def test_undefined_name_one_finding_per_file_with_each_name_once() -> None:
    text = "def f():\n    return json.dumps(boto3.client('s3'))\n\n\ndef g():\n    return json.loads('1')\n"
    [finding] = run_check("undefined-name", {"lambda/handler.py": text})
    assert "`json` (line 2)" in finding.message and "`boto3` (line 2)" in finding.message
    assert [e.value for e in finding.evidence] == ["json", "boto3"]


def test_undefined_name_in_an_evaluated_annotation_counts() -> None:
    [finding] = run_check("undefined-name", {"a.py": "def f(x: Props) -> None:\n    pass\n"})
    assert "`Props`" in finding.message


def test_undefined_name_in_a_string_annotation_does_not_count() -> None:
    assert run_check("undefined-name", {"a.py": "def f(x: 'Props') -> None:\n    pass\n"}) == []


def test_undefined_name_leaves_inline_code_to_inline_code_error() -> None:
    text = _fn('"def handler(event, context):\\n    return boto3.client(\\"s3\\")\\n"')
    assert run_check("undefined-name", {"lib/tap_stack.py": text}) == []


# ---- unused-import ---------------------------------------------------------------------------
def test_unused_import_points_at_the_alias_line_of_a_multiline_import() -> None:
    text = "from typing import (\n    Any,\n    List,\n)\n\nx: Any = 1\n"
    [finding] = run_check("unused-import", {"a.py": text})
    assert finding.evidence[0].line == 3 and finding.evidence[0].value == "List"


def test_unused_import_skips_init_files_and_files_that_do_not_parse() -> None:
    files = {"pkg/__init__.py": "from .a import thing\n", "cut.py": "import os\nx = (\n"}
    assert run_check("unused-import", {**files}) == []


def test_unused_import_counts_unit_tests() -> None:
    [finding] = run_check(
        "unused-import", {"tests/test_x.py": "from unittest.mock import MagicMock, patch\n\npatch\n"}
    )
    assert "MagicMock" in finding.message and "tests/test_x.py" in finding.message


def test_unused_import_in_inline_code_points_at_the_outer_line() -> None:
    text = STACK_HEAD + (
        '        lambda_.Function(self, "Fn", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",\n'
        '            code=lambda_.Code.from_inline("""\nimport json\nimport os\n\n'
        'def handler(event, context):\n    return json.dumps(event)\n"""))\n'
    )
    [finding] = run_check("unused-import", {"lib/tap_stack.py": text})
    assert "`os`" in finding.message
    # the literal opens on line 10 of the file; its line 3 (import os) is file line 12
    assert finding.evidence[0].file == "lib/tap_stack.py" and finding.evidence[0].line == 12


# ---- inline-code-error -----------------------------------------------------------------------
def test_inline_missing_import_merges_source_and_template_by_construct() -> None:
    code = "def handler(event, context):\n    return json.dumps(event)\n"
    text = _fn(repr(code), cid="Fn")
    [finding] = run_check("inline-code-error", {"lib/tap_stack.py": text}, templates=_template_fn(code))
    assert finding.lenses == ["source", "template"] and "`json`" in finding.message


def test_inline_template_is_the_judge_when_it_holds_exact_code() -> None:
    # the source lens cannot see the fix a helper applies; the template shows working code
    text = _fn("fix(CODE)")
    good = "import json\n\ndef handler(event, context):\n    return json.dumps(event)\n"
    assert run_check("inline-code-error", {"lib/tap_stack.py": text}, templates=_template_fn(good)) == []


def test_inline_template_only_fn_join_with_tokens() -> None:
    zip_file = {"Fn::Join": ["", ["TABLE = '", {"Ref": "T"}, "'\ndef handler(e, c):\n    return boto3\n"]]}
    [finding] = run_check("inline-code-error", {}, templates=_template_fn(zip_file))
    assert finding.lenses == ["template"] and "`boto3`" in finding.message


def test_inline_fstring_placeholders_do_not_make_parse_errors() -> None:
    text = STACK_HEAD + textwrap.indent(
        'name = "t"\n'
        'lambda_.Function(self, "Fn", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",\n'
        '    code=lambda_.Code.from_inline(f"TABLE = {name}\\ndef handler(e, c):\\n    return TABLE\\n"))\n',
        " " * 8,
    )
    assert run_check("inline-code-error", {"lib/tap_stack.py": text}) == []


def test_inline_handler_reading_what_the_context_object_lacks() -> None:
    code = (
        "import os\n\ndef handler(event, context):\n"
        "    left = context.get_remaining_time_in_millis()\n"
        "    return {'id': context.request_id, 'env': context.environment_variables, 'left': left}\n"
    )
    [finding] = run_check(
        "inline-code-error", {"lib/tap_stack.py": _fn(repr(code))}, templates=_template_fn(code)
    )
    assert finding.lenses == ["source", "template"]
    assert (
        "`context.request_id` (its line 5), `context.environment_variables` (its line 5)" in finding.message
    )
    assert "AttributeError" in finding.message and "`aws_request_id`" in finding.message
    assert "get_remaining_time_in_millis" not in finding.message


def test_inline_context_attributes_of_another_function_are_not_the_handler_s() -> None:
    # the handler is `main`: `handler` and its `context` are a helper's own
    code = "def handler(event, context):\n    return context.status\n\ndef main(e, c):\n    return handler(e, {})\n"
    assert run_check("inline-code-error", {}, templates=_template_fn(code, handler="index.main")) == []


def test_inline_code_indented_as_a_whole_is_reported() -> None:
    code = '"""\n            import json\n            def handler(e, c):\n                return json.dumps(e)\n            """'
    [finding] = run_check("inline-code-error", {"lib/tap_stack.py": _fn(code)})
    assert "indented as a whole" in finding.message


def test_inline_helper_method_with_a_dict_of_node_handlers() -> None:
    text = (
        STACK_HEAD
        + textwrap.indent(
            'for name in ("a", "b"):\n'
            '    lambda_.Function(self, f"{name}-fn", runtime=lambda_.Runtime.NODEJS_18_X, handler="index.handler",\n'
            "        code=lambda_.Code.from_inline(self._code(name)))\n",
            " " * 8,
        )
        + textwrap.indent(
            "\ndef _code(self, name):\n"
            "    codes = {\n"
            "        'a': \"const AWS = require('aws-sdk');\\nexports.handler = async () => 1;\\n\",\n"
            "        'b': \"const { S3Client } = require('@aws-sdk/client-s3');\\nexports.handler = async () => 1;\\n\",\n"
            "    }\n"
            "    return codes.get(name, '')\n",
            " " * 4,
        )
    )
    findings = run_check("inline-code-error", {"lib/tap_stack.py": text})
    assert len(findings) == 1 and "`aws-sdk`" in findings[0].message and "nodejs18.x" in findings[0].message


def test_inline_node_runtime_before_18_provides_aws_sdk_v2() -> None:
    code = repr(
        "const AWS = require('aws-sdk');\nconst path = require('path');\nexports.handler = async () => 1;\n"
    )
    assert run_check("inline-code-error", {"lib/tap_stack.py": _fn(code, runtime="NODEJS_16_X")}) == []


def test_inline_handler_function_missing() -> None:
    code = repr("def lambda_handler(event, context):\n    return 1\n")
    [finding] = run_check("inline-code-error", {"lib/tap_stack.py": _fn(code, handler="index.handler")})
    assert "defines no `handler`" in finding.message and "`lambda_handler`" in finding.message


def test_inline_cloudfront_and_synthetics_code_are_not_lambda_code() -> None:
    text = (
        "from aws_cdk import aws_cloudfront as cloudfront\nfrom aws_cdk import aws_synthetics as synthetics\n"
        "cloudfront.FunctionCode.from_inline('function handler(event) { return evt; }')\n"
        "synthetics.Code.from_inline('const x = require(\"synthetics\");')\n"
    )
    assert run_check("inline-code-error", {"a.py": text}) == []


def test_inline_code_given_through_a_variable_uses_the_function_runtime() -> None:
    text = STACK_HEAD + textwrap.indent(
        "code = lambda_.Code.from_inline(\"const AWS = require('aws-sdk');\\nexports.handler = async () => 1;\")\n"
        'lambda_.Function(self, "Fn", runtime=lambda_.Runtime.NODEJS_20_X, handler="index.handler", code=code)\n',
        " " * 8,
    )
    [finding] = run_check("inline-code-error", {"lib/tap_stack.py": text})
    assert "nodejs20.x" in finding.message


def test_a_typescript_file_the_build_cannot_parse_is_a_parse_error_in_syntax() -> None:
    from iacgrade.graders.checks import run_checks
    from iacgrade.graders.models import SynthResult
    from iacgrade.graders.rubric import load_rubric
    from tests.checkkit import make_context

    text = "import * as cdk from 'aws-cdk-lib';\n" * 8 + "new cdk.App({ a: 1 b: 2 });\n"
    diagnostics = [
        {"code": 1005, "file": "lib/tap-stack.ts", "line": 9, "message": "',' expected."},
        {
            "code": 2353,
            "file": "lib/tap-stack.ts",
            "line": 9,
            "message": "'a' does not exist in type 'AppProps'.",
        },
    ]
    synth = SynthResult(
        status="failed", cause="syntax", error_type="SyntaxError", file="lib/tap-stack.ts", line=9,
        message="SyntaxError: lib/tap-stack.ts:9: ',' expected.", diagnostics=diagnostics,
    )  # fmt: skip
    rubric = load_rubric()
    for cid, spec in rubric.checks.items():
        spec.enabled = cid in ("parse-error", "type-error")
    ctx = make_context({"lib/tap-stack.ts": text}, synth=synth, rubric=rubric)
    ctx.kind = "cdk-typescript"
    by_check = {f.check: f for f in run_checks(ctx)}
    parse = by_check["parse-error"]
    assert (
        parse.category == "syntax"
        and parse.message == "`lib/tap-stack.ts` does not parse: ',' expected. (line 9)"
    )
    assert (parse.evidence[0].file, parse.evidence[0].line) == ("lib/tap-stack.ts", 9)
    # the compiler's own syntax error is that same failure: type-error keeps only the API misuse
    assert (
        "TS2353" in by_check["type-error"].message and "does not parse" not in by_check["type-error"].message
    )
    # a file that parses and fails later is no parse error
    ctx.synth = synth.model_copy(update={"cause": "invalid-api", "error_type": "TypeError"})
    assert "parse-error" not in {f.check for f in run_checks(ctx)}


def test_a_typescript_synth_error_of_the_cdk_api_is_invalid_api_at_its_line() -> None:
    from iacgrade.graders.checks import run_checks
    from iacgrade.graders.models import Attempt, SynthResult
    from iacgrade.graders.rubric import load_rubric
    from tests.checkkit import make_context

    text = (
        "import * as logs from 'aws-cdk-lib/aws-logs';\n" * 42
        + "new logs.CloudWatchLogGroupDestination(g);\n"
    )
    failure = {"error_type": "TypeError", "cause": "invalid-api", "file": "lib/monitoring-stack.ts", "line": 43,
               "message": "logs.CloudWatchLogGroupDestination is not a constructor"}  # fmt: skip
    synth = SynthResult(
        status="failed", cause="invalid-api", error_type="TypeError", file="lib/monitoring-stack.ts", line=43,
        message="TypeError: logs.CloudWatchLogGroupDestination is not a constructor", attempts=[failure],
    )  # fmt: skip
    rubric = load_rubric()
    for cid, spec in rubric.checks.items():
        spec.enabled = cid == "invalid-api"
    ctx = make_context({"lib/monitoring-stack.ts": text}, synth=synth, rubric=rubric)
    ctx.kind = "cdk-typescript"  # no compiler errors in the source model: the synth lens alone
    (finding,) = run_checks(ctx)
    assert finding.check == "invalid-api" and "not a constructor" in finding.message
    assert (finding.evidence[0].file, finding.evidence[0].line) == ("lib/monitoring-stack.ts", 43)
    # raised in a file the answer never gave (the scaffold's): not the answer's API misuse
    ctx.synth = synth.model_copy(
        update={"file": "bin/tap.ts", "attempts": [Attempt.model_validate({**failure, "file": "bin/tap.ts"})]}
    )
    assert run_checks(ctx) == []


def test_a_compiler_error_on_the_cdk_api_is_invalid_api_but_not_one_on_an_own_type() -> None:
    from iacgrade.graders.checks import run_checks
    from iacgrade.graders.models import SynthResult
    from iacgrade.graders.rubric import load_rubric
    from tests.checkkit import make_context

    text = (
        "import * as s3 from 'aws-cdk-lib/aws-s3';\n"
        "export interface TapStackProps { environmentSuffix: string }\n"
        "export class DatabaseStack { securityGroup = 1 }\n"
    ) + "// body\n" * 10
    where = {"file": "lib/tap-stack.ts"}
    diagnostics = [
        {**where, "line": 5, "code": 2353, "message": "Object literal may only specify known properties, and "
         "'versioning' does not exist in type 'BucketProps'."},
        {**where, "line": 6, "code": 2339, "message": "Property 'VpcEndpointAwsService' does not exist on type "
         "'typeof import(\"/job/node_modules/aws-cdk-lib/aws-ec2/index\")'."},
        {**where, "line": 7, "code": 2339, "message": "Property 'databaseSecurityGroup' does not exist on type "
         "'DatabaseStack'."},
        {**where, "line": 8, "code": 2353, "message": "Object literal may only specify known properties, and "
         "'stage' does not exist in type 'TapStackProps'."},
        {**where, "line": 9, "code": 2554, "message": "Expected 2 arguments, but got 1."},
        {**where, "line": 10, "code": 2304, "message": "Cannot find name 'kms'."},
        {**where, "line": 12, "code": 2353, "message": "Object literal may only specify known properties, and "
         "'versioning' does not exist in type 'BucketProps'."},
        {**where, "line": 11, "code": 2694, "message": "Namespace '\"/job/node_modules/aws-cdk-lib/index\"' has "
         "no exported member 'Construct'."},
    ]  # fmt: skip
    synth = SynthResult(status="ok", stacks=["S"], diagnostics=diagnostics)
    rubric = load_rubric()
    for cid, spec in rubric.checks.items():
        spec.enabled = cid == "invalid-api"
    ctx = make_context({"lib/tap-stack.ts": text}, synth=synth, rubric=rubric)
    ctx.kind = "cdk-typescript"
    found = run_checks(ctx)
    assert sorted(e.line for f in found for e in f.evidence) == [5, 6, 11, 12]
    assert len(found) == 3  # the same mistake on lines 5 and 12 is one finding
    assert all(f.check == "invalid-api" and f.category == "syntax" for f in found)
    assert any("TS2353" in f.message and "BucketProps" in f.message for f in found)


def test_a_typescript_compiler_error_and_the_synth_error_of_its_call_are_one_invalid_api_finding() -> None:
    from iacgrade.graders.checks import run_checks
    from iacgrade.graders.models import SynthResult
    from iacgrade.graders.rubric import load_rubric
    from tests.checkkit import make_context

    text = (
        "import * as cw from 'aws-cdk-lib/aws-cloudwatch';\n"  # 1
        "// a note (with a parenthesis\n"  # 2
        "const label = 'fn(';\n"  # 3
        "const both = new cw.CompositeAlarm(this, 'Both', {\n"  # 4: synth raises here
        "  alarmName: 'both',\n"  # 5: the compiler rejects this prop
        "  compositeAlarmRule: cw.AlarmRule.anyOf(a, b),\n"  # 6
        "});\n"  # 7
        "names.forEach((name) => {\n"  # 8: synth raises here, outside the block
        "  new cw.Alarm(this, name, {\n"  # 9: synth raises here
        "    metric: cw.Metric.of({\n"  # 10
        "      namespace: 1,\n"  # 11: the compiler rejects this value, in the inner call
        "    }),\n"  # 12
        "  });\n"  # 13
        "});\n"  # 14
    )
    prop = "Object literal may only specify known properties, and 'alarmName' does not exist in type 'CompositeAlarmProps'."
    value = "Type 'number' is not assignable to type 'string'."
    diagnostics = [
        {"file": "lib/alarms.ts", "line": 5, "column": 3, "code": 2353, "message": prop},
        {"file": "lib/alarms.ts", "line": 11, "column": 7, "code": 2322, "message": value},
    ]

    def found(line: int) -> list[tuple[int | None, ...]]:
        synth = SynthResult(
            status="failed", cause="invalid-api", error_type="TypeError", file="lib/alarms.ts", line=line,
            message="Cannot read properties of undefined (reading 'x')", diagnostics=diagnostics,
        )  # fmt: skip
        rubric = load_rubric()
        for cid, spec in rubric.checks.items():
            spec.enabled = cid == "invalid-api"
        ctx = make_context({"lib/alarms.ts": text}, synth=synth, rubric=rubric)
        ctx.kind = "cdk-typescript"
        return [tuple(e.line for e in f.evidence) for f in run_checks(ctx)]

    assert found(4) == [(5, 4), (11,)]  # the prop's call
    assert found(9) == [(5,), (11, 9)]  # the call whose argument the inner call builds
    assert found(8) == [(5,), (11,), (8,)]  # another statement stays its own finding


def test_a_typescript_name_the_compiler_cannot_find_is_an_undefined_name_per_file() -> None:
    from iacgrade.graders.checks import run_checks
    from iacgrade.graders.models import SynthResult
    from iacgrade.graders.rubric import load_rubric
    from tests.checkkit import make_context

    text = "import * as cdk from 'aws-cdk-lib';\n" * 50
    diagnostics = [
        {"file": "lib/db.ts", "line": 46, "code": 2304, "message": "Cannot find name 'kms'."},
        {"file": "lib/db.ts", "line": 48, "code": 2304, "message": "Cannot find name 'kms'."},
        {"file": "lib/db.ts", "line": 9, "code": 2552, "message": "Cannot find name 'bukcet'. Did you mean 'bucket'?"},
        {"file": "lib/db.ts", "line": 3, "code": 2584, "message": "Cannot find name 'console'. Do you need to "
         "change your target library?"},
        {"file": "lib/db.ts", "line": 5, "code": 2339, "message": "Property 'x' does not exist on type 'Y'."},
    ]  # fmt: skip
    rubric = load_rubric()
    for cid, spec in rubric.checks.items():
        spec.enabled = cid == "undefined-name"
    ctx = make_context(
        {"lib/db.ts": text}, synth=SynthResult(status="failed", diagnostics=diagnostics), rubric=rubric
    )
    ctx.kind = "cdk-typescript"
    (finding,) = run_checks(ctx)
    assert (
        finding.message
        == "`lib/db.ts` uses `kms` (line 46), `bukcet` (line 9) without importing or defining them"
    )
    assert [(e.file, e.line) for e in finding.evidence] == [("lib/db.ts", 46), ("lib/db.ts", 9)]
