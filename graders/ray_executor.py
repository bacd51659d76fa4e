"""The Ray executor (``--executor ray``): the same run as the local executor, graded on a Ray cluster.

The driver (this process) reads the answers, streams them (files and dataset rows alike) and
looks each one up in the run folder and the result cache, exactly as the local executor does
(`pipeline.prepare`). What must be built goes to a pool of Ray actors, one per CPU of the cluster
by default: each actor owns a `pipeline.Session` on its node (the rubric and that node's warm
sandbox pool, bubblewrap there too) and sends back the SampleResult with the files of the
answer's output folder. The driver writes them into the run folder and hands the result to the
run writer, which keeps it (report, journal, cache, tables) as it keeps a local result.

What an actor needs of the driver's disk travels with the answer: the extraction (made on the
driver for the cache key), the prompt's text, the task folder's scaffold and the few files the
checks read there, and the rubric. The project's code goes to every node through the
``runtime_env`` (``py_modules``), so every actor grades with the driver's code and cache keys.

Faults. ``ray.util.ActorPool`` hands a dead actor back to its idle list and forgets which item
was lost with it, so the dispatch here is a small loop over ``ray.wait``: at most
`PER_ACTOR` answers queued per live actor (backpressure: the stream is read no faster than the
cluster grades), and each answer's task is known. Ray restarts a crashed actor (``max_restarts``)
where there is room for it; an answer whose actor died (its node lost, its process killed) is
sent again to a live actor, once; a second loss makes it ``infra_error`` (kept out of the scores,
graded again by the next run in the folder). Only a result that came back is written, so no
answer is written twice, however many times it was sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import logging
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iacgrade.graders.cache import Reuse
from iacgrade.graders.defaults import GC_THRESHOLDS
from iacgrade.graders.extract import safe_relpath
from iacgrade.graders.models import Sample, SampleResult
from iacgrade.graders.pipeline import GradeOptions, Prepared, Session, build, keep, prepare
from iacgrade.graders.prompt import PROMPT_MAX_BYTES, read_prompt
from iacgrade.graders.rubric import DEFAULT_RUBRIC, Rubric

__all__ = ["PER_ACTOR", "NoLiveActor", "grade_on_ray"]

PER_ACTOR = 2  # answers queued per actor: one grading, one waiting, so no actor idles on a round trip
ATTEMPTS = 2  # an answer whose actor died is sent once more, then it is infra_error
NO_ACTOR_WAIT_S = 120.0  # how long the run waits for a restarted actor when none is left alive
# Files of a task folder that grading reads besides the scaffold (prompt, region, reviewer, metadata).
_TASK_EXTRAS = (
    "lib/PROMPT.md",
    "PROMPT.md",
    "lib/AWS_REGION",
    "lib/MODEL_FAILURES.md",  # the reviewer's report, whose claims are judged with the findings
    "metadata.json",
    "cdk.json",
)
_BESIDE_ANSWER = ("AWS_REGION",)  # read from the answer's own folder (graders/kinds/cloudformation.py)
_MAX_TASK_FILE = max(PROMPT_MAX_BYTES, 5_000_000)


class NoLiveActor(RuntimeError):
    """Every actor of the pool is dead and none came back in time: the run cannot go on."""


def grade_on_ray(
    stream: Iterator[Sample], options: GradeOptions, rubric: Rubric, reuse: Reuse
) -> Generator[SampleResult, None, None]:
    """Grade the stream on the Ray cluster at ``options.ray_address``; yield each result once,
    its folder written into the run, as it comes back (not in order)."""
    import ray

    # Ray prints what it hears from the cluster ("(raylet) Raylet is terminated ...") on the
    # driver's stdout, which belongs to `--json`: send it to stderr while the cluster is in use.
    with contextlib.redirect_stdout(sys.stderr):
        started_ray = not ray.is_initialized()
        if started_ray:
            ray.init(
                address=options.ray_address,
                runtime_env=project_runtime_env(),
                log_to_driver=False,  # the actors' own logs stay on their nodes; progress is ours
                logging_level=logging.WARNING,
            )
        pool = _Pool(options, rubric)
        try:
            yield from pool.run(stream, reuse)
        finally:
            pool.close()
            if started_ray:
                ray.shutdown()


def project_runtime_env() -> dict[str, Any]:
    """The runtime_env that puts this project's code on every node, as the driver has it: the
    iacgrade package (an actor runs only its graders; reports are rendered by the driver)."""
    from iacgrade.graders.locations import PACKAGE_DIR

    return {"py_modules": [str(PACKAGE_DIR)]}


@dataclass
class _Job:
    sample: Sample
    prepared: Prepared
    attempts: int = 0
    lost: list[str] = dataclasses.field(default_factory=list)  # why earlier attempts were lost


class _Pool:
    """The actors, the answers in flight on each, and the answers waiting to be sent again."""

    def __init__(self, options: GradeOptions, rubric: Rubric) -> None:
        import ray

        self.options, self.rubric = options, rubric
        count = options.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor_class = ray.remote(num_cpus=1, max_restarts=3, max_task_retries=0)(RayGrader)
        rubric_bytes = Path(options.rubric or DEFAULT_RUBRIC).read_bytes()
        # SPREAD: one actor per CPU over every node, not all of them on the head.
        self.actors: list[Any] = [
            actor_class.options(scheduling_strategy="SPREAD").remote(options, rubric_bytes)  # type: ignore[attr-defined]
            for _ in range(count)
        ]
        self.live: set[int] = set()  # indexes of the actors known to answer
        self.pings: dict[Any, int] = {a.ready.remote(): i for i, a in enumerate(self.actors)}
        self.in_flight: dict[Any, tuple[int, _Job]] = {}
        self.load = [0] * count
        self.retry: deque[_Job] = deque()
        self.bundles: dict[tuple[str, ...], dict[str, bytes]] = {}

    def run(self, stream: Iterator[Sample], reuse: Reuse) -> Generator[SampleResult, None, None]:
        import ray

        exhausted = False
        idle_since: float | None = None
        while True:
            # Fill every free slot of a live actor: answers lost earlier first, then the stream.
            while (slot := self._free_actor()) is not None and (self.retry or not exhausted):
                if self.retry:
                    self._send(slot, self.retry.popleft())
                    continue
                sample = next(stream, None)
                if sample is None:
                    exhausted = True
                    break
                out_dir = self.options.out / sample.sample_id
                prepared = prepare(sample, self.options, self.rubric, reuse, out_dir)
                if isinstance(prepared, SampleResult):
                    yield prepared  # resumed or cached: nothing to build
                elif prepared.failed is not None or prepared.extraction is None:
                    yield keep(build(sample, self.rubric, None, out_dir, prepared), out_dir, reuse, prepared)
                else:
                    self._send(slot, _Job(sample, prepared))
            if exhausted and not self.in_flight and not self.retry:
                return
            waiting = list(self.in_flight) + list(self.pings)
            if not self.in_flight:  # nothing to wait for but actors coming back
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > NO_ACTOR_WAIT_S or not waiting:
                    raise NoLiveActor(
                        f"no Ray actor of the {len(self.actors)} started is alive; "
                        "the answers graded so far are saved, run the same command again to grade the rest"
                    )
            else:
                idle_since = None
            done, _ = ray.wait(waiting, num_returns=1, timeout=5.0)
            for ref in done:
                if ref in self.pings:
                    self._pinged(ref)
                else:
                    result = self._returned(ref, reuse)
                    if result is not None:
                        yield result

    def close(self) -> None:
        import ray

        try:  # let the live actors stop their warm pools and clear their scratch folders
            ray.get([self.actors[i].close.remote() for i in self.live], timeout=10)
        except Exception:  # an actor that is gone or stuck is killed below all the same
            pass
        for actor in self.actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # already gone with its node
                pass

    def _free_actor(self) -> int | None:
        free = [i for i in self.live if self.load[i] < PER_ACTOR]
        return min(free, key=lambda i: self.load[i]) if free else None

    def _send(self, index: int, job: _Job) -> None:
        job.attempts += 1
        ref = self.actors[index].grade.remote(_for_actor(job.sample), job.prepared, self._bundle(job.sample))
        self.in_flight[ref] = (index, job)
        self.load[index] += 1

    def _pinged(self, ref: Any) -> None:
        import ray

        index = self.pings.pop(ref)
        try:
            ray.get(ref)
        except ray.exceptions.RayError:
            return  # it did not come up (its node is gone, or it keeps dying): leave it out
        self.live.add(index)

    def _returned(self, ref: Any, reuse: Reuse) -> SampleResult | None:
        """The result of an answer that came back, written into the run; None when it was lost
        and will be sent again."""
        import ray

        index, job = self.in_flight.pop(ref)
        self.load[index] -= 1
        try:
            result, files = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            # The actor is gone (its node died, its process was killed) or restarting: stop
            # sending to it until it answers a ping again.
            if index in self.live:
                self.live.discard(index)
                self.pings[self.actors[index].ready.remote()] = index
            return self._lost(job, f"the Ray actor grading it died: {type(exc).__name__}", reuse)
        except ray.exceptions.RayError as exc:  # the actor's node could not build (its sandbox broke)
            return self._lost(job, f"{type(exc).__name__}: {_first_line(exc)}", reuse)
        out_dir = self.options.out / job.sample.sample_id
        _write_folder(out_dir, files)
        result.source = job.sample.source  # the actor saw its own copy of the task folder
        return keep(result, out_dir, reuse, job.prepared)

    def _lost(self, job: _Job, why: str, reuse: Reuse) -> SampleResult | None:
        job.lost.append(why)
        if job.attempts < ATTEMPTS:
            self.retry.append(job)
            return None
        out_dir = self.options.out / job.sample.sample_id
        failed = build(job.sample, self.rubric, None, out_dir, Prepared(failed=_error(job, self.rubric)))
        return keep(failed, out_dir, reuse, job.prepared)

    def _bundle(self, sample: Sample) -> dict[str, bytes]:
        key = (sample.task_root or "", str(Path(sample.source).parent), *sample.scaffold_files)
        if key not in self.bundles:
            if len(self.bundles) > 256:  # rows of many tasks: keep the memory bounded
                self.bundles.clear()
            self.bundles[key] = task_bundle(sample)
        return self.bundles[key]


def _error(job: _Job, rubric: Rubric) -> SampleResult:
    from iacgrade.graders.pipeline import infra_error_result

    return infra_error_result(
        job.sample, rubric, f"infrastructure failure, {job.attempts} attempts: " + "; ".join(job.lost)
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:300] if text else ""


def _for_actor(sample: Sample) -> Sample:
    """The sample as the actor gets it: its prompt read here (the actor's node may not have it)."""
    return sample.model_copy(update={"prompt": read_prompt(sample)})


def task_bundle(sample: Sample) -> dict[str, bytes]:
    """The files of the sample's task folder that grading reads (``task/<rel>``) and those read
    beside the answer (``answer/<name>``): plain files only, as the local executor reads them."""
    bundle: dict[str, bytes] = {}
    if sample.task_root:
        root = Path(sample.task_root)
        for rel in dict.fromkeys([*sample.scaffold_files, *_TASK_EXTRAS, sample.entry_file or ""]):
            data = _plain_file(root, rel)
            if data is not None:
                bundle[f"task/{rel}"] = data
    for name in _BESIDE_ANSWER:
        data = _plain_file(Path(sample.source).parent, name)
        if data is not None:
            bundle[f"answer/{name}"] = data
    return bundle


def _plain_file(root: Path, rel: str) -> bytes | None:
    safe = safe_relpath(rel) if rel else None
    if not safe:
        return None
    path = root / safe
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_TASK_FILE:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _write_folder(out_dir: Path, files: dict[str, bytes]) -> None:
    """Lay an answer's output folder, as the actor built it, into the run (replacing what was there)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    root = out_dir.resolve()
    for rel, data in files.items():
        target = out_dir / rel
        if not target.resolve().is_relative_to(root):
            continue  # the actor sends relative paths; this is a second lock
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


class RayGrader:
    """The actor: a Session on its node (rubric, warm sandbox pool) that builds prepared answers.

    Declared with ``ray.remote`` by the driver (so this module imports without ray)."""

    def __init__(self, options: GradeOptions, rubric_bytes: bytes) -> None:
        gc.set_threshold(*GC_THRESHOLDS)  # the actor's process grades, as a local run's does
        self.tmp = Path(tempfile.mkdtemp(prefix="iacgrade-ray-"))
        (self.tmp / "rubric.yaml").write_bytes(rubric_bytes)
        local = dataclasses.replace(
            options,
            out=self.tmp / "out",
            rubric=self.tmp / "rubric.yaml",
            workers=1,  # one actor per CPU: each holds one warm worker
            use_cache=False,  # the driver owns the run folder and the cache
            executor="local",
        )
        self.session = Session(local)

    def ready(self) -> str:
        import socket

        return socket.gethostname()

    def grade(
        self, sample: Sample, prepared: Prepared, bundle: dict[str, bytes]
    ) -> tuple[SampleResult, dict[str, bytes]]:
        local = self._materialise(sample, bundle)
        out_dir = self.tmp / "out" / hashlib.sha256(sample.sample_id.encode()).hexdigest()[:16]
        try:
            result = build(local, self.session.rubric, self.session.services, out_dir, prepared)
            files = {
                p.relative_to(out_dir).as_posix(): p.read_bytes()
                for p in sorted(out_dir.rglob("*"))
                if p.is_file() and not p.is_symlink()
            }
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        return result, files

    def _materialise(self, sample: Sample, bundle: dict[str, bytes]) -> Sample:
        """The sample pointed at this node's copy of its task folder (laid once per content)."""
        digest = hashlib.sha256(
            b"".join(k.encode() + b"\0" + hashlib.sha256(v).digest() for k, v in sorted(bundle.items()))
        ).hexdigest()[:20]
        folder = self.tmp / "tasks" / digest
        if not folder.is_dir():
            staging = self.tmp / "tasks" / f".{digest}-staging"
            shutil.rmtree(staging, ignore_errors=True)
            for rel, data in bundle.items():
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                (staging / rel).write_bytes(data)
            for part in ("task", "answer"):  # there even when empty, as the task folder was
                (staging / part).mkdir(parents=True, exist_ok=True)
            staging.rename(folder)
        return sample.model_copy(
            update={
                "task_root": str(folder / "task") if sample.task_root else None,
                "source": str(folder / "answer" / Path(sample.source).name),
            }
        )

    def close(self) -> None:
        """Stop the warm pool and remove the actor's scratch folder (the driver calls it at the end)."""
        try:
            self.session.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
