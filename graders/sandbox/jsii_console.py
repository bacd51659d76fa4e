"""Node's console output in a CDK Python worker, copied into the log of the job that caused it.

jsii's Python runtime starts its Node process with stderr on a pipe, and a thread of its own copies
what Node writes there (console output as JSON lines; aws-cdk-lib's deprecation warnings among it)
to Python's stderr and stdout. Node writes a call's warnings into the pipe before it answers the
call, so when a job's last jsii call has returned its warnings are in the pipe; but the thread
copies them when it next gets to run, and on a busy machine that can be after the job's log is
closed. The warnings then belong to no job (or to the next one), and an answer's deprecated-api
finding loses its "jsii warned" evidence at random.

:func:`install` has jsii start this module's sink instead, which copies the same lines the same
way, one chunk at a time under a lock; :func:`drain` then knows when nothing is left: the pipe is
empty and no chunk is half copied.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import struct
import sys
import termios
import threading
import time
from typing import IO, Any


class _Sink:
    """The sink's state. It lives in this object, so the module's own attributes never change:
    the worker's tamper check watches this module (a job that patched it could write into the
    logs of the answers after it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fd: int | None = None  # the read end of Node's stderr pipe, once the sink runs
        self.partial = b""  # the start of a line whose end is not in the pipe yet


_state = _Sink()
_LOCK = type(threading.Lock())


def install() -> None:
    """Make jsii's runtime copy Node's console with :func:`_sink` (before aws_cdk is imported:
    the runtime starts its thread when it starts Node)."""
    from jsii._kernel.providers import process

    process.stderr_sink = _sink  # type: ignore[assignment]


def drain(timeout: float = 1.0) -> None:
    """Return once everything Node has written to its console so far is copied (at most ``timeout``
    seconds: a sink that died must not stall the worker)."""
    state = _state
    if state.fd is None:
        return
    deadline = time.monotonic() + timeout
    while True:
        with state.lock:
            if not state.partial and _unread(state.fd) == 0:
                return
        if time.monotonic() > deadline:
            return
        time.sleep(0.001)  # the sink has the pipe's bytes to copy: let it run


def problems() -> list[str]:
    """What a job left in the sink's state, once `drain` has run: nothing, or why the worker must
    go (a part line kept for later would reach the next answer's log; a replaced lock, its drain)."""
    state, found = _state, []
    if set(vars(state)) != {"lock", "fd", "partial"} or type(state.lock) is not _LOCK:
        found.append("jsii console sink changed")
    elif state.partial:
        found.append("jsii console sink holds a part line for the next job")
    return found


def _unread(fd: int) -> int:
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])
    except OSError:
        return 0


def _sink(reader: IO[bytes]) -> None:
    state = _state
    fd = state.fd = reader.fileno()
    while True:
        try:
            select.select([fd], [], [])
        except (OSError, ValueError):
            return
        with state.lock:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                return
            if not chunk:  # Node has gone
                return
            *lines, state.partial = (state.partial + chunk).split(b"\n")
            for line in lines:
                _copy(line + b"\n")


def _copy(line: bytes) -> None:
    """One console line as jsii's own sink writes it."""
    try:
        console: Any = json.loads(line)
        if console.get("stderr") is not None:
            sys.stderr.buffer.write(base64.b64decode(console["stderr"]))
        if console.get("stdout") is not None:
            sys.stdout.buffer.write(base64.b64decode(console["stdout"]))
    except Exception:  # noqa: BLE001 - not a console message: shown as it came
        print(line, file=sys.stderr)
