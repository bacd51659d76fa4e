"""Parse (and cfn-lint) an answer's CloudFormation template in a child process, bounded.

A template is untrusted data: a YAML alias bomb, 10k-deep nesting or a huge scalar must cost one
answer a clear failure, never the run its memory or its time. Each worker is a spawned Python
process (``python -m graders.kinds.cfn_parse``, length-prefixed JSON over its pipes: no
multiprocessing, so nothing re-imports the caller's main module) with an address-space limit (``RLIMIT_AS``) that parses with cfn-lint's decoder (short-form
intrinsics become long form; every node keeps its line) and then lints the template with a warm
cfn-lint. The parent waits a bounded time for each of the two replies; a worker that does not
answer in time, or dies, is killed and replaced, and the answer gets ``timeout`` / ``memory`` /
``exited``. Inputs over :data:`MAX_TEMPLATE_BYTES` are refused before any parsing, and in the
worker one linear pass over the YAML events (:func:`scan_limits`) refuses, before cfn-lint's
decoder builds anything, a template nested deeper than :data:`MAX_DEPTH`, with more than
:data:`MAX_RESOURCES` resources or :data:`MAX_KEYS` keys in a mapping (the decoder's duplicate-key
check is quadratic: 50,000 resources took it over a minute), more than :data:`MAX_NODES` values once
aliases are expanded (an alias bomb), a control character, or a document that is not a mapping.
"""

from __future__ import annotations

import gc
import json
import os
import queue
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from iacgrade.graders.defaults import GC_THRESHOLDS

if TYPE_CHECKING:
    from iacgrade.graders.models import LintMatch

# CloudFormation refuses a template body over 1 MB (from S3); twice that is surely not a template.
MAX_TEMPLATE_BYTES = 2_000_000
# Limits checked on the YAML event stream before the decoder builds anything (see scan_limits):
# cfn-lint's decoder compares each key of a mapping with every key before it (a duplicate check,
# quadratic: 50,000 resources take a minute), and its linter walks every value.
MAX_DEPTH = 100  # nesting levels; real templates stay under 20
MAX_RESOURCES = 1_000  # CloudFormation accepts at most 500 resources in a template
MAX_KEYS = 2_000  # keys of any one mapping (CloudFormation's largest section limit is 500)
MAX_NODES = 250_000  # values once YAML aliases are expanded (cfn-lint's own alias-bomb limit)
MEMORY_MB = 2048  # a worker's address space: cfn-lint with its schemas needs ~300 MB
# A warm worker grows as cfn-lint caches what it has seen (schemas per region and resource type, its
# own per-template caches): over the 346 cfn-yaml answers one worker went from 0.3 to 2 GB, and
# the answers after that had their lint fail for want of memory. A worker whose address space has
# passed this share of its limit is replaced after its job, before the next answer can hit it.
RECYCLE_SHARE = 0.5
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class ParseOutcome:
    """What the worker made of one template."""

    status: str  # ok | failed (the template's fault) | timeout | memory | exited | error (the parser's)
    template_json: str | None = None
    message: str | None = None
    line: int | None = None  # 1-based line of a parse error, in the template text
    marks: dict[str, int] = field(default_factory=dict)  # logical id -> 1-based line of its key
    # "Parameters/Name", "Mappings/Name", "Outputs/Name" -> 1-based line of its key
    entries: dict[str, int] = field(default_factory=dict)
    lint: list[LintMatch] | None = None  # None: cfn-lint did not finish
    lint_note: str | None = None
    note: str | None = None  # what the parse left out of the text, when it did
    seconds: float = 0.0


class ParsePool:
    """Warm parse workers, one per grading thread at most, each replaced after a timeout or crash."""

    def __init__(self, workers: int = 1, timeout: float = 60.0, memory_mb: int = MEMORY_MB) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self.max_workers = max(1, workers)
        self.recycled = 0  # workers replaced because they had grown past RECYCLE_SHARE of their memory

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = self._all, []
        for w in workers:
            w.stop()

    def parse(self, text: str, region: str = "us-east-1") -> ParseOutcome:
        """Parse and lint one template's text; never raises for what the text holds."""
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_TEMPLATE_BYTES:
            return ParseOutcome(
                "failed",
                message=f"the template is {size:,} bytes: over the {MAX_TEMPLATE_BYTES:,} bytes "
                "iacgrade reads (CloudFormation itself takes at most 1 MB)",
                line=1,
            )
        worker = self._checkout()
        start = time.monotonic()
        try:
            outcome = worker.run(text, region, self.timeout)
        finally:
            self._checkin(worker)
        outcome.seconds = round(time.monotonic() - start, 3)
        return outcome

    def _checkout(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._closed:
                raise RuntimeError("the parse pool is closed")
            worker = _Worker(self.memory_mb)
            self._all.append(worker)
            return worker

    def _checkin(self, worker: _Worker) -> None:
        size = worker.address_space_mb()
        if size is not None and size > self.memory_mb * RECYCLE_SHARE:
            worker.alive = False  # grown too big to take another template: replaced on next use
            self.recycled += 1
        with self._lock:
            if worker.alive and not self._closed and self._idle.qsize() < self.max_workers:
                self._idle.put(worker)
                return
            if worker in self._all:
                self._all.remove(worker)
        worker.stop()


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "iacgrade.graders.kinds.cfn_parse", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # Parsing needs no credentials; keep them out of a process that reads untrusted data.
            # PYTHONHASHSEED fixed: cfn-lint prints sets in some messages (E3019), in hash order.
            env={**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "PYTHONHASHSEED": "0"},
        )
        self.alive = True
        self.warm = False

    def run(self, text: str, region: str, timeout: float) -> ParseOutcome:
        # A fresh worker first loads the decoder and cfn-lint's rules: that is not the answer's time.
        budget = timeout + (0 if self.warm else _WARMUP_S)
        deadline = time.monotonic() + budget
        try:
            assert self.process.stdin is not None
            _write(self.process.stdin, {"text": text, "region": region})
            parsed = self._reply(deadline)
        except (OSError, EOFError, ValueError):
            parsed = None
        if parsed is None:
            return self._lost(f"parsing did not finish in {timeout:g} s", "timeout")
        if parsed.get("status") != "ok" or not isinstance(parsed.get("template_json"), str):
            return ParseOutcome(
                str(parsed.get("status") or "failed"),
                message=str(parsed.get("message") or ""),
                line=parsed.get("line"),
            )
        outcome = ParseOutcome(
            "ok",
            template_json=parsed["template_json"],
            marks=dict(parsed.get("marks") or {}),
            entries=dict(parsed.get("entries") or {}),
            note=parsed.get("note"),
        )
        try:
            linted = self._reply(max(deadline, time.monotonic() + timeout / 2))
        except (OSError, EOFError, ValueError):
            linted = None
        if linted is None:
            self._lost("", "timeout")
            outcome.lint_note = "cfn-lint did not finish on this template in time; its matches are missing"
        elif linted.get("status") != "ok":
            outcome.lint_note = f"cfn-lint failed on this template: {linted.get('message')}"
        else:
            from iacgrade.graders.models import (  # the parent's: the worker never needs it
                LintMatch,
                typed_list,
            )

            outcome.lint = typed_list(LintMatch, linted.get("lint"))
            self.warm = True
        return outcome

    def _reply(self, deadline: float) -> dict[str, Any] | None:
        """The worker's next message, or None when it gives none before ``deadline``; EOFError when it died."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        header = _read_exact(fd, 8, deadline)
        if header is None:
            return None
        (size,) = struct.unpack(">Q", header)
        body = _read_exact(fd, size, deadline)
        if body is None:
            return None
        reply = json.loads(body)
        return reply if isinstance(reply, dict) else None

    def _lost(self, message: str, status: str) -> ParseOutcome:
        """The worker did not answer: kill it; it died on its own when its exit code says so."""
        code = self.process.poll()
        died = code is not None
        self.stop()
        if died:
            status = "memory" if code in (-9, 137) else "exited"  # -9: the kernel's OOM kill
            message = f"the parser exited (code {code}) on this template"
        return ParseOutcome(status, message=message)

    def address_space_mb(self) -> int | None:
        """The worker's virtual size in MB (what its RLIMIT_AS counts); None if it cannot be read."""
        try:
            pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pages * _PAGE // 2**20

    def stop(self) -> None:
        self.alive = False
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def _write(stream: BinaryIO | IO[bytes], message: dict[str, Any]) -> None:
    body = json.dumps(message).encode("utf-8", "surrogatepass")
    stream.write(struct.pack(">Q", len(body)) + body)
    stream.flush()


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    """``size`` bytes from ``fd``; None when ``deadline`` passes first, EOFError when the pipe ends."""
    chunks, got = [], 0
    while got < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            raise EOFError("the worker closed its pipe")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


_WARMUP_S = 30.0


# ---- the child -----------------------------------------------------------------------------------
def serve(memory_mb: int) -> None:
    """The worker's loop: one job in; the parse out, then, when it parsed, the lint. Ends at EOF."""
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.setrecursionlimit(5000)
    gc.set_threshold(*GC_THRESHOLDS)
    # Replies go to a private copy of stdout; whatever the libraries print goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    fd_in = sys.stdin.fileno()
    while True:
        try:
            header = _read_exact(fd_in, 8, None)
            assert header is not None
            job = json.loads(_read_exact(fd_in, struct.unpack(">Q", header)[0], None) or b"{}")
        except (EOFError, OSError, ValueError):
            return
        text, region = str(job.get("text", "")), str(job.get("region", "us-east-1"))
        decoded: list[Any] = []
        read: list[str] = []
        parsed = _guarded(parse_text, text, decoded, read)
        _write(out, parsed)
        if parsed.get("status") == "ok":  # the parent reads a lint reply only after a good parse
            _write(out, _guarded(_lint_job, read[0], region, decoded[0]))


def _lint_job(text: str, region: str, template: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ok", "lint": lint_text(text, region, template)}


def _guarded(fn: Any, *args: Any) -> dict[str, Any]:
    try:
        return dict(fn(*args))
    except MemoryError:
        return {"status": "memory", "message": "the template needs more memory than a worker has"}
    except RecursionError:
        return {"status": "failed", "message": "the template nests too deeply to read", "line": None}
    except Exception as exc:  # the decoder reports bad input as errors: this is the worker's own trouble
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:500], "line": None}


def parse_text(text: str, keep: list[Any] | None = None, read: list[str] | None = None) -> dict[str, Any]:
    """Decode a template with cfn-lint's decoder: the long-form JSON, and each resource's line.

    ``keep`` receives the decoded template, ``read`` the text it was decoded from (the template
    alone, when a JSON template is followed by more text): the lint that follows reads neither again."""
    from cfnlint.decode import decode_str

    text, note = json_object_only(text)
    refused = scan_limits(text)
    if refused is not None:
        return refused
    template, errors = decode_str(text)
    if errors or template is None:
        first = errors[0] if errors else None
        message = str(getattr(first, "message", "") or "the template could not be read")
        line = getattr(first, "linenumber", None)
        return {"status": "failed", "message": message, "line": line if isinstance(line, int) else None}
    if not isinstance(template, dict):
        return {"status": "failed", "message": "the template is not a mapping", "line": 1}
    if keep is not None:
        keep.append(template)
    if read is not None:
        read.append(text)
    return {
        "status": "ok",
        # Compact: json's C encoder (an indent runs the pure-Python one, several times slower on a
        # large template); the parent lays the template out once, when it writes it (with_defaults).
        "template_json": json.dumps(template, default=str),
        "marks": resource_lines(template),
        "entries": entry_lines(template),
        "note": note,
    }


def scan_limits(text: str) -> dict[str, Any] | None:
    """A ``failed`` reply when the template breaks a limit or is not a mapping, else None.

    One pass over the YAML event stream (libyaml's parser: a JSON template is YAML too), linear in
    the text and stopping at the first limit broken, so that cfn-lint's decoder (quadratic in a
    mapping's keys, recursive in its depth) only ever sees a template of bounded shape: at most
    :data:`MAX_DEPTH` levels, :data:`MAX_KEYS` keys in a mapping, :data:`MAX_RESOURCES` resources
    and :data:`MAX_NODES` values with YAML aliases expanded. A text YAML cannot scan (a JSON
    template indented with tabs) is checked as JSON; any other syntax error is left to the
    decoder, whose message names it.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return _scan_events(yaml.parse(text, Loader=loader))
    except yaml.reader.ReaderError as exc:
        # libyaml counts the offset in the UTF-8 bytes it was given, PyYAML in characters
        offset = max(0, exc.position)
        if loader is yaml.SafeLoader:
            line = text[:offset].count("\n") + 1
        else:
            line = text.encode("utf-8", "surrogatepass")[:offset].count(b"\n") + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return _refused(
            f"the template holds the control character {ord(char):#06x}, which YAML does not allow",
            line,
        )
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" in str(exc.problem):  # libyaml's own bound, met before ours in flow style
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            return _refused(f"the template is nested deeper than {MAX_DEPTH} levels", line)
        return _scan_json(text)
    except yaml.YAMLError:
        return _scan_json(text)


def _refused(message: str, line: int | None) -> dict[str, Any]:
    return {"status": "failed", "message": message, "line": line}


def _not_a_mapping(what: str, line: int) -> dict[str, Any]:
    return _refused(f"the template is {what}, not a mapping of sections (Resources, Parameters, ...)", line)


_NULLS = ("", "~", "null", "Null", "NULL")


@dataclass
class _Open:
    """A collection the event scan is inside of."""

    mapping: bool
    name: str  # its key in the parent mapping ("" for the root or a list item)
    line: int
    total_at_start: int  # values counted before it
    anchor: str | None
    children: int = 0  # keys and values (a mapping) or items (a list) so far
    last_key: str = ""


def _scan_events(events: Any) -> dict[str, Any] | None:
    import yaml

    stack: list[_Open] = []
    anchors: dict[str, int] = {}  # anchor -> the values it expands to
    total = documents = 0
    not_mapping: dict[str, Any] | None = None
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                return None  # several documents: the decoder refuses them with its own message
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            closed = stack.pop()
            if closed.anchor is not None:
                anchors[closed.anchor] = total - closed.total_at_start
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if not stack:
            # Said at the end of a clean scan: a syntax error further on is the better message
            # (prose read as a template starts as text, then breaks).
            if isinstance(event, yaml.SequenceStartEvent):
                not_mapping = _not_a_mapping("a list", line)
            elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
                null = isinstance(event, yaml.ScalarEvent) and (
                    event.tag == "tag:yaml.org,2002:null" or (event.implicit[0] and event.value in _NULLS)
                )
                what = "null (an empty document)" if null else "a single value (text)"
                not_mapping = _not_a_mapping(what, line)
        else:
            parent = stack[-1]
            parent.children += 1
            if parent.mapping and parent.children % 2 == 1:  # a key
                if isinstance(event, yaml.ScalarEvent):
                    parent.last_key = event.value
                keys = parent.children // 2 + 1
                if len(stack) == 2 and parent.name == "Resources" and keys > MAX_RESOURCES:
                    return _refused(
                        f"the template declares more than {MAX_RESOURCES:,} resources (Resources at line "
                        f"{parent.line}): too many resources to read (CloudFormation accepts at most 500)",
                        line,
                    )
                if keys > MAX_KEYS:
                    return _refused(
                        f"the mapping at line {parent.line} has more than {MAX_KEYS:,} keys: "
                        "too many keys in one mapping to read",
                        line,
                    )
        total += anchors.get(str(event.anchor), 1) if isinstance(event, yaml.AliasEvent) else 1
        if total > MAX_NODES:
            what = "values once its YAML aliases are expanded: too many aliases" if anchors else "values"
            return _refused(f"the template holds more than {MAX_NODES:,} {what} to read", line)
        if isinstance(event, yaml.CollectionStartEvent):
            parent_key = stack[-1].last_key if stack and stack[-1].mapping else ""
            stack.append(
                _Open(isinstance(event, yaml.MappingStartEvent), parent_key, line, total, event.anchor)
            )
            if len(stack) > MAX_DEPTH:
                return _refused(f"the template is nested deeper than {MAX_DEPTH} levels", line)
        elif isinstance(event, yaml.ScalarEvent) and event.anchor is not None:
            anchors[event.anchor] = 1
    return not_mapping


def _scan_json(text: str) -> dict[str, Any] | None:
    """The limits for a text only the JSON decoder reads; None when it is not JSON either."""
    widest = 0

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal widest
        widest = max(widest, len(items))
        if widest > MAX_KEYS:
            raise _TooWide
        return dict(items)

    try:
        template = json.loads(text, object_pairs_hook=pairs)
    except _TooWide:
        return _refused(
            f"a mapping of the template has more than {MAX_KEYS:,} keys: too many keys in one mapping to read",
            None,
        )
    except RecursionError:
        return _refused(f"the template is nested deeper than {MAX_DEPTH} levels", None)
    except ValueError:
        return None
    if not isinstance(template, dict):
        what = "a list" if isinstance(template, list) else "null" if template is None else "a single value"
        return _not_a_mapping(what, 1)
    resources = template.get("Resources")
    if isinstance(resources, dict) and len(resources) > MAX_RESOURCES:
        return _refused(
            f"the template declares {len(resources):,} resources: more than the {MAX_RESOURCES:,} "
            "iacgrade reads (CloudFormation accepts at most 500)",
            None,
        )
    if _depth(template) > MAX_DEPTH:
        return _refused(f"the template is nested deeper than {MAX_DEPTH} levels", None)
    return None


class _TooWide(Exception):
    pass


def _depth(value: Any, level: int = 1) -> int:
    """The nesting depth of a decoded JSON value, stopping once past MAX_DEPTH."""
    if level > MAX_DEPTH or not isinstance(value, (dict, list)):
        return level
    children = value.values() if isinstance(value, dict) else value
    return max((_depth(c, level + 1) for c in children), default=level)


def json_object_only(text: str) -> tuple[str, str | None]:
    """A JSON template followed by more text (a fence closed on the brace's own line, or
    never closed, so the answer's prose runs on) is read up to its closing brace."""
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        return text, None
    try:
        _, end = json.JSONDecoder().raw_decode(stripped)
    except (ValueError, RecursionError):  # broken JSON, or too deep: the limits and the decoder say
        return text, None
    rest = stripped[end:]
    if not rest.strip():
        return text, None
    head = text[: len(text) - len(rest)]
    line = head.count("\n") + 1
    return head + "\n", f"the text after the template's closing brace (line {line}) is not part of it"


def resource_lines(template: dict[str, Any]) -> dict[str, int]:
    """Logical id -> the 1-based line of its key, from the decoder's marks."""
    section = template.get("Resources")
    out: dict[str, int] = {}
    if not isinstance(section, dict):
        return out
    for key in section:
        mark = getattr(key, "start_mark", None)
        if mark is not None and isinstance(key, str):
            out[str(key)] = int(mark.line) + 1
    return out


# Template sections whose entries checks name besides resources (a parameter, a mapping, an output).
ENTRY_SECTIONS = ("Parameters", "Mappings", "Outputs")


def entry_lines(template: dict[str, Any]) -> dict[str, int]:
    """``Section/Name`` -> the 1-based line of the entry's key, for the sections in ENTRY_SECTIONS."""
    out: dict[str, int] = {}
    for section in ENTRY_SECTIONS:
        entries = template.get(section)
        if not isinstance(entries, dict):
            continue
        for key in entries:
            mark = getattr(key, "start_mark", None)
            if mark is not None and isinstance(key, str):
                out[f"{section}/{key}"] = int(mark.line) + 1
    return out


def lint_text(text: str, region: str, template: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """cfn-lint on the template's own text (so each match's line is the answer's), with the
    process's one warm linter, which serves every region; ``template``: the text as cfn-lint's
    decoder already read it."""
    from iacgrade.graders.lint import _linter

    return _linter().lint(text, template, (region,))


__all__ = ["MAX_TEMPLATE_BYTES", "ParseOutcome", "ParsePool", "parse_text"]

if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else MEMORY_MB)
