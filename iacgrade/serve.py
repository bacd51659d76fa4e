"""``iacgrade serve``: grade answers over HTTP on one warm Grader (Starlette on uvicorn).

- ``POST /grade`` ``{"response", "prompt"?, "kind"?, "id"?}`` → the SampleResult, as result.json has it.
- ``POST /get_reward`` ``{"query": [...], "prompts": [...]?, "labels": [...]?}`` → ``{"rewards": [...],
  "scores": [...], "infra_error": [...]}``, OpenRLHF's remote reward shape (``infra_error``: the
  indices of answers the grader's infrastructure failed on twice, whose reward is the floor and says
  nothing of the answer: mask them). A query that starts with its prompt is graded
  without it (OpenRLHF sends prompt + response); the reward is ``iacgrade.reward.score_of``, the
  number ``compute_score`` gives; labels are accepted and not used (as ``ground_truth`` there).
- ``GET /health`` → the server's state: workers, queue, counts.

Limits: a body over ``max_body`` bytes is answered 413 as soon as that is known (from Content-Length,
else while it streams in: it is never read whole); at most ``workers + queue`` requests are admitted at
once and one more is answered 503 with Retry-After; malformed JSON is 400, a body of the wrong shape
422 with the reason. On SIGTERM/SIGINT answers being graded are finished, answers still waiting are
answered 503, and the Grader closes.

It lives beside the library (``iacgrade``) rather than in ``graders``: it is a client of the public
Grader and reward rule, as a training loop would be, and needs no pipeline internals.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iacgrade.grader import Grader
from iacgrade.graders.datasets import safe_id
from iacgrade.graders.defaults import MAX_REQUEST_BYTES, TIMEOUT_S
from iacgrade.graders.kinds import KINDS
from iacgrade.graders.models import SampleResult
from iacgrade.reward import score_of

__all__ = ["ServeSettings", "build_app", "run"]


@dataclass(frozen=True)
class ServeSettings:
    """How the server grades (passed to its Grader) and what it accepts."""

    workers: int = 2  # answers graded at once (the Grader's warm pool)
    queue: int = 16  # admitted requests waiting beyond those being graded
    max_body: int = MAX_REQUEST_BYTES  # bytes of one request body
    max_batch: int = 512  # answers in one /get_reward request
    synth: bool = True
    timeout: float = TIMEOUT_S
    rubric: Path | None = None
    cache: bool = True
    cache_dir: Path | None = None


class GradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    response: str
    prompt: str | None = None
    kind: str | None = None
    id: str | int | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str | None) -> str | None:
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
        return kind


class RewardRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)  # trainers add fields of their own

    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None

    @model_validator(mode="after")
    def _same_lengths(self) -> RewardRequest:
        for name in ("prompts", "labels"):
            given = getattr(self, name)
            if given is not None and len(given) != len(self.query):
                raise ValueError(f"{name} has {len(given)} items, query has {len(self.query)}")
        return self


class _HttpError(Exception):
    def __init__(self, status: int, reason: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(reason))
        self.status = status
        self.reason = reason
        self.headers = headers or {}


class _Draining(Exception):
    """The server is shutting down: an answer not started yet is not started."""


_WARM_UP = """A small CDK app the server grades when it starts ({nonce}).

## File: app.py

```python
import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct


class WarmUpStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        bucket = s3.Bucket(self, "Data")
        table = dynamodb.Table(
            self, "Items", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
        )
        handler = lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\\n    return {'statusCode': 200}\\n"),
        )
        table.grant_read_write_data(handler)
        bucket.grant_read(handler)
        apigw.LambdaRestApi(self, "Api", handler=handler)


app = cdk.App()
WarmUpStack(app, "WarmUp", env=cdk.Environment(region="us-east-1"))
app.synth()
```
"""


@dataclass
class _Answer:
    response: str
    prompt: str | None = None
    kind: str | None = None
    id: str | int | None = None


class GradingService:
    """The Grader, its thread pool and the admission count the handlers share (one event loop)."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.grader = Grader(
            settings.rubric,
            workers=settings.workers,
            synth=settings.synth,
            timeout=settings.timeout,
            cache=settings.cache,
            cache_dir=settings.cache_dir,
        )
        self._executor: ThreadPoolExecutor | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # the counters the worker threads update
        self.admitted = 0  # requests admitted and not yet answered (only touched on the loop)
        self.grading = 0  # answers a worker thread is on
        self.draining = False
        self.counts: dict[str, int] = {"answers": 0, "rejected_busy": 0, "failed": 0}
        self._mean_s = 1.0  # running mean of seconds per answer, for Retry-After

    def start(self) -> None:
        """Open the Grader and grade one answer before the first request: that starts the warm pool
        and loads what grading loads on first use (cfn-lint and its schemas), so the first requests
        are not slow and the server's memory after them is what it stays at."""
        self.grader.start()
        folder = f"warm-up-{uuid.uuid4().hex[:12]}"
        try:  # a fresh text each start, so the result cache cannot skip the work
            self.grader.grade(_WARM_UP.replace("{nonce}", folder), id=folder)
        finally:
            shutil.rmtree(self.grader.out / folder, ignore_errors=True)
        self._executor = ThreadPoolExecutor(max_workers=self.settings.workers, thread_name_prefix="serve")

    def close(self) -> None:
        self.draining = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self.grader.close()

    # -- admission ------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return self.settings.workers + self.settings.queue

    def admit(self) -> None:
        if self.draining:
            raise _HttpError(503, "the server is shutting down", {"Retry-After": "5"})
        if self.admitted >= self.capacity:
            self.counts["rejected_busy"] += 1
            waiting = self.admitted - min(self.admitted, self.settings.workers) + 1
            wait_s = max(1, math.ceil(self._mean_s * waiting / self.settings.workers))
            raise _HttpError(
                503,
                f"the queue is full ({self.admitted} requests admitted, limit {self.capacity}); retry later",
                {"Retry-After": str(wait_s)},
            )
        self.admitted += 1

    def release(self) -> None:
        self.admitted -= 1

    # -- grading --------------------------------------------------------------------------

    async def grade(self, answers: list[_Answer], *, retry_infra: bool = False) -> list[SampleResult]:
        """Grade answers on the pool's threads; 503 if shutdown began before one of them started.

        ``retry_infra``: an answer the infrastructure failed on is graded once more (rewards)."""
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        grade_one = self._grade_retrying if retry_infra else self._grade_one
        futures = [loop.run_in_executor(self._executor, grade_one, a) for a in answers]
        try:
            return list(await asyncio.gather(*futures))
        except _Draining:
            raise _HttpError(503, "the server is shutting down", {"Retry-After": "5"}) from None

    def _grade_retrying(self, answer: _Answer) -> SampleResult:
        result = self._grade_one(answer)
        return self._grade_one(answer) if result.status == "infra_error" else result

    def _grade_one(self, answer: _Answer) -> SampleResult:
        if self.draining:
            raise _Draining
        with self._lock:
            folder = f"serve-{next(self._ids):09d}"
            self.grading += 1
        started = time.monotonic()
        try:
            result = self.grader.grade(answer.response, prompt=answer.prompt, kind=answer.kind, id=folder)
        except Exception:
            with self._lock:
                self.counts["failed"] += 1
            raise
        finally:
            with self._lock:
                self.grading -= 1
            # The answer's files, template and result.json are in the response; a long-running
            # server keeps no folder per request.
            shutil.rmtree(self.grader.out / folder, ignore_errors=True)
        with self._lock:
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.monotonic() - started)
            self.counts["answers"] += 1
        sample_id = safe_id(answer.id) if answer.id is not None else folder
        return result.model_copy(update={"sample_id": sample_id, "source": f"<serve {sample_id}>"})

    def health(self) -> dict[str, Any]:
        return {
            "status": "draining" if self.draining else "ok",
            "workers": self.settings.workers,
            "synth": self.settings.synth,
            "admitted": self.admitted,
            "grading": self.grading,
            "capacity": self.capacity,
            "max_body": self.settings.max_body,
            "max_batch": self.settings.max_batch,
            "rubric_version": f"{self.grader.rubric.version}+{self.grader.rubric.digest}",
            **self.counts,
        }


# -- requests -------------------------------------------------------------------------------


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to be over ``limit``: never read whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _HttpError(413, f"the body has {declared} bytes; the limit is {limit}")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _HttpError(413, f"the body is over the limit of {limit} bytes")
    except ClientDisconnect:
        raise _HttpError(400, "the client went away before the body was complete") from None
    return bytes(body)


async def _parse(request: Request, model: type[BaseModel], limit: int) -> Any:
    body = await _read_body(request, limit)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _HttpError(400, f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _HttpError(422, f"the body must be a JSON object, not {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _HttpError(422, _reasons(exc)) from None


def _reasons(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]} for e in exc.errors()
    ]


def _answer_of(query: str, prompt: str | None) -> _Answer:
    """OpenRLHF's query is the prompt followed by the response: grade the response after it."""
    if prompt and query.startswith(prompt):
        return _Answer(response=query[len(prompt) :], prompt=prompt)
    return _Answer(response=query, prompt=prompt)


def _error(exc: _HttpError) -> JSONResponse:
    return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=exc.headers)


def build_app(settings: ServeSettings) -> Starlette:
    """The ASGI app: starts its GradingService on startup and closes it on shutdown."""
    service = GradingService(settings)

    async def grade(request: Request) -> Response:
        try:
            body: GradeRequest = await _parse(request, GradeRequest, settings.max_body)
            service.admit()
        except _HttpError as exc:
            return _error(exc)
        try:
            [result] = await service.grade([_Answer(body.response, body.prompt, body.kind, body.id)])
            return JSONResponse(result.model_dump(mode="json"))
        except _HttpError as exc:
            return _error(exc)
        except Exception as exc:  # the pipeline never raises for an answer; this is the server's fault
            return JSONResponse({"error": f"grading failed: {type(exc).__name__}: {exc}"}, status_code=500)
        finally:
            service.release()

    async def get_reward(request: Request) -> Response:
        try:
            body: RewardRequest = await _parse(request, RewardRequest, settings.max_body)
            if len(body.query) > settings.max_batch:
                raise _HttpError(422, f"{len(body.query)} queries; at most {settings.max_batch} a request")
            service.admit()
        except _HttpError as exc:
            return _error(exc)
        try:
            prompts: list[str | None] = [None] * len(body.query) if body.prompts is None else [*body.prompts]
            results = await service.grade(
                [_answer_of(q, p) for q, p in zip(body.query, prompts, strict=True)], retry_infra=True
            )
            rewards = [score_of(r) for r in results]
            # An answer the grader failed on twice has the floor: its index is listed, to be masked.
            failed = [i for i, r in enumerate(results) if r.status == "infra_error"]
            return JSONResponse({"rewards": rewards, "scores": rewards, "infra_error": failed})
        except _HttpError as exc:
            return _error(exc)
        except Exception as exc:
            return JSONResponse({"error": f"grading failed: {type(exc).__name__}: {exc}"}, status_code=500)
        finally:
            service.release()

    async def health(request: Request) -> Response:
        return JSONResponse(service.health(), status_code=503 if service.draining else 200)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(service.start)
        try:
            yield
        finally:
            await asyncio.to_thread(service.close)

    app = Starlette(
        routes=[
            Route("/grade", grade, methods=["POST"]),
            Route("/get_reward", get_reward, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.service = service
    return app


class _Server(uvicorn.Server):
    """uvicorn's server, telling the app when a shutdown signal comes so that answers still waiting
    are refused at once instead of being started."""

    def __init__(self, config: uvicorn.Config, service: GradingService) -> None:
        super().__init__(config)
        self._service = service

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._service.draining = True
        super().handle_exit(sig, frame)


def run(
    settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning"
) -> None:
    """Serve until SIGINT/SIGTERM; answers being graded then get up to their timeout to finish."""
    app = build_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.timeout) + 30,
        # Connections beyond this get uvicorn's own 503: each may hold a body of up to max_body
        # while it is read, before the queue is asked.
        limit_concurrency=4 * (settings.workers + settings.queue) + 16,
    )
    _Server(config, app.state.service).run()
