"""Failure classification and output collection (no sandbox needed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from graders.sandbox.classify import classify, env_required, missing_asset, unsupported_flag
from graders.sandbox.collect import collect, deprecations, read_log
from graders.sandbox.driver_runtime import build

FRAMES = [["/job/app.py", 3, "<module>"], ["/job/lib/stack.py", 42, "__init__"], ["/venv/jsii/x.py", 9, "f"]]


@pytest.mark.parametrize(
    ("etype", "message", "cause"),
    [
        ("SyntaxError", "'(' was never closed", "syntax"),
        ("NameError", "name 'Duration' is not defined", "undefined-name"),
        ("ModuleNotFoundError", "No module named 'aws_cdk.aws_lambda_python_alpha'", "missing-module"),
        ("ImportError", "cannot import name 'core' from 'aws_cdk' (/x)", "invalid-api"),
        ("ImportError", "cannot import name 'TapStackProps' from 'lib.tap_stack' (/x)", "undefined-name"),
        ("TypeError", "Bucket.__init__() got an unexpected keyword argument 'foo'", "invalid-api"),
        (
            "TypeError",
            "type of argument runtime must be aws_cdk.aws_lambda.Runtime; got str instead",
            "invalid-api",
        ),
        ("AttributeError", "type object 'Runtime' has no attribute 'PYTHON_3_99'", "invalid-api"),
        ("AttributeError", "'EcsStack' object has no attribute '_create_service'", "undefined-name"),
        ("RuntimeError", "Validation failed with the following errors:\n  [S/B] bad", "validation"),
        ("RuntimeError", "Invalid S3 bucket name (value: Bad_Name)", "validation"),
        (
            "RuntimeError",
            "Unsupported feature flag '@aws-cdk/core:enableStackNameDuplicates'. This flag",
            "unsupported-feature-flag",
        ),
        ("RuntimeError", "Cannot find asset at /job/lambda", "missing-asset"),
        (
            "RuntimeError",
            "StackAccountRegionNotSpecified: Cannot retrieve value from context provider",
            "config",
        ),
        ("MemoryError", "", "memory"),
        ("SystemExit", "exit code 3", "exited"),
    ],
)
def test_causes(etype: str, message: str, cause: str) -> None:
    got = classify({"type": etype, "message": message, "frames": FRAMES}, {"EcsStack"}, "/job")
    assert got.cause == cause
    assert (got.file, got.line) == ("lib/stack.py", 42)
    assert got.message.startswith(f"{etype}: ") and got.message.endswith("(lib/stack.py:42)")
    assert "\n" not in got.message


def test_driver_frames_are_not_the_answer() -> None:
    frames = [["/job/lib/s.py", 5, "x"], ["/job/_iacgrade_driver.py", 3, "<module>"]]
    got = classify(
        {"type": "TypeError", "message": "bad", "frames": frames}, set(), "/job", "_iacgrade_driver.py"
    )
    assert (got.file, got.line) == ("lib/s.py", 5)


def test_fallback_detectors() -> None:
    assert missing_asset("Cannot find asset at /job/lambda") == "/job/lambda"
    assert unsupported_flag("Unsupported feature flag '@aws-cdk/core:x'. gone") == "@aws-cdk/core:x"
    assert env_required(
        "Cannot retrieve value from context provider vpc-provider since account/region are not specified"
    )


def test_collect_reads_assembly_and_ignores_links(tmp_path: Path) -> None:
    cdk_out = tmp_path / "cdk.out"
    cdk_out.mkdir()
    (cdk_out / "S.template.json").write_text('{"Resources": {}}')
    (cdk_out / "evil.template.json").symlink_to("/etc/passwd")
    manifest = {
        "artifacts": {
            "S": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "S.template.json"}},
            "E": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "evil.template.json"}},
        },
        "missing": [{"key": "vpc-provider:account=1", "provider": "vpc-provider", "props": {}}],
    }
    (cdk_out / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "synth.log").write_text(
        "[WARNING] aws-cdk-lib.aws_dynamodb.TableOptions#pointInTimeRecovery is deprecated.\n"
    )
    out = collect(tmp_path, 1000)
    assert list(out.templates) == ["S"]
    assert out.missing == ["vpc-provider: vpc-provider:account=1"]
    assert deprecations(out.log) == ["aws_dynamodb.TableOptions#pointInTimeRecovery is deprecated"]


def test_log_is_capped(tmp_path: Path) -> None:
    (tmp_path / "synth.log").write_bytes(b"a" * 5000 + b"b" * 5000)
    data, size = read_log(tmp_path / "synth.log", 1000)
    assert size == 10000 and len(data) < 1100 and data.startswith(b"a") and data.endswith(b"b")


@dataclass
class Props:
    environment_suffix: str
    retries: int = 3


class FakeStack:
    def __init__(self, scope: object, cid: str, props: Props, stage: str, count: int) -> None:
        self.args = (scope, cid, props, stage, count)


def test_driver_runtime_fills_arguments() -> None:
    made = build(FakeStack, skip=2, given={"__args__": ["app", "S"]})
    assert made.args == ("app", "S", Props("dev"), "dev", 1)
