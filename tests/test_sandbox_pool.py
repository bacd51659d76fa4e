"""SynthPool end to end: context and assets on a warm worker, fallbacks, warm equals cold.

Needs bubblewrap and Node; skips with a reason when either is absent. Slow-ish: one warm
worker is shared by the module (~10 s to start), and the warm-equals-cold test starts fresh
processes.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from iacgrade.graders.models import Sample, Workspace
from iacgrade.graders.sandbox import SandboxOptions, SynthPool, doctor_report
from iacgrade.graders.sandbox.launcher import detect_isolation

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
    pytest.mark.skipif(detect_isolation().kind != "bwrap", reason="bubblewrap is not usable here"),
]

APP_CONTEXT = """\
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
app = cdk.App()
stack = cdk.Stack(app, "Ctx" + app.node.try_get_context("suffix"))
s3.Bucket(stack, "B", versioned=bool(app.node.try_get_context("versioned")))
app.synth()
"""

APP_ASSET = """\
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_, aws_dynamodb as ddb
app = cdk.App()
stack = cdk.Stack(app, "Assets")
lambda_.Function(stack, "F", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
                 code=lambda_.Code.from_asset("lambda"))
ddb.Table(stack, "T", partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING),
          point_in_time_recovery=True)
app.synth()
"""

APP_LOOKUP = """\
import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
app = cdk.App()
stack = cdk.Stack(app, "Lookup")
ec2.Vpc.from_lookup(stack, "Vpc", is_default=True)
app.synth()
"""

APP_FLAG = APP_CONTEXT.replace('"Ctx" + app.node.try_get_context("suffix")', '"Flag"')

STACK_ONLY = """\
import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs


class QueueStack(cdk.Stack):
    def __init__(self, scope, construct_id, environment_suffix: str, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        sqs.Queue(self, "Q" + environment_suffix)
"""


def make_ws(
    tmp: Path, files: dict[str, str], context: dict | None = None, source: str = "answer"
) -> Workspace:
    tmp.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(text)
    return Workspace(
        root=str(tmp),
        files=sorted(files),
        answer_files=sorted(files),
        context=context or {},
        context_source=source,  # type: ignore[arg-type]
    )


SAMPLE = Sample(sample_id="t", source="t")


@pytest.fixture(scope="module")
def pool() -> Iterator[SynthPool]:
    with SynthPool(SandboxOptions(workers=1, timeout=60)) as p:
        yield p


def test_doctor_reports_versions() -> None:
    rep = doctor_report()
    assert rep["isolation"] == "bwrap" and rep["aws_cdk_lib"] and rep["node_version"]


def test_context_changes_between_jobs_on_one_worker(pool: SynthPool, tmp_path: Path) -> None:
    names = []
    for i, suffix in enumerate(["One", "Two"]):
        ws = make_ws(tmp_path / f"ws{i}", {"app.py": APP_CONTEXT}, {"suffix": suffix, "versioned": i == 1})
        r = pool.synthesize(ws, SAMPLE, tmp_path / f"out{i}")
        assert r.status == "ok", r.message
        names += r.stacks
        tpl = json.loads((tmp_path / f"out{i}" / r.templates[r.stacks[0]]).read_text())
        bucket = next(v for v in tpl["Resources"].values() if v["Type"] == "AWS::S3::Bucket")
        assert ("VersioningConfiguration" in bucket.get("Properties", {})) == (i == 1)
        assert r.isolation == "bwrap" and r.entry_kind == "answer"
    assert names == ["CtxOne", "CtxTwo"]
    assert r.worker.warm is True


def test_relative_asset_resolves_in_job_folder(pool: SynthPool, tmp_path: Path) -> None:
    ws = make_ws(
        tmp_path / "ws", {"app.py": APP_ASSET, "lambda/index.py": "def handler(e, c):\n    return 1\n"}
    )
    r = pool.synthesize(ws, SAMPLE, tmp_path / "out")
    assert r.status == "ok", r.message
    assert r.missing_assets == [] and r.fallbacks == []
    assert r.deprecations == ["aws_dynamodb.TableOptions#pointInTimeRecovery is deprecated"]
    assert (tmp_path / "out" / "manifest.json").is_file() and (tmp_path / "out" / "synth.log").is_file()
    lint = json.loads((tmp_path / "out" / "lint.json").read_text())
    assert set(lint) == {"Assets"}


APP_NESTED = """
import aws_cdk as cdk
from aws_cdk import NestedStack, Stack, aws_dynamodb as dynamodb


class DataNested(NestedStack):
    def __init__(self, scope, cid):
        super().__init__(scope, cid)
        dynamodb.Table(self, "Orders", partition_key=dynamodb.Attribute(
            name="id", type=dynamodb.AttributeType.STRING))


class Parent(Stack):
    def __init__(self, scope, cid, **kwargs):
        super().__init__(scope, cid, **kwargs)
        DataNested(self, "Data")


app = cdk.App()
Parent(app, "Parent")
app.synth()
"""


def test_nested_stack_templates_are_collected_and_linted(pool: SynthPool, tmp_path: Path) -> None:
    ws = make_ws(tmp_path / "ws", {"app.py": APP_NESTED})
    r = pool.synthesize(ws, SAMPLE, tmp_path / "out")
    assert r.status == "ok", r.message
    nested = [name for name in r.templates if name.endswith(".nested")]
    assert r.stacks[0] == "Parent" and len(nested) == 1, r.templates
    tpl = json.loads((tmp_path / "out" / r.templates[nested[0]]).read_text())
    assert [v["Type"] for v in tpl["Resources"].values()] == ["AWS::DynamoDB::Table"]
    lint = json.loads((tmp_path / "out" / "lint.json").read_text())
    assert set(lint) == set(r.templates)  # keyed exactly as the templates are


def test_missing_asset_is_stubbed_and_recorded(pool: SynthPool, tmp_path: Path) -> None:
    ws = make_ws(tmp_path / "ws", {"app.py": APP_ASSET})
    r = pool.synthesize(ws, SAMPLE, tmp_path / "out")
    assert r.status == "ok", r.message
    assert r.missing_assets == ["lambda"] and r.fallbacks == ["stub-asset:lambda"]
    assert r.attempts[0].cause == "missing-asset"
    assert not (Path(ws.root) / "lambda").exists()  # the workspace itself is never changed


def test_lookup_gets_dummy_env_and_is_recorded(pool: SynthPool, tmp_path: Path) -> None:
    r = pool.synthesize(make_ws(tmp_path / "ws", {"app.py": APP_LOOKUP}), SAMPLE, tmp_path / "out")
    assert r.status == "ok", r.message
    assert r.dummy_env and "dummy-env" in r.fallbacks
    assert any(lk.startswith("vpc-provider") for lk in r.lookups)


def test_unsupported_flag_falls_back_to_scaffold_context(pool: SynthPool, tmp_path: Path) -> None:
    task = tmp_path / "task"
    task.mkdir()
    (task / "cdk.json").write_text(json.dumps({"app": "python3 tap.py", "context": {"versioned": True}}))
    sample = Sample(sample_id="t", source="t", task_root=str(task))
    ws = make_ws(tmp_path / "ws", {"app.py": APP_FLAG}, {"@aws-cdk/core:enableStackNameDuplicates": "true"})
    r = pool.synthesize(ws, sample, tmp_path / "out")
    assert r.status == "ok", r.message
    assert r.fallbacks == ["scaffold-context"]
    assert r.attempts[0].cause == "unsupported-feature-flag"


def test_driver_for_answer_without_entry(pool: SynthPool, tmp_path: Path) -> None:
    r = pool.synthesize(
        make_ws(tmp_path / "ws", {"lib/queue_stack.py": STACK_ONLY}), SAMPLE, tmp_path / "out"
    )
    assert r.status == "ok", r.message
    assert r.entry_kind == "driver" and r.stacks == ["QueueStack"]


def test_failure_points_at_answer_line(pool: SynthPool, tmp_path: Path) -> None:
    bad = APP_CONTEXT.replace(
        'versioned=bool(app.node.try_get_context("versioned"))', "versioned=True, colour=1"
    )
    r = pool.synthesize(make_ws(tmp_path / "ws", {"app.py": bad}, {"suffix": "x"}), SAMPLE, tmp_path / "out")
    assert r.status == "failed" and r.cause == "invalid-api"
    assert (r.file, r.line, r.error_type) == ("app.py", 5, "TypeError")
    assert "colour" in (r.message or "")


def test_warm_equals_cold(pool: SynthPool, tmp_path: Path) -> None:
    apps = {"ctx": ({"app.py": APP_CONTEXT}, {"suffix": "Same"}), "asset": ({"app.py": APP_ASSET}, {})}
    warm: dict[str, bytes] = {}
    for name, (files, ctx) in apps.items():
        r = pool.synthesize(make_ws(tmp_path / f"w{name}", files, ctx), SAMPLE, tmp_path / f"wo{name}")
        assert r.status == "ok"
        warm[name] = (tmp_path / f"wo{name}" / r.templates[r.stacks[0]]).read_bytes()
    with SynthPool(SandboxOptions(workers=1, isolation="process", lint=False)) as cold_pool:
        for name, (files, ctx) in apps.items():
            r = cold_pool.synthesize(
                make_ws(tmp_path / f"c{name}", files, ctx), SAMPLE, tmp_path / f"co{name}"
            )
            assert r.status == "ok" and r.worker.warm is False
            assert (tmp_path / f"co{name}" / r.templates[r.stacks[0]]).read_bytes() == warm[name]


def test_a_worker_outlives_the_thread_that_started_it(tmp_path: Path) -> None:
    # bwrap --die-with-parent kills the sandbox when the *thread* that forked it ends. The pool
    # warms its workers on threads of their own, and a server grades on threads that come and go.
    with SynthPool(SandboxOptions(workers=1, timeout=60, lint=False)) as fresh:
        for t in fresh._starting:
            t.join()  # the warm-up thread has ended; its worker must still be there
        ws = make_ws(tmp_path / "ws", {"app.py": APP_CONTEXT}, {"suffix": "One"})
        first = fresh.synthesize(ws, SAMPLE, tmp_path / "out1")
        assert first.status == "ok", first.message
        assert first.worker.retried is None and first.worker.jobs == 1, first.worker
        # A worker restarted by a short-lived thread (here: after it was killed) survives it too.
        fresh._workers[0].kill()
        done: list[object] = []
        thread = threading.Thread(target=lambda: done.append(fresh.synthesize(ws, SAMPLE, tmp_path / "o2")))
        thread.start()
        thread.join()
        second = fresh.synthesize(ws, SAMPLE, tmp_path / "out3")
        assert second.status == "ok" and second.worker.warm is True, second.worker
        assert second.worker.retried is None and second.worker.jobs == 2, second.worker


def test_every_job_on_a_warm_worker_sees_its_own_deprecation_warnings(
    pool: SynthPool, tmp_path: Path
) -> None:
    # aws-cdk-lib warns once per Node process; the jsii cache is edited so that a second answer on
    # the same worker is told about the deprecated API it uses too (as a fresh process would be).
    seen = []
    for i in range(2):
        ws = make_ws(
            tmp_path / f"d{i}", {"app.py": APP_ASSET, "lambda/index.py": "def handler(e, c):\n    return 1\n"}
        )
        r = pool.synthesize(ws, SAMPLE, tmp_path / f"do{i}")
        assert r.status == "ok", r.message
        seen.append([d for d in r.deprecations if "pointInTimeRecovery" in d])
    assert seen[0] and seen[1] == seen[0]


APP_BUNDLING = """\
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
app = cdk.App()
stack = cdk.Stack(app, "Bundled")
lambda_.Function(stack, "F", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
                 code=lambda_.Code.from_asset("lambda", bundling=cdk.BundlingOptions(
                     image=lambda_.Runtime.PYTHON_3_12.bundling_image,
                     command=["bash", "-c", "pip install -r requirements.txt -t /asset-output"])))
app.synth()
"""


def test_docker_bundling_is_skipped_and_recorded(pool: SynthPool, tmp_path: Path) -> None:
    files = {"app.py": APP_BUNDLING, "lambda/index.py": "def handler(e, c):\n    return 1\n"}
    r = pool.synthesize(make_ws(tmp_path / "ws", files), SAMPLE, tmp_path / "out")
    assert r.status == "ok", r.message
    assert r.docker_bundling and "python" in r.docker_bundling[0]


def test_plain_process_fallback_and_require_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from iacgrade.graders.sandbox import SandboxUnavailable
    from iacgrade.graders.sandbox import pool as pool_mod
    from iacgrade.graders.sandbox.launcher import Isolation

    plain = Isolation(kind="process", bwrap=None, version=None, setpriv=None, root=False)
    monkeypatch.setattr(pool_mod.launcher, "detect_isolation", lambda: plain)
    with pytest.raises(SandboxUnavailable):
        SynthPool(SandboxOptions(workers=1, require_sandbox=True))
    with SynthPool(SandboxOptions(workers=1, isolation="process", lint=False)) as p:
        bad = APP_CONTEXT.replace('versioned=bool(app.node.try_get_context("versioned"))', "colour=1")
        r = p.synthesize(make_ws(tmp_path / "ws", {"app.py": bad}, {"suffix": "x"}), SAMPLE, tmp_path / "out")
    assert r.isolation == "process"
    assert (r.status, r.cause, r.file, r.line) == ("failed", "invalid-api", "app.py", 5)


def test_a_venv_under_tmp_is_bound_on_top_of_the_private_tmp(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from iacgrade.graders.sandbox import launcher

    # A clone made with `mktemp -d` puts the project and its venv under /tmp: the private /tmp
    # tmpfs must be mounted first, or it hides them and the worker cannot even start (exit 127).
    monkeypatch.setattr(launcher, "_ro_paths", lambda: ["/usr", "/tmp/tmp.abc/main/.venv"])
    (tmp_path / "in").mkdir()
    iso = launcher.Isolation("bwrap", "/usr/bin/bwrap", "0.8.0", None, True)
    args = launcher.bwrap_args(iso, tmp_path, 100000, None)
    tmpfs = args.index("--tmpfs", 0)
    assert args[tmpfs + 1] == "/tmp"
    assert tmpfs < args.index("/tmp/tmp.abc/main/.venv")
    # /tmp keeps its 1777 tmpfs: the venv's parent folders never re-make it 0755
    assert "/tmp" not in [args[i + 1] for i, a in enumerate(args) if a == "--dir"]


def test_a_workers_reply_is_kept_as_text_and_numbers_only() -> None:
    """A reply comes out of the sandbox: what it says of the job is kept in the shapes result.json promises."""
    from iacgrade.graders.models import SynthResult, WorkerInfo

    info = WorkerInfo(id=1, jobs=3, warm=True)
    info.note_reply(
        {"tampered": [{"forged": 1}, 7], "timing": {"run": 0.25, "lint": 2, "evil": "x", "b": True}}
    )
    info.recycled = WorkerInfo.reason({"not": "text"})
    assert info.tampered == ["{'forged': 1}", "7"] and info.recycled == "{'not': 'text'}"
    assert info.timing == {"run": 0.25, "lint": 2}
    dumped = SynthResult(worker=info).model_dump(mode="json")["worker"]
    assert list(dumped) == ["id", "jobs", "warm", "recycled", "tampered", "timing"]  # unknown ones left out
    assert SynthResult().model_dump(mode="json")["worker"] == {}
    assert SynthResult.model_validate({"worker": {"id": 2, "from_an_older_run": 1}}).worker.id == 2


def test_a_job_sent_during_warm_up_waits_for_the_worker(tmp_path: Path) -> None:
    # The pool warms its workers on threads of their own while jobs may already come in. A job
    # must wait for its worker's start to end: the two must never read its pipe at the same time.
    in_flight = 0
    for n in range(3):
        with SynthPool(SandboxOptions(workers=1, timeout=60, lint=False)) as fresh:
            ws = make_ws(tmp_path / f"ws{n}", {"app.py": APP_CONTEXT}, {"suffix": "Early"})
            worker = fresh._workers[0]
            deadline = time.monotonic() + 30
            while worker.proc is None and time.monotonic() < deadline:
                time.sleep(0.005)  # the worker's process is there; its start has not ended yet
            in_flight += fresh._starting[0].is_alive()
            first = fresh.synthesize(ws, SAMPLE, tmp_path / f"out{n}")
            assert first.status == "ok", first.message
            assert first.worker.retried is None and first.worker.jobs == 1, first.worker
    assert in_flight, "no job was sent while its worker was starting: the test tried nothing"


APP_RANDOM = """\
import random
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
app = cdk.App()
stack = cdk.Stack(app, "Random")
s3.Bucket(stack, "B", bucket_name=f"data-{random.randint(0, 10**12)}")
app.synth()
"""


def test_random_gives_the_same_template_on_every_run(pool: SynthPool, tmp_path: Path) -> None:
    texts = []
    for n in range(2):  # the second job runs on the same warm worker
        r = pool.synthesize(make_ws(tmp_path / f"w{n}", {"app.py": APP_RANDOM}), SAMPLE, tmp_path / f"o{n}")
        assert r.status == "ok" and r.worker.recycled is None, (r.message, r.worker)
        texts.append((tmp_path / f"o{n}" / r.templates["Random"]).read_text())
    assert texts[0] == texts[1] and '"BucketName": "data-' in texts[0]
