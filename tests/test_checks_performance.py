"""Edge cases of the Lambda sizing checks that fixtures cannot express (hand-written templates)."""

from __future__ import annotations

from typing import Any

from iacgrade.graders.analysis._copies import SourceIndex, key_matches
from tests.checkkit import make_context, run_check

HELPER_FN = {
    "Type": "AWS::Lambda::Function",
    "Properties": {"Handler": "index.handler", "Runtime": "nodejs20.x", "Timeout": 900},
    "Metadata": {"aws:cdk:path": "Stack/LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a/Resource"},
}


def _fn(path: str, **props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": props,
        "Metadata": {"aws:cdk:path": f"Stack/{path}/Resource"},
    }


def test_uniform_names_the_functions_and_the_shared_size() -> None:
    resources = {
        "IngestA1B2C3D4": _fn("Ingest", MemorySize=256, Timeout=30),
        "ScoreA1B2C3D4": _fn("Score", MemorySize=256, Timeout=30),
        "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8aFD4BFC8A": HELPER_FN,
    }
    (finding,) = run_check("lambda-uniform-config", {}, resources)
    assert "Both functions" in finding.message and "256 MB / 30 s" in finding.message
    assert "Ingest" in finding.message and "LogRetention" not in finding.message


def test_uniform_with_one_function_differing_is_silent() -> None:
    resources = {
        "IngestA1B2C3D4": _fn("Ingest", MemorySize=256, Timeout=30),
        "ScoreA1B2C3D4": _fn("Score", MemorySize=1024, Timeout=30),
    }
    assert run_check("lambda-uniform-config", {}, resources) == []


def test_uniform_on_default_size_is_left_to_lambda_default_config() -> None:
    resources = {"AA1B2C3D4": _fn("A"), "BA1B2C3D4": _fn("B")}
    assert run_check("lambda-uniform-config", {}, resources) == []
    (finding,) = run_check("lambda-default-config", {}, resources)
    assert "2 functions" in finding.message


def test_intrinsic_memory_is_compared_not_crashed_on() -> None:
    ref = {"Ref": "MemoryParam"}
    resources = {
        "AA1B2C3D4": _fn("A", MemorySize=ref, Timeout=60),
        "BA1B2C3D4": _fn("B", MemorySize=ref, Timeout=60),
        "CA1B2C3D4": _fn("C", MemorySize={"Fn::If": ["IsProd", 1024, 256]}, Timeout=60),
    }
    assert run_check("lambda-uniform-config", {}, resources) == []
    del resources["CA1B2C3D4"]
    (finding,) = run_check("lambda-uniform-config", {}, resources)
    assert "MemoryParam" in finding.message


def test_default_config_ignores_cdk_helper_functions() -> None:
    resources = {
        "HandlerA1B2C3D4": _fn("Handler", Timeout=10),
        "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8aFD4BFC8A": HELPER_FN,
    }
    assert run_check("lambda-default-config", {}, resources) == []


SOURCE_HELPER_PARAMS = """
from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as _lambda


class AppStack(Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        self._fn("Ingest", 512, 60)
        self._fn("Notify", 128, 10)

    def _fn(self, name, memory, seconds):
        return _lambda.Function(self, f"{name}Fn", runtime=_lambda.Runtime.PYTHON_3_12, handler="i.h",
                                code=_lambda.Code.from_asset("src"), memory_size=memory,
                                timeout=Duration.seconds(seconds))
"""


def test_source_binds_helper_parameters_per_call() -> None:
    assert run_check("lambda-uniform-config", {"lib/tap_stack.py": SOURCE_HELPER_PARAMS}) == []
    same = SOURCE_HELPER_PARAMS.replace('"Notify", 128, 10', '"Notify", 512, 60')
    (finding,) = run_check("lambda-uniform-config", {"lib/tap_stack.py": same})
    assert (
        "IngestFn" in finding.message and "NotifyFn" in finding.message and "512 MB / 60 s" in finding.message
    )


def test_source_ignores_boto3_table_and_test_files() -> None:
    handler = (
        "import boto3\ntable = boto3.resource('dynamodb').Table('t')\ndef handler(e, c):\n    return table\n"
    )
    test_file = SOURCE_HELPER_PARAMS.replace('"Notify", 128, 10', '"Notify", 512, 60')
    files = {"lambda/handler.py": handler, "tests/test_stack.py": test_file}
    assert run_check("lambda-uniform-config", files) == []


def test_source_stays_silent_when_kwargs_are_hidden() -> None:
    src = """
from aws_cdk import Stack
from aws_cdk import aws_lambda as _lambda


class AppStack(Stack):
    def __init__(self, scope, construct_id, props, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        _lambda.Function(self, "A", runtime=_lambda.Runtime.PYTHON_3_12, handler="i.h", code=props.code, **props.sizing)
"""
    assert run_check("lambda-default-config", {"lib/tap_stack.py": src}) == []


def test_loop_over_dict_literals_names_each_copy() -> None:
    src = """
from aws_cdk import Stack
from aws_cdk import aws_lambda as _lambda


class AppStack(Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        configs = [{"name": "processor"}, {"name": "reporter"}]
        for config in configs:
            _lambda.Function(self, f"Lambda-{config['name']}", runtime=_lambda.Runtime.PYTHON_3_12,
                             handler="i.h", code=_lambda.Code.from_asset("src"))
"""
    ctx = make_context({"lib/tap_stack.py": src})
    ids = [i.cid for i in SourceIndex(ctx).instances("Function")]
    assert ids == ["Lambda-processor", "Lambda-reporter"]


def test_key_matches_source_patterns_to_template_keys() -> None:
    assert key_matches("ApiHandler-{}", "ApiHandler-dev")
    assert key_matches("ApiHandler-{}", "ApiHandlerdev")  # logical-id stem, no path metadata
    assert key_matches("Handler", "ApiHandler")  # nested in a construct "Api"
    assert not key_matches("Handler", "HandlerRole")
    assert not key_matches(None, "Handler")
    assert not key_matches("{}-{}", "Handler-dev")  # no literal part: names nothing


def test_uniform_does_not_count_env_copies_of_one_stack() -> None:
    dev = {"Resources": {"HandlerdevA1B2C3D4": _fn("Handler-dev", MemorySize=256, Timeout=30)}}
    prod = {"Resources": {"HandlerprodA1B2C3D4": _fn("Handler-prod", MemorySize=256, Timeout=30)}}
    assert run_check("lambda-uniform-config", {}, templates={"AppDev": dev, "AppProd": prod}) == []
