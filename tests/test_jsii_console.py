"""The CDK Python worker's copy of Node's console (graders/sandbox/jsii_console.py), on a pipe of
our own: `drain` returns only once every line written so far is copied, however late the sink
thread gets to run."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import threading
import time

import pytest

from iacgrade.graders.sandbox import jsii_console


def _console(stream: str, text: str) -> bytes:
    return json.dumps({stream: base64.b64encode(text.encode()).decode()}).encode() + b"\n"


def test_drain_waits_for_the_sink_to_copy_every_line(monkeypatch: pytest.MonkeyPatch) -> None:
    err, out = io.TextIOWrapper(io.BytesIO()), io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(jsii_console, "_state", jsii_console._Sink())
    read_end, write_end = os.pipe()
    reader = os.fdopen(read_end, "rb")
    sink = threading.Thread(target=jsii_console._sink, args=(reader,), daemon=True)
    sink.start()
    while jsii_console._state.fd is None:
        time.sleep(0.001)

    # The sink is kept from copying (as a busy machine keeps a thread from running) while Node
    # writes its warnings; drain must wait for them rather than find the log unchanged and go.
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with jsii_console._state.lock:
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    lines = [_console("stderr", f"[WARNING] aws-cdk-lib.Api{i} is deprecated.\n") for i in range(50)]
    os.write(write_end, b"".join(lines[:25]))
    os.write(write_end, b"".join(lines[25:]) + _console("stdout", "printed") + b"not json\n")
    threading.Timer(0.2, release.set).start()
    jsii_console.drain(timeout=5)
    err.flush()  # a line that is not a console message is printed through the text layer
    copied = err.buffer.getvalue().decode()  # type: ignore[attr-defined]
    assert [f"[WARNING] aws-cdk-lib.Api{i} is deprecated." for i in range(50)] == copied.splitlines()[:50]
    assert "b'not json\\n'" in copied
    assert out.buffer.getvalue() == b"printed"  # type: ignore[attr-defined]
    os.close(write_end)
    sink.join(5)
    holder.join(5)
    assert not sink.is_alive()  # Node gone: the sink ends


def test_drain_without_a_sink_returns_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsii_console, "_state", jsii_console._Sink())
    start = time.monotonic()
    jsii_console.drain()
    assert time.monotonic() - start < 0.5


def test_a_sink_a_job_has_changed_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module is watched by the tamper check; the sink's own state is checked after each job:
    a part line left behind would be written at the head of the next answer's log."""
    from iacgrade.graders.sandbox import integrity

    assert "iacgrade.graders.sandbox.jsii_console" in integrity._WATCHED_EXACT
    state = jsii_console._Sink()
    monkeypatch.setattr(jsii_console, "_state", state)
    assert jsii_console.problems() == []
    state.partial = _console("stderr", "[WARNING] forged.")[:-1]
    assert jsii_console.problems() == ["jsii console sink holds a part line for the next job"]
    state.partial = b""
    state.lock = object()  # type: ignore[assignment]
    assert jsii_console.problems() == ["jsii console sink changed"]
