"""Load test of ``iacgrade serve``: many concurrent clients, every kind of request, each answer checked.

    .venv/bin/python scripts/loadtest.py [--requests 500] [--clients 8] [--no-synth] [--timeout 20]

Starts ``iacgrade serve`` on a free port in a fresh cache folder, then ``--clients`` threads send
``--requests`` requests between them, a fixed mix (seeded) of:

- ``good``: POST /grade with an answer from samples/ → 200, a graded result under the id sent;
- ``reward``: POST /get_reward with two of those answers (after their prompt) → 200, two rewards,
  each equal to every other reward of the same text;
- ``hostile``: POST /grade with an answer from tests/hostile/answers → 200, a result under the id sent
  (a hostile answer costs only its own request);
- ``malformed``: a body that is not JSON → 400;
- ``wrong``: JSON of the wrong shape → 422;
- ``oversized``: a body over the server's limit → 413.

Checked: every response has its expected status and body, none takes longer than the client's
timeout (a hang), the server process's RSS at the end is within 10% of its RSS after the first 50
responses, /health answers 200 at the end, and SIGTERM stops the server cleanly (uvicorn re-raises the
signal once its shutdown is done, so the exit status is -15 or 0). Prints
one line per figure; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "samples").glob("*RESPONSE*.md"))
HOSTILE = sorted((ROOT / "tests" / "hostile" / "answers").glob("*RESPONSE*.md"))
MIX = {"good": 30, "reward": 15, "hostile": 25, "malformed": 10, "wrong": 10, "oversized": 10}
RSS_AFTER = 50  # responses after which the baseline RSS is taken
RSS_GROWTH = 0.10
# uvicorn exits by re-raising the signal it shut down on, once the shutdown is done: -SIGTERM is clean.
CLEAN_EXITS = (0, -signal.SIGTERM)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    """An ``iacgrade serve`` subprocess on a free port."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log: Path

    def request(self, method: str, path: str, body: bytes | None = None, *, timeout: float = 60.0) -> Reply:
        started = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            return Reply(
                answer.status,
                {k.lower(): v for k, v in answer.getheaders()},
                answer.read(),
                time.monotonic() - started,
            )
        finally:
            conn.close()

    def rss_kb(self) -> int:
        """The server process's resident memory (its sandbox workers are processes of their own)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self, wait: float = 120.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=wait)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(args: list[str], log: Path, *, ready_s: float = 120.0) -> Server:
    """Start ``cli.py serve`` with ``args`` and wait until /health answers 200."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    server = Server(process, "127.0.0.1", port, log)
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if server.request("GET", "/health", timeout=5).status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"the server did not answer /health within {ready_s:.0f} s")


# -- the requests ---------------------------------------------------------------------------


@dataclass
class Plan:
    kind: str
    path: str
    body: bytes
    expect: int
    id: str | None = None
    texts: list[str] = field(default_factory=list)  # the answers a reward request grades


def make_plans(n: int, max_body: int, seed: int = 13) -> list[Plan]:
    rng = random.Random(seed)
    good = [p.read_text(encoding="utf-8") for p in SAMPLES]
    hostile = [p.read_text(encoding="utf-8") for p in HOSTILE]
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=n)
    plans = []
    for i, kind in enumerate(kinds):
        rid = f"{kind}-{i:04d}"
        if kind in ("good", "hostile"):
            text = rng.choice(good if kind == "good" else hostile)
            body = json.dumps({"response": text, "prompt": "Build it; everything destroyable.", "id": rid})
            plans.append(Plan(kind, "/grade", body.encode(), 200, rid, [text]))
        elif kind == "reward":
            texts = rng.sample(good, 2)
            prompt = "<|user|>Build an API on AWS.<|assistant|>"
            body = json.dumps(
                {"query": [prompt + t for t in texts], "prompts": [prompt] * 2, "labels": ["", ""]}
            )
            plans.append(Plan(kind, "/get_reward", body.encode(), 200, None, texts))
        elif kind == "malformed":
            junk = rng.choice(
                [b'{"response": "unterminated', b"\xff\xfe\x00not utf-8", b"", b"{'single': 1}"]
            )
            plans.append(Plan(kind, rng.choice(["/grade", "/get_reward"]), junk, 400))
        elif kind == "wrong":
            shape = rng.choice(
                [
                    ("/grade", {"response": 42}),
                    ("/grade", {"prompt": "no response"}),
                    ("/grade", {"response": "x", "kind": "terraform"}),
                    ("/grade", ["a", "list"]),
                    ("/get_reward", {"query": "not a list"}),
                    ("/get_reward", {"query": ["a", "b"], "prompts": ["only one"]}),
                ]
            )
            plans.append(Plan(kind, shape[0], json.dumps(shape[1]).encode(), 422))
        else:
            size = max_body + 1 + rng.randrange(4 * max_body)
            body = json.dumps({"response": "x" * size}).encode()
            plans.append(Plan(kind, rng.choice(["/grade", "/get_reward"]), body, 413))
    return plans


@dataclass
class Outcome:
    plan: Plan
    reply: Reply | None
    problem: str | None


def check(plan: Plan, reply: Reply, rewards_seen: dict[str, float], lock: threading.Lock) -> str | None:
    """What is wrong with this reply, or None."""
    if reply.status != plan.expect:
        return f"status {reply.status}, expected {plan.expect}: {reply.body[:200]!r}"
    try:
        body = reply.json()
    except ValueError:
        return f"not JSON: {reply.body[:200]!r}"
    if plan.expect != 200:
        return None if isinstance(body, dict) and body.get("error") else f"no error reason: {body}"
    if plan.kind in ("good", "hostile"):
        if body.get("sample_id") != plan.id:
            return f"sample_id {body.get('sample_id')!r}, sent {plan.id!r}"
        if body.get("status") not in ("graded", "error"):
            return f"status {body.get('status')!r}"
        if plan.kind == "good" and (body.get("status") != "graded" or body.get("total") is None):
            return f"a good answer was not graded: {body.get('status')} {body.get('error')}"
        return None
    rewards = body.get("rewards")
    if not isinstance(rewards, list) or len(rewards) != len(plan.texts) or body.get("scores") != rewards:
        return f"rewards {rewards}, scores {body.get('scores')}"
    with lock:
        for text, reward in zip(plan.texts, rewards, strict=True):
            if not 0.0 <= reward <= 1.0:
                return f"reward {reward} outside [0, 1]"
            if rewards_seen.setdefault(text, reward) != reward:
                return f"reward {reward} for a text rewarded {rewards_seen[text]} before"
    return None


@dataclass
class Summary:
    outcomes: list[Outcome]
    seconds: float
    rss_at_baseline_kb: int
    rss_end_kb: int
    health: dict[str, Any]
    exit_code: int | None = None

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problem is not None]

    @property
    def rss_growth(self) -> float:
        return (self.rss_end_kb - self.rss_at_baseline_kb) / max(1, self.rss_at_baseline_kb)

    def problems(self) -> list[str]:
        found = [f"{o.plan.kind} {o.plan.path}: {o.problem}" for o in self.failures]
        if self.rss_growth > RSS_GROWTH:
            found.append(
                f"RSS grew {self.rss_growth:.1%} ({self.rss_at_baseline_kb} -> {self.rss_end_kb} kB)"
            )
        if self.health.get("status") != "ok":
            found.append(f"/health at the end: {self.health}")
        if self.exit_code not in (None, *CLEAN_EXITS):
            found.append(f"the server exited with {self.exit_code} after SIGTERM")
        return found

    def lines(self) -> list[str]:
        times = sorted(o.reply.seconds for o in self.outcomes if o.reply is not None)
        statuses = Counter(o.reply.status for o in self.outcomes if o.reply is not None)
        kinds = Counter(o.plan.kind for o in self.outcomes)

        def pct(p: float) -> float:
            return times[min(len(times) - 1, int(p * len(times)))] if times else 0.0

        return [
            f"requests: {len(self.outcomes)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})",
            f"statuses: {', '.join(f'{s}: {n}' for s, n in sorted(statuses.items()))}",
            f"wrong or hung: {len(self.failures)}",
            f"wall: {self.seconds:.1f} s, {len(self.outcomes) / max(self.seconds, 1e-9):.1f} requests/s",
            f"latency: p50 {pct(0.5):.3f} s, p95 {pct(0.95):.3f} s, max {times[-1] if times else 0:.3f} s",
            f"server RSS: {self.rss_at_baseline_kb} kB after {RSS_AFTER} responses, {self.rss_end_kb} kB at "
            f"the end ({self.rss_growth:+.1%}; limit +{RSS_GROWTH:.0%})",
            f"/health at the end: {self.health.get('status')}, answers graded {self.health.get('answers')}",
            f"exit after SIGTERM: {self.exit_code}",
        ]


def run_load(
    server: Server, plans: list[Plan], clients: int, request_timeout: float, *, progress: bool = False
) -> Summary:
    """Send ``plans`` from ``clients`` threads; check each reply; measure the server's RSS."""
    todo = list(enumerate(plans))
    outcomes: list[Outcome | None] = [None] * len(plans)
    lock = threading.Lock()
    rewards_seen: dict[str, float] = {}
    done = 0
    baseline: list[int] = []

    def client() -> None:
        nonlocal done
        while True:
            with lock:
                if not todo:
                    return
                index, plan = todo.pop(0)
            try:
                reply = server.request("POST", plan.path, plan.body, timeout=request_timeout)
                outcome = Outcome(plan, reply, check(plan, reply, rewards_seen, lock))
            except TimeoutError:
                outcome = Outcome(plan, None, f"no answer within {request_timeout:.0f} s (hung)")
            except OSError as exc:
                outcome = Outcome(plan, None, f"connection failed: {exc!r}")
            with lock:
                outcomes[index] = outcome
                done += 1
                if done == RSS_AFTER:
                    baseline.append(server.rss_kb())
                if progress and done % 50 == 0:
                    wrong = sum(1 for o in outcomes if o is not None and o.problem)
                    print(
                        f"  {done}/{len(plans)} replies, {wrong} wrong, server RSS {server.rss_kb()} kB",
                        file=sys.stderr,
                        flush=True,
                    )

    started = time.monotonic()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    rss_end = server.rss_kb()
    health = server.request("GET", "/health", timeout=30)
    return Summary(
        [o for o in outcomes if o is not None],
        seconds,
        baseline[0] if baseline else rss_end,
        rss_end,
        health.json() if health.status == 200 else {"status": f"HTTP {health.status}"},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--synth", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds one answer may synthesize")
    parser.add_argument("--max-body", type=int, default=200_000)
    args = parser.parse_args()

    request_timeout = 3 * args.timeout + 60  # an answer's synth timeout, its queue wait and some
    with tempfile.TemporaryDirectory(prefix="iacgrade-loadtest-") as tmp:
        server = start_server(
            [
                "--workers", str(args.workers),
                "--queue", str(max(16, args.clients)),
                "--max-body", str(args.max_body),
                "--timeout", str(args.timeout),
                "--cache-dir", str(Path(tmp) / "cache"),
                "--synth" if args.synth else "--no-synth",
            ],
            Path(tmp) / "server.log",
        )  # fmt: skip
        try:
            plans = make_plans(args.requests, args.max_body)
            summary = run_load(server, plans, args.clients, request_timeout, progress=True)
        finally:
            summary_exit = server.stop()
        summary.exit_code = summary_exit
    print(
        f"iacgrade serve: workers {args.workers}, synth {'on' if args.synth else 'off'}, clients {args.clients}"
    )
    for line in summary.lines():
        print(line)
    problems = summary.problems()
    for problem in problems[:20]:
        print(f"FAIL: {problem}")
    print("PASS" if not problems else f"FAIL: {len(problems)} problem(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
