"""Pipeline pieces: an unparsable stack is a synth failure, options reach the sandbox."""

from __future__ import annotations

from iacgrade.graders.analysis.source import SourceFile, parse_source
from iacgrade.graders.kinds.cdk_python import CdkPython, PythonSource
from iacgrade.graders.models import SynthResult

_KIND = CdkPython()

_CUT_OFF = (
    "from aws_cdk import Stack\n"
    "from constructs import Construct\n\n"
    "class MigrationStack(Stack):\n"
    "    def __init__(self, scope: Construct, id: str) -> None:\n"
    "        super().__init__(scope, id)\n"
    "        self.bucket = s3.Bucket(self, 'B',\n"
)


def _file(path: str, content: str) -> SourceFile:
    return parse_source(path, content)


def _source(*files: SourceFile) -> PythonSource:
    return PythonSource(list(files))


def test_no_entry_because_the_stack_does_not_parse_becomes_a_syntax_failure() -> None:
    skipped = SynthResult(status="skipped", cause="no-entry", message="nothing to synthesize: no Stack class")
    blamed = _KIND.judged(skipped, _source(_file("lib/migration_stack.py", _CUT_OFF)))
    assert blamed.status == "failed" and blamed.cause == "syntax"
    assert blamed.error_type == "SyntaxError" and blamed.file == "lib/migration_stack.py"
    assert blamed.line is not None and blamed.line >= 7
    assert "does not parse" in blamed.message and "no Stack class" in blamed.message


def test_other_outcomes_are_left_alone() -> None:
    ok_code = [_file("app.py", "import aws_cdk as cdk\napp = cdk.App()\napp.synth()\n")]
    skipped = SynthResult(status="skipped", cause="no-entry", message="no stack")
    assert (
        _KIND.judged(skipped, _source(*ok_code)) == skipped
    )  # nothing fails to parse: still a no-entry skip
    failed = SynthResult(status="failed", cause="undefined-name", message="NameError")
    assert _KIND.judged(failed, _source(_file("lib/x.py", _CUT_OFF))) == failed


def test_source_readable_needs_parsed_cdk_code() -> None:
    assert _source(_file("a.py", "from aws_cdk import Stack\n")).readable()
    assert not _source(_file("b.py", _CUT_OFF)).readable()
    assert not _source(
        _file("c.py", "import boto3\n\ndef handler(event, context):\n    return 1\n")
    ).readable()


def test_scratch_limit_reaches_the_sandbox(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import iacgrade.graders.kinds.cdk_python as cdk_python
    import iacgrade.graders.pipeline as pipeline
    import iacgrade.graders.sandbox as sandbox

    seen = {}

    class FakePool:
        def __init__(self, opts):  # type: ignore[no-untyped-def]
            seen["opts"] = opts

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

    monkeypatch.setattr(sandbox, "SynthPool", FakePool)
    monkeypatch.setattr(cdk_python, "check_node", lambda: None)
    services = pipeline.open_services(pipeline.GradeOptions(out=tmp_path, scratch_mb=64, timeout=9))
    services.get("python-synth", cdk_python.start_pool)
    assert seen["opts"].scratch_mb == 64 and seen["opts"].timeout == 9


def test_a_run_grades_with_the_batch_gc_thresholds_and_gives_the_caller_s_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Full collections walk every object a grader holds; a run raises the thresholds while it
    grades (graders/defaults.py) and leaves the caller's as they were, even when it fails."""
    import gc

    from iacgrade.graders.defaults import GC_THRESHOLDS
    from iacgrade.graders.pipeline import GradeOptions, grade
    from tests.run_factory import ROOT, dev_rubric

    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []
    options = GradeOptions(
        out=tmp_path / "out", workers=1, synth=False, use_cache=False, rubric=dev_rubric(tmp_path)
    )
    grade([ROOT / "samples"], options, on_result=lambda _r: seen.append(gc.get_threshold()))
    assert seen and set(seen) == {GC_THRESHOLDS} and GC_THRESHOLDS != before
    assert gc.get_threshold() == before

    def boom(_r: object) -> None:
        raise RuntimeError("the caller's callback failed")

    options.out = tmp_path / "again"
    try:
        grade([ROOT / "samples"], options, on_result=boom)
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
