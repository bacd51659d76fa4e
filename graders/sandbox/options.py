"""Options of the synth sandbox and the error raised when it cannot be had."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from iacgrade.graders.defaults import SCRATCH_MB, TIMEOUT_S


class SandboxUnavailable(RuntimeError):
    """Raised when ``require_sandbox`` is set and bubblewrap cannot be used."""


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class SandboxOptions:
    """How answers are synthesized.

    ``isolation="warm"`` reuses long-lived workers (fast); ``"process"`` starts a fresh
    sandboxed process per answer (cold, strongest separation). ``scratch_mb`` bounds each of the
    sandbox's writable folders (tmpfs: they take memory, not disk); a job that fills one gets
    ENOSPC ("scratch space exhausted"). Without bubblewrap there is no such bound.
    """

    workers: int = field(default_factory=_default_workers)
    timeout: float = TIMEOUT_S
    isolation: Literal["warm", "process"] = "warm"
    require_sandbox: bool = False
    max_jobs_per_worker: int = 200
    memory_mb: int = 3072
    lint: bool = True
    max_procs: int = 256
    max_file_mb: int = 256
    # Size of each of the sandbox's writable folders (/job, /out, /tmp: tmpfs, so memory):
    # bounds everything a job writes together, where max_file_mb bounds one file.
    scratch_mb: int = SCRATCH_MB
    log_cap_bytes: int = 64 * 1024
    max_attempts: int = 6
