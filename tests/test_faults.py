"""Faults around the grader: a killed worker, Ctrl-C, a full or read-only disk, no Node, no bwrap,
a corrupt cache. Each: a clear message, nothing lost or corrupt, and a re-run that completes.

Tests that need bubblewrap, Node or root (for a private mount namespace with ``unshare``) skip
with a reason when those are absent; CI has all three.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iacgrade.cli import app
from iacgrade.graders.sandbox.launcher import detect_isolation
from iacgrade.graders.store import read_journal
from tests.run_factory import ROOT, dev_rubric

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
needs_bwrap = pytest.mark.skipif(detect_isolation().kind != "bwrap", reason="bubblewrap is not usable here")


def _can_unshare() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


needs_unshare = pytest.mark.skipif(
    not _can_unshare(), reason="needs root and unshare for a private mount namespace"
)

APP = """## File: app.py

```python
import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs

{prelude}
app = cdk.App()
stack = cdk.Stack(app, "Fault{n}")
sqs.Queue(stack, "Q{n}")
app.synth()
```
"""


def _answers(folder: Path, count: int, prelude: str = "") -> Path:
    """``count`` distinct small answers (distinct code, so distinct cache keys)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"a{i:03d}_RESPONSE.md").write_text(APP.format(n=i, prelude=prelude))
    return folder


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", "grade", *args]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def _no_corrupt_files(out: Path) -> None:
    """Whatever a failed or interrupted run left is whole: JSON parses, no temporary files remain."""
    assert not [p for p in out.rglob("*.tmp")], "a temporary file was left behind"
    for path in out.rglob("*.json"):
        json.loads(path.read_text())
    for name in ("results.csv", "findings.csv"):
        if (out / name).exists():
            import pandas as pd

            pd.read_csv(out / name)
    read_journal(out)  # a torn last line is tolerated, anything else must parse


# -- a worker killed mid-job ---------------------------------------------------------------------


@needs_node
@needs_bwrap
def test_worker_killed_mid_job_is_retried_once_then_reported(tmp_path: Path) -> None:
    from iacgrade.graders.pipeline import GradeOptions, grade
    from iacgrade.graders.sandbox import launcher

    tag = uuid.uuid4().hex[:8]
    answers = tmp_path / "answers"
    answers.mkdir()
    for mode in ("once", "always"):
        # The job folder is the sandbox's private tmpfs: the marker goes to the log, a host file.
        prelude = f'import time\nprint("KILL-{mode}-{tag}", flush=True)\ntime.sleep(3)'
        (answers / f"{mode}_RESPONSE.md").write_text(APP.format(n=mode.title(), prelude=prelude))
    kills = {"once": 0, "always": 0}
    done = threading.Event()

    def killer() -> None:
        uids = range(launcher.BASE_UID, launcher.BASE_UID + 4096)  # this process's pool
        killed: dict[str, set[int]] = {"once": set(), "always": set()}  # worker pids killed per mode
        while not done.is_set():
            for mode in killed:
                if not _logged(f"KILL-{mode}-{tag}"):
                    continue
                if mode == "once" and kills["once"]:
                    continue
                # A retry runs on a fresh worker: new pids. Never count the same worker twice.
                pids = set(_pids(uids, "iacgrade.graders.sandbox.worker")) - killed[mode]
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                if pids:
                    kills[mode] += 1
                    killed[mode] |= pids
            time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        options = GradeOptions(
            out=tmp_path / "out", workers=1, timeout=60, rubric=dev_rubric(tmp_path), use_cache=False
        )
        outcome = grade([answers], options)
    finally:
        done.set()
        thread.join()
    by_id = {r.sample_id: r for r in outcome.results}
    # "once" proves the retry (killed once, then ok on a fresh worker); "always" proves that a job
    # whose worker keeps dying is reported. How many of its attempts the poller catches is timing.
    assert kills["once"] == 1 and kills["always"] >= 1, (
        kills,
        [(r.sample_id, r.synth.message) for r in outcome.results],
    )
    once = by_id["once_RESPONSE"].synth
    assert once.status == "ok" and once.worker.warm is False, once  # the retry ran on a fresh worker
    always = by_id["always_RESPONSE"].synth
    assert always.status == "failed" and always.cause == "exited", always
    assert "WorkerDied" in (always.message or "") and "killed by SIGKILL" in (always.message or ""), always
    assert all(r.status == "graded" for r in outcome.results)


def _logged(marker: str) -> bool:
    """A running job of this test printed ``marker`` into its log."""
    # The pool's folders are made with tempfile.mkdtemp, so they follow TMPDIR.
    for log in glob.glob(os.path.join(tempfile.gettempdir(), "iacgrade-sandbox-*", "w0", "out", "synth.log")):
        try:
            with open(log, "rb") as fh:
                if marker.encode() in fh.read(4096):
                    return True
        except OSError:
            continue
    return False


def _pids(uids: range, needle: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        puid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:"))
        if puid in uids and needle in cmd:
            found.append(int(entry))
    return found


# -- Ctrl-C -------------------------------------------------------------------------------------


def _interrupt_when(proc: subprocess.Popen[str], out: Path, entries: int, limit: float = 300) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None and len(read_journal(out)) < entries:
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be interrupted")
    proc.send_signal(signal.SIGINT)


def _graded_once(out: Path, total: int) -> None:
    done: dict[str, int] = {}
    for entry in read_journal(out):
        if entry["how"] in ("graded", "cache"):
            done[entry["sample_id"]] = done.get(entry["sample_id"], 0) + 1
    assert max(done.values()) == 1, "an answer was graded twice"
    # One answer may have finished just as Ctrl-C came: result.json written, its journal line not;
    # the re-run keeps it ("resume") rather than grading it again.
    seen = {e["sample_id"] for e in read_journal(out)}
    assert len(seen) == total, f"{total - len(seen)} answers never graded"
    assert total - len(done) <= 2, f"{total - len(done)} answers only resumed"


def test_a_write_the_ctrl_c_cut_short_leaves_no_temporary_file(tmp_path: Path) -> None:
    """Ctrl-C can land inside ``_new_temp``, where no handler can remove the file yet: the run that
    was interrupted sweeps the folder it was writing in (seen as a stray report.md temp file)."""
    from iacgrade.graders.pipeline import GradeOptions, RunInterrupted, Writers, grade

    answers = _answers(tmp_path / "answers", 3)
    out = tmp_path / "out"

    def render(result, rubric, **_kw):  # type: ignore[no-untyped-def]
        if result.sample_id == "a001_RESPONSE":
            (out / result.sample_id / ".report.md.cut.tmp").write_text("half")  # what _new_temp had made
            raise KeyboardInterrupt
        return "# report\n"

    options = GradeOptions(out=out, workers=1, synth=False, rubric=dev_rubric(tmp_path))
    with pytest.raises(RunInterrupted):
        grade([answers], options, writers=Writers(report=render))
    assert (out / "a000_RESPONSE" / "report.md").is_file()
    _no_corrupt_files(out)


def test_ctrl_c_flushes_results_and_a_rerun_completes(tmp_path: Path) -> None:
    answers = _answers(tmp_path / "answers", 300)
    out = tmp_path / "out"
    cmd = _cli(str(answers), "--out", str(out), "--no-synth", "--workers", "1", "--quiet",
               "--rubric", str(dev_rubric(tmp_path)), "--cache-dir", str(tmp_path / "cache"))  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _interrupt_when(proc, out, 20)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "run the same command again" in " ".join(stderr.split())
    journal = read_journal(out)
    assert 20 <= len(journal) < 300
    import pandas as pd

    table = pd.read_csv(out / "results.csv")  # flushed at the interruption, not only every 5 s
    assert set(table["sample_id"]) == {e["sample_id"] for e in journal}
    assert json.loads((out / "run.json").read_text())["finished"] is None
    for entry in journal:
        assert (out / entry["sample_id"] / "result.json").is_file()
        assert (out / entry["sample_id"] / "report.md").is_file()
    _no_corrupt_files(out)

    rerun = subprocess.run(
        cmd + ["--json"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["samples"] == summary["graded"] == 300
    assert summary["resumed"] >= len(journal)
    _graded_once(out, 300)
    assert len(pd.read_csv(out / "results.csv")) == 300


@needs_node
@needs_bwrap
def test_ctrl_c_during_synthesis_leaves_no_process_and_no_spoiled_result(tmp_path: Path) -> None:
    answers = _answers(tmp_path / "answers", 8, prelude="import time\ntime.sleep(1)")
    out = tmp_path / "out"
    cmd = _cli(str(answers), "--out", str(out), "--workers", "2", "--timeout", "60", "--quiet",
               "--rubric", str(dev_rubric(tmp_path)), "--cache-dir", str(tmp_path / "cache"))  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _interrupt_when(proc, out, 2)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    from tests.hostile.harness import sandbox_uids

    uids = sandbox_uids(proc.pid)
    time.sleep(1)
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _uid(p) in uids], (
        "a worker outlived the run"
    )
    for result in out.glob("*/result.json"):
        data = json.loads(result.read_text())
        assert data["status"] == "graded" and data["synth"]["status"] == "ok", data[
            "synth"
        ]  # nothing cut short kept
    _no_corrupt_files(out)
    rerun = subprocess.run(
        cmd + ["--json"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout.strip().splitlines()[-1])["synth_ok"] == 8
    _graded_once(out, 8)


def _uid(pid: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return -1
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:"))


# -- the output disk ------------------------------------------------------------------------------


def test_disk_full_at_the_store_layer_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import iacgrade.graders.store

    real = iacgrade.graders.store._new_temp
    calls = {"n": 0}

    def new_temp(path: Path) -> tuple[int, str]:  # where every atomic write creates its file
        calls["n"] += 1
        if calls["n"] > 6:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path)

    monkeypatch.setattr(iacgrade.graders.store, "_new_temp", new_temp)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["grade", str(ROOT / "samples"), "--out", str(out), "--no-synth", "--no-cache",
                                      "--quiet", "--rubric", str(dev_rubric(tmp_path))])  # fmt: skip
    output = " ".join(result.output.split())
    assert result.exit_code == 2, output
    assert "cannot write the results" in output and "No space left on device" in output
    _no_corrupt_files(out)


@needs_unshare
@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_real_full_or_read_only_disk(tmp_path: Path, fault: str) -> None:
    """In a private mount namespace: the output folder on a 96 KB tmpfs, or bound read-only."""
    answers = _answers(tmp_path / "answers", 40)
    disk, copy = tmp_path / "disk", tmp_path / "copy"
    disk.mkdir()
    grade = " ".join(_cli(str(answers), "--out", str(disk / "out"), "--no-synth", "--no-cache", "--workers", "2",
                          "--quiet", "--rubric", str(dev_rubric(tmp_path))))  # fmt: skip
    if fault == "full":
        setup = f"mount -t tmpfs -o size=96k tmpfs {disk}"
    else:
        # A finished earlier run sits in the folder; the read-only run must leave it as it was.
        first = subprocess.run(grade, shell=True, cwd=ROOT, env=_env(), capture_output=True, text=True)
        assert first.returncode == 0, first.stderr
        shutil.copytree(disk / "out", tmp_path / "before")
        setup = f"mount --bind {disk} {disk} && mount -o remount,bind,ro {disk}"
    script = f"{setup} && {{ {grade}; echo rc=$?; cp -a {disk} {copy}; }}"
    run = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    stderr = " ".join(run.stderr.split())
    assert "rc=2" in run.stdout, (run.stdout, stderr)
    reason = "No space left on device" if fault == "full" else "Read-only file system"
    assert "cannot write the results" in stderr and reason in stderr, stderr
    assert "Traceback" not in run.stderr
    _no_corrupt_files(copy / "out") if (copy / "out").exists() else None
    if fault == "read-only":
        before = {
            p.relative_to(tmp_path / "before"): p.read_bytes()
            for p in (tmp_path / "before").rglob("*")
            if p.is_file()
        }
        after = {
            p.relative_to(copy / "out"): p.read_bytes() for p in (copy / "out").rglob("*") if p.is_file()
        }
        assert before == after


# -- Node.js and bubblewrap ----------------------------------------------------------------------


@needs_unshare
@pytest.mark.parametrize("node", ["missing", "too old"])
def test_node_missing_or_too_old_is_said_at_start(tmp_path: Path, node: str) -> None:
    node_path = shutil.which("node", path="/usr/local/bin:/usr/bin:/bin")
    if node_path is None:
        pytest.skip("no node on the sandbox's PATH to hide")
    fake = tmp_path / "node"
    if node == "missing":
        fake.write_bytes(b"")  # not executable: shutil.which and the jsii runtime both pass it by
        fake.chmod(0o644)
    else:
        fake.write_text("#!/bin/sh\necho v12.22.12\n")
        fake.chmod(0o755)
    answers = _answers(tmp_path / "answers", 3)
    out = tmp_path / "out"
    grade = " ".join(_cli(str(answers), "--out", str(out), "--workers", "1", "--no-cache", "--quiet",
                          "--rubric", str(dev_rubric(tmp_path))))  # fmt: skip
    run = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {fake} {os.path.realpath(node_path)} && {grade}"],
                         cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)  # fmt: skip
    stderr = " ".join(run.stderr.split())
    assert run.returncode == 2, stderr
    expected = "Node.js not found" if node == "missing" else "'v12.22.12': aws-cdk-lib needs >= v18"
    assert expected in stderr and "--no-synth" in stderr, stderr
    assert not list(out.glob("*/result.json")), "answers were graded without Node"


@needs_node
def test_bubblewrap_missing_warns_loudly_or_refuses(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "node").symlink_to(NODE)  # type: ignore[arg-type]
    env = _env(PATH=str(bin_dir))
    answers = _answers(tmp_path / "answers", 1)
    common = ["--workers", "1", "--no-cache", "--json", "--rubric", str(dev_rubric(tmp_path))]
    refused = subprocess.run(_cli(str(answers), "--out", str(tmp_path / "o1"), "--require-sandbox", *common),
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert "bubblewrap" in refused.stderr and "Traceback" not in refused.stderr
    assert not list((tmp_path / "o1").glob("*/result.json"))

    warned = subprocess.run(_cli(str(answers), "--out", str(tmp_path / "o2"), *common),
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert warned.returncode == 0, warned.stderr
    assert "bubblewrap not found" in warned.stderr and "PLAIN PROCESSES" in warned.stderr
    result = json.loads((tmp_path / "o2" / "a000_RESPONSE" / "result.json").read_text())
    assert result["synth"]["isolation"] == "process" and result["synth"]["status"] == "ok", result["synth"]


# -- the result cache -----------------------------------------------------------------------------


def test_corrupt_cache_entries_are_ignored_and_rebuilt(tmp_path: Path) -> None:
    answers = _answers(tmp_path / "answers", 6)
    cache = tmp_path / "cache"
    common = ["--no-synth", "--workers", "2", "--quiet", "--json", "--rubric", str(dev_rubric(tmp_path)),
              "--cache-dir", str(cache)]  # fmt: skip

    def run(out: str) -> dict[str, int]:
        done = subprocess.run(_cli(str(answers), "--out", str(tmp_path / out), *common), cwd=ROOT, env=_env(),
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    assert run("one")["cache_hits"] == 0
    entries = sorted(p.parent for p in cache.rglob("entry.json"))
    assert len(entries) == 6
    (entries[0] / "entry.json").write_text("{not json")
    result_json = entries[1] / "data" / "result.json"
    result_json.write_text(result_json.read_text()[:50])
    (entries[2] / "data" / "result.json").write_bytes(b"\x00\xff" * 10)
    meta = json.loads((entries[3] / "entry.json").read_text())
    meta["key"] = "0" * 64
    (entries[3] / "entry.json").write_text(json.dumps(meta))
    second = run("two")
    assert second["cache_hits"] == 2 and second["graded"] == 6, second
    for name in ("one", "two"):
        _no_corrupt_files(tmp_path / name)
    strip = {"seconds", "synth_seconds", "worker", "attempts"}

    def normalized(out: Path) -> dict[str, object]:
        def clean(v: object) -> object:
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items() if k not in strip}
            return [clean(x) for x in v] if isinstance(v, list) else v

        return {p.parent.name: clean(json.loads(p.read_text())) for p in out.glob("*/result.json")}

    assert normalized(tmp_path / "one") == normalized(tmp_path / "two")
    assert run("three")["cache_hits"] == 6  # the corrupt entries were rebuilt by the second run
