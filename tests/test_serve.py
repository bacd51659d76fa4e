"""``iacgrade serve`` as a client sees it: a real server (uvicorn, a subprocess) on a free port."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from iacgrade import Grader
from iacgrade.graders.models import SampleResult
from scripts.loadtest import CLEAN_EXITS, HOSTILE, Reply, Server, make_plans, run_load, start_server

ROOT = Path(__file__).resolve().parent.parent
GOOD = (ROOT / "samples" / "good_api_RESPONSE.md").read_text(encoding="utf-8")
FLAWED = (ROOT / "samples" / "flawed_api_RESPONSE.md").read_text(encoding="utf-8")
NO_CODE = (ROOT / "samples" / "no_code_RESPONSE.md").read_text(encoding="utf-8")
PROMPT = "Build an orders API on AWS. Everything must be destroyable."
MAX_BODY = 200_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("serve")
    args = ["--no-synth", "--workers", "2", "--queue", "8", "--max-body", str(MAX_BODY)]
    running = start_server([*args, "--cache-dir", str(tmp / "cache")], tmp / "server.log")
    yield running
    assert running.stop() in CLEAN_EXITS, running.log.read_text()[-2000:]


def _post(server: Server, path: str, payload: object) -> Reply:
    return server.request("POST", path, json.dumps(payload).encode())


def test_grade_a_good_answer_as_the_library_does(server: Server, tmp_path: Path) -> None:
    reply = _post(server, "/grade", {"response": GOOD, "prompt": PROMPT, "id": "orders/1"})
    assert reply.status == 200, reply.body
    served = SampleResult.model_validate(reply.json())
    with Grader(workers=1, synth=False, cache=False, out=tmp_path) as g:
        local = g.grade(GOOD, prompt=PROMPT)
    assert served.sample_id == "orders_1"  # made safe as a folder name, as the library does
    assert served.status == "graded" and served.total is not None
    assert served.total == local.total
    assert [(f.check, f.message) for f in served.findings] == [(f.check, f.message) for f in local.findings]


@pytest.mark.parametrize("body", [b"{not json", b"", b'{"response": "cut', b"\xff\xfe\x00\x01"])
def test_malformed_json_is_400(server: Server, body: bytes) -> None:
    reply = server.request("POST", "/grade", body)
    assert reply.status == 400
    assert "not JSON" in reply.json()["error"]


@pytest.mark.parametrize(
    ("path", "payload", "reason"),
    [
        ("/grade", {"prompt": "no response"}, "response"),
        ("/grade", {"response": 42}, "response"),
        ("/grade", {"response": "x", "kind": "terraform"}, "unknown kind"),
        ("/grade", {"response": "x", "respones": "typo"}, "respones"),
        ("/grade", ["a", "list"], "JSON object"),
        ("/get_reward", {"query": "not a list"}, "query"),
        ("/get_reward", {"query": ["a", "b"], "prompts": ["one"]}, "prompts has 1 items"),
    ],
)
def test_wrong_or_missing_fields_are_422_with_the_reason(
    server: Server, path: str, payload: object, reason: str
) -> None:
    reply = _post(server, path, payload)
    assert reply.status == 422
    assert reason in json.dumps(reply.json()["error"])


def test_oversized_body_is_413_whether_declared_or_streamed(server: Server) -> None:
    big = json.dumps({"response": "x" * (MAX_BODY + 10)}).encode()
    declared = server.request("POST", "/grade", big)
    assert declared.status == 413 and "limit" in declared.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while it streams in
        for _ in range(64):
            yield b" " * 10_000

    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("POST", "/get_reward", body=chunks(), encode_chunked=True)
        streamed = conn.getresponse()
        assert streamed.status == 413
        assert "over the limit" in json.loads(streamed.read())["error"]
    finally:
        conn.close()


def test_hostile_answers_cost_only_their_own_request(server: Server) -> None:
    replies: dict[str, Reply] = {}

    def send(name: str, text: str) -> None:
        replies[name] = _post(server, "/grade", {"response": text, "id": name})

    jobs = [(p.stem, p.read_text(encoding="utf-8")) for p in HOSTILE[:6]] + [("good", GOOD)]
    threads = [threading.Thread(target=send, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert set(replies) == {name for name, _ in jobs}
    for name, reply in replies.items():
        assert reply.status == 200, (name, reply.body[:300])
        assert reply.json()["sample_id"] == name
    assert replies["good"].json()["status"] == "graded"


def test_reward_equals_compute_score(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from iacgrade import reward

    grader = Grader(workers=1, synth=False, cache_dir=tmp_path)
    monkeypatch.setattr(reward, "_grader", grader)
    try:
        texts = [GOOD, FLAWED, NO_CODE]
        expected = [reward.compute_score("iac", t, None, extra_info={"prompt": PROMPT}) for t in texts]
    finally:
        grader.close()
    # OpenRLHF sends the prompt and the response as one query, and the prompt beside it
    reply = _post(
        server,
        "/get_reward",
        {"query": [PROMPT + t for t in texts], "prompts": [PROMPT] * 3, "labels": [None] * 3, "extra": 1},
    )
    assert reply.status == 200, reply.body
    assert reply.json() == {"rewards": expected, "scores": expected, "infra_error": []}
    assert expected[0] > expected[1] and expected[2] == reward.FLOOR


def test_small_load_every_reply_right(server: Server) -> None:
    summary = run_load(server, make_plans(80, MAX_BODY, seed=5), clients=8, request_timeout=60)
    assert len(summary.outcomes) == 80
    assert summary.problems() == [], "\n".join(summary.lines())


def test_health_after_all_of_these(server: Server) -> None:
    assert _post(server, "/grade", {"response": FLAWED}).json()["status"] == "graded"  # still grading
    reply = server.request("GET", "/health")
    assert reply.status == 200
    health = reply.json()
    assert health["status"] == "ok" and health["admitted"] == 0 and health["grading"] == 0
    assert health["answers"] >= 12 and health["failed"] == 0  # at least those of the tests above


def _wait_for(server: Server, key: str, value: int, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.request("GET", "/health").json()[key] == value:
            return
        time.sleep(0.1)
    raise AssertionError(f"/health never had {key} = {value}")


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (synth needs it)")
def test_full_queue_is_503_and_shutdown_finishes_what_runs(tmp_path: Path) -> None:
    # One worker, one place in the queue, and an answer whose app sleeps until its synth times out:
    # the first request is being graded, the second waits, the third finds the queue full.
    hang = (ROOT / "tests" / "hostile" / "answers" / "hang_sleep_RESPONSE.md").read_text(encoding="utf-8")
    args = ["--workers", "1", "--queue", "1", "--timeout", "5", "--cache-dir", str(tmp_path / "cache")]
    running = start_server(args, tmp_path / "server.log")
    replies: dict[str, Reply] = {}

    def send(name: str, text: str) -> None:
        replies[name] = _post(running, "/grade", {"response": text, "id": name})

    try:
        first = threading.Thread(target=send, args=("first", hang))
        first.start()
        _wait_for(running, "grading", 1)
        second = threading.Thread(target=send, args=("second", GOOD))
        second.start()
        _wait_for(running, "admitted", 2)
        full = _post(running, "/grade", {"response": GOOD})
        assert full.status == 503 and "queue is full" in full.json()["error"]
        assert int(full.headers["retry-after"]) >= 1
        # SIGTERM while the first is being graded: it is finished, the second (not started) is refused
        assert running.stop() in CLEAN_EXITS
        first.join(timeout=60)
        second.join(timeout=60)
    finally:
        if running.process.poll() is None:  # a failed assertion above: stop it cleanly if it will
            try:
                running.stop(wait=60)
            except subprocess.TimeoutExpired:
                running.process.kill()
    assert replies["first"].status == 200
    assert replies["first"].json()["synth"]["status"] == "timeout"
    assert replies["second"].status == 503 and "shutting down" in replies["second"].json()["error"]
