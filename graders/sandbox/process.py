"""One sandboxed worker process: start it, hand it jobs, kill it with everything it spawned."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.sandbox import launcher
from graders.sandbox.options import SandboxOptions
from graders.sandbox.protocol import _HEADER, MAX_FRAME, ProtocolError, write_frame

STARTUP_TIMEOUT = 180.0


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
            name = (
                signal.Signals(self.signal).name
                if self.signal in signal.Signals._value2member_map_
                else self.signal
            )
            return f"killed by {name}"
        return f"exit code {self.code}"


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
    def job_dir(self) -> Path:
        return self.scratch / "job"

    @property
    def out_dir(self) -> Path:
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
        cmd = [sys.executable, "-m", "graders.sandbox.worker"]
        if self.sandboxed:
            cmd = launcher.bwrap_args(self.iso, self.scratch, self.uid, self.jsii_cache) + cmd
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=str(self.job_dir),
            preexec_fn=launcher.rlimits_preexec(
                self.opts, self.cpu_seconds, nproc=self.sandboxed and self.iso.root and bool(self.iso.setpriv)
            ),
            start_new_session=True,
        )
        self.jobs = 0
        assert self.proc.stdin is not None
        write_frame(self.proc.stdin, {"op": "hello", "lint": self.opts.lint})
        msg = self._read(time.monotonic() + STARTUP_TIMEOUT)
        if msg.get("op") != "ready":
            err = (msg.get("error") or {}).get("message", msg)
            self.kill()
            raise WorkerDied(f"worker failed to start: {err}")
        self.info = msg

    def run(self, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one job and wait for its result; WorkerTimeout/WorkerDied when it does not come."""
        assert self.proc is not None and self.proc.stdin is not None
        try:
            write_frame(self.proc.stdin, {"op": "job", **job})
        except OSError as exc:
            raise WorkerDied(f"worker not accepting jobs: {exc}") from exc
        try:
            result = self._read(time.monotonic() + timeout)
        except WorkerTimeout:
            self.kill()
            raise
        self.jobs += 1
        return result

    def _read(self, deadline: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = b""
        need = _HEADER.size
        size = None
        while len(buf) < need:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerTimeout("timed out")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, max(need - len(buf), 65536) if size is None else need - len(buf))
            if not chunk:
                raise WorkerDied(self.exit().describe())
            buf += chunk
            if size is None and len(buf) >= _HEADER.size:
                (size,) = _HEADER.unpack(buf[: _HEADER.size])
                if size > MAX_FRAME:
                    raise WorkerDied("worker wrote garbage on its protocol channel")
                need = _HEADER.size + size
        import json

        try:
            msg = json.loads(buf[_HEADER.size : need])
        except ValueError as exc:
            raise WorkerDied("worker wrote garbage on its protocol channel") from exc
        if not isinstance(msg, dict):
            raise ProtocolError("not an object")
        return msg

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
        """Empty job/ and out/ (never following links a job may have planted)."""
        for d in (self.job_dir, self.out_dir):
            if d.is_symlink() or d.is_file():
                d.unlink()
            elif d.exists():
                for child in list(d.iterdir()):
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)
            d.mkdir(parents=True, exist_ok=True)
            self._own(d)

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
