"""`Grader`: the pipeline's grading of one answer, behind a context manager that keeps the warm
sandbox pool (and the rubric, the result cache) for as many answers as it is given.

It holds a graders.pipeline.Session (the rubric, the result cache, the warm pools), so a library
result is the same model, with the same scores, as the one ``iacgrade grade`` writes to result.json.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the pipeline (pandas, the checks) loads when a Grader starts, not on import
    from iacgrade.graders.models import SampleResult

__all__ = ["Grader"]


class Grader:
    """Grades answers given as text; thread-safe; start it once and grade many.

    ``out``: the folder each answer's result.json (and extracted files, templates) go to, under
    ``<sample id>/``; by default a temporary folder the Grader owns and deletes on close.
    ``synth=False`` grades the source only (no Node, no sandbox: fast). ``cache=False`` grades
    every answer afresh (the result cache is still refreshed).
    """

    def __init__(
        self,
        rubric: str | Path | None = None,
        *,
        workers: int = 2,
        out: str | Path | None = None,
        synth: bool = True,
        timeout: float = 60.0,
        cache: bool = True,
        cache_dir: str | Path | None = None,
        scaffold: str | Path | None = None,
        max_bytes: int = 5_000_000,
    ) -> None:
        self._settings = {
            "rubric": Path(rubric) if rubric is not None else None,
            "workers": max(1, workers),
            "synth": synth,
            "timeout": timeout,
            "use_cache": cache,
            "cache_dir": Path(cache_dir) if cache_dir is not None else None,
            "max_bytes": max_bytes,
            "scaffold": Path(scaffold) if scaffold is not None else None,
        }
        self._given_out = Path(out) if out is not None else None
        self._owned_out: Path | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._started = False
        self._executor: ThreadPoolExecutor | None = None
        self._session: Any = None

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Grader:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        """Load the rubric and open the pool (its sandboxes start with the first answer to build)."""
        with self._lock:
            if self._started:
                return
            from iacgrade.graders import pipeline

            out = self._given_out
            if out is None:
                self._owned_out = out = Path(tempfile.mkdtemp(prefix="iacgrade-lib-"))
            out.mkdir(parents=True, exist_ok=True)
            self.options = pipeline.GradeOptions(out=out, **self._settings)  # type: ignore[arg-type]
            self._session = pipeline.Session(self.options)
            self.rubric = self._session.rubric
            self._executor = ThreadPoolExecutor(
                max_workers=self.options.workers, thread_name_prefix="iacgrade"
            )
            self._started = True

    def close(self) -> None:
        """Stop the pool's workers and delete the temporary output folder (not an ``out`` given)."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None
            if self._session is not None:
                self._session.close()
                self._session = None
            if self._owned_out is not None:
                shutil.rmtree(self._owned_out, ignore_errors=True)
                self._owned_out = None
            self._started = False

    @property
    def out(self) -> Path:
        """The folder results are written to."""
        self.start()
        return self.options.out

    # -- grading --------------------------------------------------------------------------

    def grade(
        self,
        response: str,
        prompt: str | None = None,
        kind: str | None = None,
        id: str | None = None,
        scaffold: str | Path | None = None,
    ) -> SampleResult:
        """Grade one answer (markdown with code blocks) against its prompt; never raises for a bad answer.

        ``scaffold`` is the answer's task folder (its entry file and cdk.json), for this answer only;
        by default the Grader's own ``scaffold``, if it has one."""
        from iacgrade.graders.datasets import safe_id
        from iacgrade.graders.models import Sample

        self.start()
        with self._lock:
            number = next(self._ids)
        sample_id = safe_id(id) if id is not None else f"answer-{number:06d}"
        sample = Sample(
            sample_id=sample_id,
            source=f"<grade {sample_id}>",
            kind=kind,
            text=response if isinstance(response, str) else None,
            prompt=prompt,
            status="ok" if isinstance(response, str) else "error",
            error=None
            if isinstance(response, str)
            else f"response is not a string but {type(response).__name__}",
        )
        task = Path(scaffold) if scaffold is not None else None
        if task is not None and not task.is_dir():
            sample.status, sample.error, task = "error", f"scaffold {scaffold}: not a folder", None
        return self._session.grade(sample, task)

    def grade_many(
        self, rows: Iterable[str | dict[str, Any]], *, in_flight: int | None = None
    ) -> Iterator[SampleResult]:
        """Grade rows (answer texts, or dicts with ``response`` and optional ``prompt``, ``kind``,
        ``id``, ``scaffold``), yielding results in the rows' order while at most ``in_flight`` (default: twice the
        workers) are being graded, so the pool stays busy and a long iterable is never held whole."""
        self.start()
        assert self._executor is not None
        limit = in_flight or 2 * self.options.workers
        pending: deque[Future[SampleResult]] = deque()
        for row in rows:
            if isinstance(row, str):
                row = {"response": row}
            response: Any = row.get("response")
            pending.append(
                self._executor.submit(
                    self.grade,
                    response,
                    row.get("prompt"),
                    row.get("kind"),
                    row.get("id"),
                    row.get("scaffold"),
                )
            )
            while len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
