"""A synth worker that dies under a job: killed from outside (the kernel's OOM killer under another
program's memory, an operator) it is not the answer's fault, and the answer is run once more on a
fresh worker; killed by the answer itself it is, after that one retry; a sandbox whose workers die
whatever they run makes the answer ``infra_error``, kept out of the scores.

The Node pool is used for the real kills (its worker starts in seconds); the Python pool's own
kill from outside is in test_faults.py. The broken sandboxes use a tiny stand-in worker program,
so those tests take a fraction of a second.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iacgrade.graders.extract import extract_files
from iacgrade.graders.kinds import KINDS
from iacgrade.graders.kinds.base import BuildSettings, Services
from iacgrade.graders.kinds.cdk_typescript import NODE_TOOLCHAIN, NodePool, NodeWorker, start_node_pool
from iacgrade.graders.models import Sample, SynthResult
from iacgrade.graders.sandbox.launcher import detect_isolation
from tests.run_factory import ROOT, dev_rubric

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
    pytest.mark.skipif(detect_isolation().kind != "bwrap", reason="bubblewrap is not usable here"),
    pytest.mark.skipif(
        not (NODE_TOOLCHAIN / "node_modules" / "aws-cdk-lib").is_dir(), reason="make install not run"
    ),
]


def _answer(body: str) -> str:
    return f"""```typescript
// lib/tap-stack.ts
import * as cdk from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import {{ Construct }} from 'constructs';

export class TapStack extends cdk.Stack {{
  constructor(scope: Construct, id: string, props?: cdk.StackProps) {{
    super(scope, id, props);
{body}
    new sqs.Queue(this, 'Jobs', {{ visibilityTimeout: cdk.Duration.seconds(60) }});
  }}
}}
```
"""


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    svc = Services(
        BuildSettings(timeout=60, scratch_mb=256, isolation="warm", require_sandbox=False, workers=1)
    )
    yield svc
    svc.close()


def _build(services: Services, tmp_path: Path, markdown: str) -> SynthResult:
    sample = Sample(sample_id="t", source=str(tmp_path / "answer.md"))
    built = KINDS["cdk-typescript"].build(
        sample, extract_files(markdown), tmp_path / "ws", tmp_path / "out", services
    )
    return built.synth


def _template(tmp_path: Path, synth: SynthResult) -> bytes:
    return (tmp_path / "out" / synth.templates["TapStack"]).read_bytes()


def _count_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The jobs the Node workers are given from now on (the nonce-free job's first entry)."""
    runs: list[str] = []
    real = NodeWorker.run

    def counted(self: NodeWorker, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        runs.append(str((job.get("entries") or ["(driver)"])[0]))
        return real(self, job, timeout)

    monkeypatch.setattr(NodeWorker, "run", counted)
    return runs


def test_a_worker_killed_from_outside_mid_job_is_graded_as_if_nothing_happened(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool: NodePool = services.get("node-synth", start_node_pool)
    marker = f"SLEEPING-{uuid.uuid4().hex[:8]}"
    # It prints a marker into its log (a host file) and sleeps, so the kill lands mid-job.
    answer = _answer(
        f"    console.log('{marker}');\n"
        "    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);"
    )
    killed: list[int] = []
    done = threading.Event()

    def killer() -> None:
        w = pool._workers[0]
        while not done.is_set() and not killed:
            proc = w.proc
            log = w.out_dir / "synth.log"
            if proc is not None and log.is_file() and marker.encode() in log.read_bytes():
                os.kill(proc.pid, signal.SIGKILL)  # the worker's sandbox, as the OOM killer would
                killed.append(proc.pid)
            time.sleep(0.02)

    runs = _count_runs(monkeypatch)
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        hit = _build(services, tmp_path / "killed", answer)
    finally:
        done.set()
        thread.join()
    normal = _build(services, tmp_path / "normal", answer)
    assert len(killed) == 1
    assert "killed by SIGKILL" in (hit.worker.retried or ""), hit.worker
    assert hit.worker.warm is False and hit.worker.jobs == 1  # the retry ran on a fresh worker
    assert runs == ["(driver)"] * 3  # killed, retried, then the normal grade: no probe
    assert hit.status == normal.status == "ok", (hit, normal)
    assert (hit.cause, hit.message, hit.stacks, hit.diagnostics) == (
        normal.cause,
        normal.message,
        normal.stacks,
        normal.diagnostics,
    )
    assert _template(tmp_path / "killed", hit) == _template(tmp_path / "normal", normal)


def test_an_answer_that_kills_its_own_worker_is_its_fault_after_one_retry(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _count_runs(monkeypatch)
    # process.kill of itself only ends the job (the worker refuses it); a shell's kill is real.
    kill = "    require('child_process').execSync(`kill -9 ${process.pid}`);"
    synth = _build(services, tmp_path, _answer(kill))
    assert synth.status == "failed" and synth.error_type == "WorkerDied", synth
    assert "killed by SIGKILL" in (synth.message or ""), synth
    assert synth.cause == "memory", synth  # what a SIGKILLed Node worker is taken for: its memory
    assert "killed by SIGKILL" in (synth.worker.retried or ""), synth.worker
    # The answer ran twice (once retried), then a benign app on a fresh worker said the sandbox works.
    assert runs == ["(driver)", "(driver)", "bin/probe.js"], runs
    after = _build(services, tmp_path / "after", _answer(""))
    assert after.status == "ok" and after.worker.warm is True, after  # the probe left it warm


# -- a sandbox that kills every worker ----------------------------------------------------------

# A stand-in worker: says it is ready, then dies on its first job, whatever the job is.
_DIES_ON_JOB = """
import os, signal, sys
from iacgrade.graders.sandbox.protocol import read_frame, write_frame
read_frame(sys.stdin.buffer)
write_frame(sys.stdout.buffer, {"op": "ready"})
read_frame(sys.stdin.buffer)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _grade_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]) -> Any:
    from iacgrade.graders.pipeline import GradeOptions, grade

    monkeypatch.setattr(NodeWorker, "command", lambda self: command)
    monkeypatch.setattr(NodeWorker, "extra_env", lambda self: {"PYTHONPATH": str(ROOT)})
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "a_RESPONSE.md").write_text("# An answer\n\n" + _answer(""))
    options = GradeOptions(
        out=tmp_path / "out",
        workers=1,
        timeout=30,
        rubric=dev_rubric(tmp_path),
        use_cache=False,
        kind="cdk-typescript",
    )
    return grade([answers], options)


@pytest.mark.parametrize(
    "worker",
    [
        pytest.param([sys.executable, "-c", "raise SystemExit(1)"], id="never-starts"),
        pytest.param([sys.executable, "-c", _DIES_ON_JOB], id="dies-on-every-job"),
    ],
)
def test_a_sandbox_that_kills_every_worker_is_an_infra_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, worker: list[str]
) -> None:
    outcome = _grade_with(monkeypatch, tmp_path, worker)
    (result,) = outcome.results
    assert result.status == "infra_error", result
    assert result.error.startswith("infrastructure failure: "), result.error
    assert ("does not start" if "SystemExit" in worker[-1] else "benign app") in result.error, result.error
    assert result.total is None and all(v is None for v in result.scores.values())
    assert outcome.manifest.counts["infra_error"] == 1 and outcome.manifest.counts["graded"] == 0
    on_disk = json.loads((tmp_path / "out" / "a_RESPONSE" / "result.json").read_text())
    assert on_disk["status"] == "infra_error"


def test_the_run_says_how_many_answers_the_sandbox_failed_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from iacgrade.cli import app

    monkeypatch.setattr(NodeWorker, "command", lambda self: [sys.executable, "-c", "raise SystemExit(1)"])
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "a_RESPONSE.md").write_text("# An answer\n\n" + _answer(""))
    args = ["grade", str(answers), "--kind", "cdk-typescript", "--out", str(tmp_path / "out"), "--no-cache"]
    result = CliRunner().invoke(app, [*args, "--workers", "1", "--rubric", str(dev_rubric(tmp_path))])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "infrastructure failure on 1 of 1 answers" in flat, flat
