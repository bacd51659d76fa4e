"""Failure classification and output collection (no sandbox needed)."""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from iacgrade.graders.sandbox import classify as classify_mod
from iacgrade.graders.sandbox.classify import classify, env_required, missing_asset, unsupported_flag
from iacgrade.graders.sandbox.collect import collect, deprecations, read_log
from iacgrade.graders.sandbox.driver_runtime import build

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


# -- causes ---------------------------------------------------------------------------------------


def test_every_cause_has_a_report_text() -> None:
    from iacgrade.graders.models import SYNTH_CAUSES

    assert all(text.strip() for text in SYNTH_CAUSES.values())


_ETYPES = sorted(
    {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
    | {"JSIIError", "WorkerDied", "Timeout", "OutputError", "Error", ""}
)
_TEXTS = [
    "",
    "cannot import name 'core' from 'aws_cdk' (/x)",
    "cannot import name 'X' from 'lib.stack' (/x)",
    "'EcsStack' object has no attribute 'x'",
    "type object 'Runtime' has no attribute 'X'",
    "Unsupported feature flag '@aws-cdk/core:x'. gone",
    "Cannot find asset at /job/lambda",
    "account/region are not specified",
    "heap out of memory",
    "ENOSPC: no space left on device, write",
    "got an unexpected keyword argument 'foo'",
    "Validation failed",
]


@pytest.mark.parametrize("etype", _ETYPES)
def test_classifier_never_emits_an_unknown_cause(etype: str) -> None:
    from iacgrade.graders.sandbox.classify import CAUSES

    for text in _TEXTS:
        for errno in (None, 27, 28, 2):
            for js in (None, "UnsupportedFeatureFlag", "ValidationError"):
                error = {"type": etype, "message": text, "frames": FRAMES, "errno": errno, "js_name": js}
                assert classify(error, {"EcsStack"}, "/job").cause in CAUSES, (etype, text, errno)


def test_sandbox_code_names_only_known_causes() -> None:
    """Every cause literal the sandbox modules set or compare (pool.py sets a few itself)."""
    import ast

    from iacgrade.graders.sandbox.classify import CAUSES

    seen: dict[str, str] = {}
    for path in sorted(Path(classify_mod.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            literals: list[ast.expr] = []
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "Classified"
            ):
                literals = node.args[:1]
            elif isinstance(node, ast.Assign) and any(
                getattr(t, "attr", getattr(t, "id", "")) == "cause" for t in node.targets
            ):
                literals = [node.value]
            elif isinstance(node, ast.Compare) and getattr(node.left, "attr", "") == "cause":
                literals = list(node.comparators)
            for lit in literals:
                if isinstance(lit, ast.Constant) and isinstance(lit.value, str):
                    seen[lit.value] = f"{path.name}:{lit.lineno}"
    assert {"timeout", "no-stacks", "no-entry", "syntax"} <= set(seen)  # the scan finds them
    assert {c: where for c, where in seen.items() if c not in CAUSES} == {}


def test_unknown_cause_is_refused() -> None:
    from iacgrade.graders.sandbox.classify import Classified

    with pytest.raises(ValueError, match="unknown synth failure cause"):
        Classified("disk-full", "OSError", "m", None, None, "")


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            {"type": "OSError", "errno": 28, "message": "[Errno 28] No space left on device: '/job/x'"},
            "scratch",
        ),
        ({"type": "RuntimeError", "message": "Error: ENOSPC: no space left on device, write"}, "scratch"),
        ({"type": "OSError", "errno": 27, "message": "[Errno 27] File too large"}, "file size limit"),
    ],
)
def test_disk_limits_are_named(error: dict[str, object], words: str) -> None:
    got = classify({**error, "frames": FRAMES}, set(), "/job")
    assert got.cause == "other" and words in got.message, got.message


# -- what the worker reports --------------------------------------------------------------------


def _deep(source: str, filename: str) -> BaseException:
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        exec(compile(source, filename, "exec"), {})
    except RecursionError as exc:
        return exc
    finally:
        sys.setrecursionlimit(limit)
    raise AssertionError("no RecursionError")


def test_deep_recursion_frames_are_capped_and_never_read_source(monkeypatch: pytest.MonkeyPatch) -> None:
    import linecache
    import traceback

    from iacgrade.graders.sandbox import worker

    exc = _deep("def down(n):\n    return down(n + 1) + 1\ndown(0)\n", f"{worker.JOB}/app.py")

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("source lines were read")

    monkeypatch.setattr(traceback, "extract_tb", refuse)
    monkeypatch.setattr(linecache, "getline", refuse)
    monkeypatch.setattr(linecache, "updatecache", refuse)
    frames = worker.error_frames(exc)
    assert len(frames) == 40
    got = classify({"type": "RecursionError", "message": str(exc), "frames": frames}, set(), worker.JOB)
    assert (got.file, got.line) == ("app.py", 2) and got.message.endswith("(app.py:2)")


def test_answer_frame_far_above_a_deep_library_recursion_is_kept() -> None:
    from iacgrade.graders.sandbox import worker

    library = "def down(n):\n    return down(n + 1) + 1\n"
    namespace: dict[str, object] = {}
    exec(compile(library, "/usr/lib/python3/somelib.py", "exec"), namespace)
    answer = "x = 1\nlib_down(0)\n"
    exc = _deep_call(answer, f"{worker.JOB}/lib/stack.py", namespace["down"])
    frames = worker.error_frames(exc)
    assert len(frames) == 40
    got = classify({"type": "RecursionError", "message": str(exc), "frames": frames}, set(), worker.JOB)
    assert (got.file, got.line) == ("lib/stack.py", 2)


def _deep_call(source: str, filename: str, down: object) -> BaseException:
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        exec(compile(source, filename, "exec"), {"lib_down": down})
    except RecursionError as exc:
        return exc
    finally:
        sys.setrecursionlimit(limit)
    raise AssertionError("no RecursionError")


@pytest.mark.parametrize(
    ("code", "sig", "words"),
    [
        (139, None, "killed by SIGSEGV, exit code 139"),
        (137, None, "killed by SIGKILL, exit code 137"),
        (None, 9, "killed by SIGKILL"),
        (None, 11, "killed by SIGSEGV"),
        (7, None, "exit code 7"),
        (200, None, "exit code 200"),
    ],
)
def test_exit_names_the_signal(code: int | None, sig: int | None, words: str) -> None:
    from iacgrade.graders.sandbox.process import Exit

    assert Exit(code, sig, "").describe() == words


def test_frames_survive_a_patched_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """The frame codec was captured at import: patching json afterwards does not reach it."""
    import json as json_mod

    from iacgrade.graders.sandbox import protocol

    message = {"op": "result", "tampered": ["json: attributes changed ['dumps']"], "n": 1.5, "x": None}
    monkeypatch.setattr(json_mod, "dumps", lambda *a, **k: "{}")
    monkeypatch.setattr(json_mod, "loads", lambda *a, **k: {})
    monkeypatch.setattr(json_mod.JSONEncoder, "encode", lambda *a, **k: "{}")
    monkeypatch.setattr(json_mod.JSONDecoder, "decode", lambda *a, **k: {})
    frame = protocol.encode_frame(message)
    assert protocol.decode_body(frame[4:]) == message


def test_token_numbers_do_not_depend_on_the_worker() -> None:
    # A warm worker numbers tokens after every answer it built before; a fresh one starts again.
    texts = [
        f"'displayName' may not contain a Token, got: \"scanner-${{Token[TOKEN.{n}]}}/Code\""
        for n in (50, 9665)
    ]
    warm, cold = (classify({"type": "RuntimeError", "message": t}, set(), "/job") for t in texts)
    assert warm.message == cold.message and "${Token[TOKEN]}" in warm.message
    assert (
        "${Token[AWS.Region]}"
        in classify({"type": "E", "message": "${Token[AWS.Region.12]}"}, set(), "/j").detail
    )
