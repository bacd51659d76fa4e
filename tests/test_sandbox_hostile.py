"""Hostile answers (tests/hostile_synth/): each gets a clear status, the run goes on, nothing
outside the job folder changes, no process outlives its job, no secret reaches the answer, and
the next answer on the same worker synthesizes exactly as it does alone.

Needs bubblewrap and Node (CI has both, runs as root). Slow: several workers get recycled.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from iacgrade.graders.models import Sample, SynthResult, Workspace
from iacgrade.graders.sandbox import SandboxOptions, SynthPool
from iacgrade.graders.sandbox.launcher import detect_isolation

HOSTILE = Path(__file__).parent / "hostile_synth"
SECRET = "iacgrade-fake-secret-5f1c0a"
SAMPLE = Sample(sample_id="hostile", source="hostile")

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
    pytest.mark.skipif(detect_isolation().kind != "bwrap", reason="bubblewrap is not usable here"),
]


@pytest.fixture(scope="module")
def pool() -> Iterator[SynthPool]:
    os.environ["IACGRADE_TEST_SECRET_TOKEN"] = SECRET
    os.environ["AWS_SECRET_ACCESS_KEY"] = SECRET
    try:
        with SynthPool(SandboxOptions(workers=1, timeout=20, memory_mb=2048, lint=False)) as p:
            yield p
    finally:
        os.environ.pop("IACGRADE_TEST_SECRET_TOKEN", None)
        os.environ.pop("AWS_SECRET_ACCESS_KEY", None)


@pytest.fixture(scope="module")
def victim_alone(pool: SynthPool, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _victim(pool, tmp_path_factory.mktemp("alone"))


def _ws(name: str, dest: Path, extra: dict[str, str] | None = None) -> Workspace:
    shutil.copytree(HOSTILE / name, dest / "ws")
    for rel, text in (extra or {}).items():
        (dest / "ws" / rel).write_text(text)
    files = sorted(str(p.relative_to(dest / "ws")) for p in (dest / "ws").rglob("*") if p.is_file())
    return Workspace(root=str(dest / "ws"), files=files, answer_files=files)


def _run(pool: SynthPool, name: str, dest: Path, extra: dict[str, str] | None = None) -> SynthResult:
    return pool.synthesize(_ws(name, dest, extra), SAMPLE, dest / "out")


def _victim(pool: SynthPool, dest: Path) -> bytes:
    r = _run(pool, "victim", dest)
    assert r.status == "ok", r.message
    return (dest / "out" / r.templates["Victim"]).read_bytes()


def _sandbox_processes(uid: int | None = None) -> list[str]:
    """Processes left by hostile answers (waits a little: killed namespaces die asynchronously)."""
    for _ in range(50):
        out = subprocess.run(["ps", "-eo", "uid,args"], capture_output=True, text=True).stdout
        left = [
            line
            for line in out.splitlines()[1:]
            if "sleep 600" in line or (uid is not None and line.split()[0] == str(uid))
        ]
        if not left:
            return []
        time.sleep(0.2)
    return left


def _outputs(dest: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in (dest / "out").rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("name", "status", "cause", "words"),
    [
        ("infinite_loop", "timeout", "timeout", "longer than"),
        ("huge_allocation", "failed", "memory", "MemoryError"),
        ("sys_exit", "failed", "exited", "exit code 3"),
        ("os_exit", "failed", "exited", "ended abruptly"),
        ("endless_output", None, None, ""),
        ("fork_bomb", None, None, ""),
    ],
)
def test_hostile_gets_clear_status_and_next_answer_is_clean(
    pool: SynthPool,
    victim_alone: bytes,
    tmp_path: Path,
    name: str,
    status: str | None,
    cause: str | None,
    words: str,
) -> None:
    r = _run(pool, name, tmp_path / "h")
    if status is not None:
        assert (r.status, r.cause) == (status, cause), r.message
        assert words in (r.message or "")
    else:
        assert r.status in ("failed", "timeout") and r.message
    assert (tmp_path / "h" / "out" / "synth.log").stat().st_size <= 70 * 1024
    assert _victim(pool, tmp_path / "v") == victim_alone
    if r.worker.recycled or r.status == "timeout" or r.error_type == "WorkerDied":
        assert not _sandbox_processes(r.worker.uid)


def test_spawned_process_does_not_outlive_job(pool: SynthPool, victim_alone: bytes, tmp_path: Path) -> None:
    r = _run(pool, "spawn_sleeper", tmp_path / "h")
    assert r.status == "ok"  # the answer itself synthesizes; its worker is recycled
    assert "processes left running" in r.worker.model_dump_json()
    assert not _sandbox_processes()
    assert _victim(pool, tmp_path / "v") == victim_alone


def test_monkeypatching_cdk_does_not_spoil_next_answer(
    pool: SynthPool, victim_alone: bytes, tmp_path: Path
) -> None:
    r = _run(pool, "monkeypatch_cdk", tmp_path / "h")
    assert r.worker.tampered, r.worker
    assert _victim(pool, tmp_path / "v") == victim_alone


def test_network_is_unreachable(pool: SynthPool, tmp_path: Path) -> None:
    r = _run(pool, "network_call", tmp_path / "h")
    assert r.status == "ok", r.message
    out = _outputs(tmp_path / "h")
    assert "http failed" in out and "tcp failed" in out and " ok" not in out.split("Result")[-1][:200]


def test_writes_outside_job_folder_fail(pool: SynthPool, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("original")
    repo_file = Path(__file__).resolve().parents[1] / "pyproject.toml"
    before = repo_file.read_bytes()
    targets = [
        str(outside),
        str(repo_file),
        "/etc/iacgrade-pwned",
        "/tmp/iacgrade-pwned",
        "/root/iacgrade-pwned",
    ]
    r = _run(pool, "write_outside", tmp_path / "h", {"targets.json": json.dumps(targets)})
    assert r.status == "ok", r.message
    report = json.loads(
        json.loads(next((tmp_path / "h" / "out" / "templates").iterdir()).read_text())["Outputs"]["Result"][
            "Value"
        ]
    )
    # /tmp inside the sandbox is a private tmpfs: writing there is allowed and invisible outside.
    assert all(report[t] != "written" for t in targets if t != "/tmp/iacgrade-pwned")
    assert outside.read_text() == "original" and repo_file.read_bytes() == before
    assert not Path("/etc/iacgrade-pwned").exists() and not Path("/tmp/iacgrade-pwned").exists()


def test_grader_secrets_never_reach_the_answer(pool: SynthPool, tmp_path: Path) -> None:
    r = _run(pool, "read_environment", tmp_path / "h")
    assert r.status == "ok", r.message
    out = _outputs(tmp_path / "h")
    assert "PATH" in out  # it did dump its environment
    assert SECRET not in out and "AWS_SECRET_ACCESS_KEY" not in out


def test_forged_result_carrying_the_nonce_is_not_taken(
    pool: SynthPool, victim_alone: bytes, tmp_path: Path
) -> None:
    """The job reads its nonce from the worker's frames: the worker's own result still wins."""
    r = _run(pool, "forge_with_nonce", tmp_path / "h")
    assert r.status == "ok" and r.stacks == ["Real"], (r.stacks, r.message)
    assert "forged frames on the protocol channel" in json.dumps(r.worker.tampered), r.worker
    assert r.worker.recycled, r.worker
    assert _victim(pool, tmp_path / "v") == victim_alone


def test_stolen_acknowledgement_never_reaches_the_next_job(
    pool: SynthPool, victim_alone: bytes, tmp_path: Path
) -> None:
    """Reading the acknowledgement request too lets a job forge its own result, nothing more."""
    r = _run(pool, "forge_with_nonce", tmp_path / "h", {"steal_sync.txt": "yes"})
    assert r.stacks in (["Forged"], ["Real"]), r.stacks
    victim = _run(pool, "victim", tmp_path / "v")
    assert victim.status == "ok", victim.message
    assert victim.worker.warm is False, victim.worker  # the forger's worker ran nothing more
    assert (tmp_path / "v" / "out" / victim.templates["Victim"]).read_bytes() == victim_alone


def test_scratch_folders_are_bounded(tmp_path: Path) -> None:
    """Files each just under the file size limit fill a folder only up to its size limit."""
    opts = SandboxOptions(workers=1, timeout=30, memory_mb=2048, lint=False, max_file_mb=4, scratch_mb=24)
    with SynthPool(opts) as small:
        r = _run(small, "fill_scratch", tmp_path / "h")
        host_bytes = sum(
            p.stat().st_size for p in small._tmp.rglob("*") if p.is_file() and not p.is_symlink()
        )
        after = _run(small, "victim", tmp_path / "v")
    assert (r.status, r.cause) == ("failed", "other"), r.message
    assert "scratch space exhausted" in (r.message or "")
    log = (tmp_path / "h" / "out" / "synth.log").read_text()
    report = json.loads(log.split("FILL-REPORT ", 1)[1].splitlines()[0])
    assert set(report) == {"/job/fill", "/tmp/fill", "/out/fill"}
    for folder, (files, written, error) in report.items():
        assert error == "ENOSPC" and 3 <= files < 200 and written <= 24 * 1024 * 1024, (folder, report)
    assert host_bytes < 1024 * 1024, host_bytes  # nothing of it on the host disk
    assert "/tmp holds" in json.dumps(r.worker.tampered), r.worker
    assert after.status == "ok", after.message  # the run goes on
