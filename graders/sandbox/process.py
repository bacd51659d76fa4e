"""One sandboxed worker process: start it, hand it jobs, kill it with everything it spawned."""

from __future__ import annotations

import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iacgrade.graders.sandbox import launcher
from iacgrade.graders.sandbox.options import SandboxBroken, SandboxOptions
from iacgrade.graders.sandbox.protocol import _HEADER, MAX_FRAME, ProtocolError, decode_body, write_frame

STARTUP_TIMEOUT = 180.0
PROBE_TIMEOUT = 60.0  # a benign app on a warm worker takes about a second, even on a busy machine

# bwrap's --die-with-parent is PR_SET_PDEATHSIG, whose "parent" is the thread that forked it: a
# sandbox started from a thread that then ends (a pool's warm-up thread, a server's idle worker
# thread) is SIGKILLed with it, often mid-job. So every sandbox is forked on one thread that lives
# as long as the grader's process (one per process: a forked child has none of its parent's threads).
_spawner: tuple[int, ThreadPoolExecutor] | None = None
_spawner_lock = threading.Lock()


def _spawn(cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(cmd, **kwargs)`` forked on this process's long-lived spawner thread."""
    global _spawner
    with _spawner_lock:
        if _spawner is None or _spawner[0] != os.getpid():
            _spawner = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner"))
        executor = _spawner[1]

    def fork() -> subprocess.Popen[bytes]:
        return subprocess.Popen(cmd, **kwargs)

    return executor.submit(fork).result()


class WorkerDied(RuntimeError):
    """The worker process ended (or stopped speaking the protocol) in the middle of a job."""


class WorkerTimeout(RuntimeError):
    """The job ran past its wall-clock limit; the worker was killed."""


@dataclass
class Exit:
    """How a worker process ended: exit code or signal, and the tail of its boot log."""

    code: int | None
    signal: int | None
    log_tail: str

    def describe(self) -> str:
        if self.signal:
            return f"killed by {signal_name(self.signal)}"
        if self.code is not None and self.code > 128 and _is_signal(self.code - 128):
            # bwrap (the sandbox's init) exits with 128 + N when the worker died of signal N.
            return f"killed by {signal_name(self.code - 128)}, exit code {self.code}"
        return f"exit code {self.code}"


def _is_signal(number: int) -> bool:
    return number in signal.Signals._value2member_map_


def signal_name(number: int) -> str:
    """``SIGSEGV`` for 11; the number itself when it names no signal."""
    return signal.Signals(number).name if _is_signal(number) else f"signal {number}"


def _empty(d: Path) -> None:
    if d.is_symlink() or d.is_file():
        d.unlink()
    elif d.exists():
        for child in list(d.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def _what(msg: dict[str, Any]) -> str:
    """A forged frame, described in a few words for the tamper report."""
    return f"op={str(msg.get('op'))[:20]!r}" + (
        " (a stale or wrong nonce)" if "nonce" in msg else " (no nonce)"
    )


class WorkerProcess:
    """A worker sandbox with its own scratch folder (job/ and out/) and uid."""

    def __init__(
        self,
        slot: int,
        opts: SandboxOptions,
        iso: launcher.Isolation,
        jsii_cache: Path | None,
        scratch: Path,
        cpu_seconds: int,
    ) -> None:
        self.slot = slot
        self.opts = opts
        self.iso = iso
        self.jsii_cache = jsii_cache
        self.scratch = scratch
        self.uid = launcher.sandbox_uid(slot)
        self.cpu_seconds = cpu_seconds
        self.proc: subprocess.Popen[bytes] | None = None
        self.jobs = 0
        self.info: dict[str, Any] = {}
        self.sandboxed = iso.kind == "bwrap"
        self.job_dir_inside = launcher.JOB_DIR if self.sandboxed else str(scratch / "job")
        self.out_dir_inside = launcher.OUT_DIR if self.sandboxed else str(scratch / "out")

    @property
    def in_dir(self) -> Path:
        """Where the grader puts the job's files: read-only in the sandbox, copied into /job."""
        return self.scratch / "in"

    @property
    def job_dir(self) -> Path:
        """The job folder itself, on the host only without bwrap (with bwrap: a private tmpfs)."""
        return self.scratch / "job"

    @property
    def out_dir(self) -> Path:
        """Holds the job's log and the worker's boot log (with bwrap: only those two files)."""
        return self.scratch / "out"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the sandboxed worker and wait until it has warmed up."""
        self.kill()
        self.uid = launcher.sandbox_uid(self.slot)
        self.clear()
        env = launcher.sandbox_env(
            launcher.JSII_CACHE_DIR
            if (self.sandboxed and self.jsii_cache)
            else (str(self.jsii_cache or "") or None),
            {"IACGRADE_JOB_DIR": self.job_dir_inside, "IACGRADE_OUT_DIR": self.out_dir_inside},
        )
        env.update(self.extra_env())
        cmd = self.command()
        if self.sandboxed:
            cmd = (
                launcher.bwrap_args(self.iso, self.scratch, self.uid, self.jsii_cache, self.opts.scratch_mb)
                + cmd
            )
        self.proc = _spawn(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=str(self.scratch),
            preexec_fn=launcher.rlimits_preexec(
                self.opts, self.cpu_seconds, nproc=self.sandboxed and self.iso.root and bool(self.iso.setpriv)
            ),
            start_new_session=True,
        )
        self.jobs = 0
        assert self.proc.stdin is not None
        hello = {
            "op": "hello",
            "lint": self.opts.lint,
            "in_dir": launcher.IN_DIR if self.sandboxed else str(self.in_dir),
            # Only a private /tmp (bwrap) is the worker's to watch for what a job leaves in it.
            "private_tmp": self.sandboxed,
        }
        write_frame(self.proc.stdin, hello)
        msg = self._read(time.monotonic() + STARTUP_TIMEOUT)
        if msg.get("op") != "ready":
            err = (msg.get("error") or {}).get("message", msg)
            self.kill()
            raise WorkerDied(f"worker failed to start: {str(err)[:300]}")
        self.info = msg

    def command(self) -> list[str]:
        """The worker program (the CDK TypeScript kind's Node worker overrides this)."""
        return [sys.executable, "-m", "iacgrade.graders.sandbox.worker"]

    def extra_env(self) -> dict[str, str]:
        """Environment the worker program needs beyond the sandbox's own."""
        return {}

    def run(self, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one job and wait for its result; WorkerTimeout/WorkerDied when it does not come.

        The job runs inside the worker's process and can write on the worker's result pipe. So
        the result must carry the job's random nonce, and after it the worker must acknowledge a
        second nonce sent only once the result came: every frame before that acknowledgement
        other than the worker's own last result was forged. A worker that carried forged frames
        is reported as tampered (the pool recycles it), and the worker's own result is used.
        """
        assert self.proc is not None and self.proc.stdin is not None
        forged: list[str] = []
        stray = self._drain()
        if stray:
            raise WorkerDied(f"worker wrote {stray} bytes on its protocol channel between jobs")
        nonce = secrets.token_hex(16)
        deadline = time.monotonic() + timeout
        try:
            write_frame(self.proc.stdin, {"op": "job", "nonce": nonce, **job})
        except OSError as exc:
            raise WorkerDied(f"worker not accepting jobs: {exc}") from exc
        try:
            result = self._read(deadline)
            while not (result.get("op") == "result" and result.get("nonce") == nonce):
                forged.append(_what(result))
                result = self._read(deadline)
            if not result.get("tampered"):
                result = self._sync(result, nonce, deadline, forged)
        except WorkerTimeout:
            self.kill()
            raise
        self.jobs += 1
        if forged:
            result["tampered"] = [
                *(result.get("tampered") or []),
                f"forged frames on the protocol channel: {forged[:3]}",
            ]
        return result

    def _sync(self, result: dict[str, Any], nonce: str, deadline: float, forged: list[str]) -> dict[str, Any]:
        """Read up to the acknowledgement of a fresh nonce; the last result before it is the worker's."""
        assert self.proc is not None and self.proc.stdin is not None
        ack = secrets.token_hex(16)
        try:
            write_frame(self.proc.stdin, {"op": "sync", "nonce": ack})
            while True:
                msg = self._read(deadline)
                if msg.get("op") == "synced" and msg.get("nonce") == ack:
                    return result
                if msg.get("op") == "result" and msg.get("nonce") == nonce:
                    forged.append(_what(result))
                    result = msg
                else:
                    forged.append(_what(msg))
        except (OSError, WorkerDied) as exc:
            # The worker ended before acknowledging: what it sent last is all we have.
            forged.append(f"no acknowledgement ({exc})")
            return result

    def _drain(self) -> int:
        """Bytes the worker wrote since its last acknowledgement (a job's leftover writer)."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        stray = 0
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            stray += len(chunk)
        return stray

    def _read(self, deadline: float) -> dict[str, Any]:
        """One frame, read exactly (never a byte of the next one: it may be a forgery to judge)."""
        header = self._read_exact(_HEADER.size, deadline)
        (size,) = _HEADER.unpack(header)
        if size > MAX_FRAME:
            raise WorkerDied("worker wrote garbage on its protocol channel")
        try:
            return decode_body(self._read_exact(size, deadline))
        except ProtocolError as exc:
            raise WorkerDied("worker wrote garbage on its protocol channel") from exc

    def _read_exact(self, n: int, deadline: float) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerTimeout("timed out")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, min(n - len(buf), 1 << 20))
            if not chunk:
                raise WorkerDied(self.exit().describe())
            buf += chunk
        return bytes(buf)

    def exit(self) -> Exit:
        """Wait briefly for the process to end and say how it ended."""
        code = sig = None
        if self.proc is not None:
            try:
                rc = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
                rc = self.proc.returncode
            if rc is not None and rc < 0:
                sig = -rc
            else:
                code = rc
        tail = ""
        log = self.out_dir / "worker.log"
        if log.is_file() and not log.is_symlink():
            with open(log, "rb") as fh:
                fh.seek(max(0, log.stat().st_size - 2000))
                tail = fh.read().decode(errors="replace")
        return Exit(code, sig, tail)

    def kill(self) -> None:
        """Kill the sandbox: bwrap's pid namespace takes every process of the job with it."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self.proc = None

    def clear(self) -> None:
        """Empty in/, and job/ and out/ (never following links a job may have planted).

        Called before a worker starts and before each job. With bwrap the sandbox writes only
        to its own tmpfs folders and to the two log files bound into /out, which must stay the
        same files while it runs (it truncates them itself), so out/ is renewed only at start.
        """
        at_start = not self.alive()
        for d in (self.in_dir, self.job_dir, self.out_dir):
            if not self.sandboxed or at_start or d == self.in_dir:
                _empty(d)
            d.mkdir(parents=True, exist_ok=True)
            self._own(d)
        if self.sandboxed and at_start:
            for name in launcher.OUT_FILES:
                (self.out_dir / name).touch()
                self._own(self.out_dir / name)

    def _own(self, path: Path) -> None:
        # The sandbox runs as the slot's uid: it must be able to write its job and out folders.
        if self.sandboxed and self.iso.root and self.iso.setpriv:
            os.chown(path, self.uid, self.uid)

    def own_tree(self, path: Path) -> None:
        """Give the job folder's files to the sandbox uid."""
        if not (self.sandboxed and self.iso.root and self.iso.setpriv):
            return
        for dirpath, dirnames, filenames in os.walk(path):
            os.chown(dirpath, self.uid, self.uid)
            for name in filenames + dirnames:
                os.lchown(os.path.join(dirpath, name), self.uid, self.uid)


def start_or_broken(w: WorkerProcess) -> None:
    """Start ``w``, once more when that fails: a worker that does not start twice in a row is the
    sandbox's failure, never the answer's (it has not run yet)."""
    why = ""
    for _try in range(2):
        try:
            w.start()
            return
        except WorkerDied as exc:
            why = str(exc)
    raise SandboxBroken(f"the sandbox worker does not start (twice): {why}")


def sandbox_fault(w: WorkerProcess, files: dict[str, str], job: dict[str, Any]) -> str | None:
    """After an answer's job died twice: why a benign app fails too on a fresh start of ``w``
    (the sandbox is broken), or None when it synthesizes (the deaths were the answer's own).

    The worker would be started again for the next answer anyway; it is left warm for it."""
    try:
        w.start()
        w.clear()
        for rel, text in files.items():
            path = w.in_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        w.own_tree(w.in_dir)
        raw = w.run(job, PROBE_TIMEOUT)
    except (WorkerDied, WorkerTimeout, OSError) as exc:
        w.kill()
        return f"a benign app fails on a fresh worker too ({type(exc).__name__}: {exc})"
    error = raw.get("error")
    if error or not (raw.get("outputs") or {}).get("templates") or raw.get("tampered"):
        w.kill()
        what = error.get("message") if isinstance(error, dict) else error
        return f"a benign app does not synthesize on a fresh worker ({str(what or 'no template')[:300]})"
    return None
