"""Grade a batch: ingest -> extract -> workspace -> synth -> checks -> score (and the reviewer's claims) -> write.

One sample's trouble never stops the batch: whatever goes wrong becomes that sample's status
and message. Results are written as each sample finishes, atomically.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, overload

from iacgrade.graders import __version__
from iacgrade.graders.analysis.pyast import memo_scope
from iacgrade.graders.analysis.template import TemplateModel
from iacgrade.graders.cache import ResultCache, Reuse, default_cache_dir
from iacgrade.graders.checks import CheckContext, load_checked_rubric, run_checks
from iacgrade.graders.datasets import DatasetFields, is_dataset, iter_dataset
from iacgrade.graders.defaults import (
    ANSWER_PATTERN,
    GC_THRESHOLDS,
    MAX_ANSWER_BYTES,
    MIN_SCORE,
    SCRATCH_MB,
    TIMEOUT_S,
)
from iacgrade.graders.extract import extract_files
from iacgrade.graders.ingest import NoAnswersFound, discover, read_answer
from iacgrade.graders.kinds import BuildSettings, Services, kind_of_metadata, resolve_kind
from iacgrade.graders.models import CATEGORIES, Extraction, RunManifest, Sample, SampleResult
from iacgrade.graders.prompt import prompt_digest, read_prompt
from iacgrade.graders.reviewer import judge_claims, reviewer_report
from iacgrade.graders.rubric import Rubric
from iacgrade.graders.sandbox.options import SandboxBroken
from iacgrade.graders.scoring import reward_of, score_findings
from iacgrade.graders.store import (
    RunJournal,
    read_json_object,
    read_result,
    remove_partial_writes,
    write_json_atomic,
    write_tables_from_journal,
    write_text_atomic,
)


@dataclass
class GradeOptions:
    out: Path
    workers: int = max(1, os.cpu_count() or 1)
    timeout: float = TIMEOUT_S
    scratch_mb: int = SCRATCH_MB  # each of the sandbox's job, output and /tmp folders
    rubric: Path | None = None
    scaffold: Path | None = None
    pattern: str = ANSWER_PATTERN
    max_bytes: int = MAX_ANSWER_BYTES
    isolation: str = "warm"
    require_sandbox: bool = False
    synth: bool = True
    label: str | None = None
    formats: list[str] = field(default_factory=list)
    min_score: float = MIN_SCORE
    kind: str | None = None  # --kind: grade every answer as this kind (default: metadata, else blocks)
    use_cache: bool = True  # off (--no-cache): neither resume nor read or write the cache
    cache_dir: Path | None = None  # default: graders.cache.default_cache_dir()
    fields: DatasetFields = field(default_factory=DatasetFields)  # which column of a dataset row is what
    executor: str = "local"  # local (this machine's warm pools) or ray (graders/ray_executor.py)
    ray_address: str | None = None  # --ray-address; None: $RAY_ADDRESS, else a local Ray instance


ProgressFn = Callable[[SampleResult], None]


class RenderReport(Protocol):
    """The text of one answer's report.md, from its result alone and its reference's (if graded)."""

    def __call__(
        self,
        result: SampleResult,
        rubric: Rubric,
        *,
        reference: SampleResult | None,
        reference_in_run: bool,
    ) -> str: ...


@dataclass(frozen=True)
class Writers:
    """The documents a run renders besides result.json and the tables: each answer's report.md,
    and the ``--format`` files (given the run's options, rubric and results once it is done).

    The caller brings them (the CLI passes ``iacgrade.reports.writers.run_writers()``): graders/ renders
    nothing itself and never imports reports/, which reads graders' models. None: not written."""

    report: RenderReport | None = None
    formats: Callable[[GradeOptions, Rubric, Sequence[SampleResult]], None] | None = None


class RunResults(Sequence[SampleResult]):
    """A run's results in sample-id order, each read from its result.json when asked for: a run
    of any size hands them back without holding them."""

    def __init__(self, out: Path, sample_ids: list[str]) -> None:
        self.out, self.sample_ids = out, sample_ids

    def __len__(self) -> int:
        return len(self.sample_ids)

    @overload
    def __getitem__(self, index: int) -> SampleResult: ...
    @overload
    def __getitem__(self, index: slice) -> list[SampleResult]: ...
    def __getitem__(self, index: int | slice) -> SampleResult | list[SampleResult]:
        if isinstance(index, slice):
            return [self._load(i) for i in self.sample_ids[index]]
        return self._load(self.sample_ids[index])

    def _load(self, sample_id: str) -> SampleResult:
        result = read_result(self.out / sample_id / "result.json")
        if result is None:
            raise FileNotFoundError(f"{self.out / sample_id / 'result.json'}: missing or not a result")
        return result


@dataclass
class RunOutcome:
    manifest: RunManifest
    results: RunResults


def grade(
    paths: list[Path],
    options: GradeOptions,
    *,
    writers: Writers = Writers(),
    on_result: ProgressFn | None = None,
    on_start: Callable[[int], None] | None = None,
) -> RunOutcome:
    """Grade every answer found under ``paths`` into ``options.out``; ``writers`` render its documents.

    Raises NoAnswersFound (a ValueError) before any work when a folder holds no answer or a
    dataset no row."""
    if options.formats and writers.formats is None:
        raise ValueError(f"no writer for the formats {options.formats}")
    rubric = load_checked_rubric(options.rubric)
    if options.scaffold is not None and not options.scaffold.is_dir():
        raise ValueError(f"scaffold {options.scaffold}: not a folder")  # before any work starts
    file_paths = [p for p in paths if not is_dataset(p)]
    samples = discover(file_paths, pattern=options.pattern, strict=True) if file_paths else []
    if options.scaffold is not None:
        _use_scaffold(samples, options.scaffold)
    datasets = [p for p in paths if is_dataset(p)]
    for dataset in datasets:  # like a folder with no answer file: nothing to grade is a bad path
        if next(iter(_dataset_samples(dataset, options)), None) is None:
            raise NoAnswersFound(f"{dataset}: the dataset has no rows")
    options.out.mkdir(parents=True, exist_ok=True)
    manifest = RunManifest(
        **_run_identity(options.out),  # type: ignore[arg-type]
        label=options.label,
        grader_version=__version__,
        rubric_version=f"{rubric.version}+{rubric.digest}",
        cdk_version=_cdk_version(),
        inputs=[str(p) for p in paths],
        options={
            "workers": options.workers,
            "timeout": options.timeout,
            "isolation": options.isolation,
            "synth": options.synth,
            "pattern": options.pattern,
            "max_bytes": options.max_bytes,
            "rubric": str(options.rubric) if options.rubric else None,
            "scaffold": str(options.scaffold) if options.scaffold else None,
            "kind": options.kind,
            **({"fields": options.fields.as_dict()} if datasets else {}),
            **({"executor": options.executor} if options.executor != "local" else {}),
        },
        cache_dir=str(options.cache_dir or default_cache_dir()) if options.use_cache else None,
        check_severities={c: spec.severity for c, spec in rubric.checks.items() if spec.enabled},
    )
    reuse = _reuse(options, manifest)
    write_json_atomic(options.out / "run.json", manifest.model_dump(mode="json"))
    if on_start:  # a dataset is read once more to count its rows: cheap next to grading them
        on_start(len(samples) + sum(sum(1 for _ in _dataset_samples(d, options)) for d in datasets))

    run = _RunWriter(options.out, rubric, samples, reuse, on_result, writers.report)
    seen_ids: set[str] = set()
    gc_before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)  # a batch's thresholds for the run, the caller's after it
    stream = run.announce(_all_samples(samples, datasets, options, seen_ids))
    executor = _grade_locally if options.executor == "local" else _ray_executor()
    try:
        # Both executors yield each answer's result once, written into its folder; the writer
        # keeps it (report, journal line, tables) the same way whichever graded it.
        with contextlib.closing(executor(stream, options, rubric, reuse)) as graded:
            for result in graded:
                run.keep(result)
    except KeyboardInterrupt:
        # Keep what was graded: the journal, the tables and the reports; run.json stays unfinished.
        run.interrupted(seen_ids)
        raise RunInterrupted(len(run.kept_ids), max(len(seen_ids), len(run.kept_ids))) from None
    finally:
        gc.set_threshold(*gc_before)
    results = run.finish()

    manifest.finished = datetime.now(UTC).isoformat(timespec="seconds")
    manifest.counts = {
        **run.counts,
        "cache_hits": reuse.count("cache"),
        "resumed": reuse.count("resume"),
    }
    if writers.formats is not None:
        writers.formats(options, rubric, results)
    write_json_atomic(options.out / "run.json", manifest.model_dump(mode="json"))
    return RunOutcome(manifest, results)


Executor = Callable[[Iterator[Sample], "GradeOptions", Rubric, Reuse], Generator[SampleResult, None, None]]


def _grade_locally(
    stream: Iterator[Sample], options: GradeOptions, rubric: Rubric, reuse: Reuse
) -> Generator[SampleResult, None, None]:
    """The local executor: a thread per worker over this machine's warm pools, a bounded window
    of samples in flight (so a dataset's rows stream through the run)."""
    services = open_services(options)
    stop = threading.Event()  # set on Ctrl-C: answers cut short are not written, a re-run grades them
    try:
        with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
            futures: set[Future[SampleResult]] = set()
            in_flight = 4 * max(1, options.workers)
            try:
                for sample in _take(stream, in_flight):
                    futures.add(pool.submit(_grade_one, sample, options, rubric, services, reuse, stop))
                while futures:
                    finished, futures = wait(futures, return_when=FIRST_COMPLETED)
                    for sample in _take(stream, len(finished)):
                        futures.add(pool.submit(_grade_one, sample, options, rubric, services, reuse, stop))
                    for future in finished:
                        yield future.result()
            except (KeyboardInterrupt, GeneratorExit):
                stop.set()
                for f in futures:
                    f.cancel()
                services.close()  # in-flight builds end now (their results are dropped)
                raise
    finally:
        services.close()


def _ray_executor() -> Executor:
    from iacgrade.graders.ray_executor import (
        grade_on_ray,  # ray is an optional extra: imported only when asked
    )

    return grade_on_ray


class _RunWriter:
    """Keeps each result an executor hands back: its report, its journal line, the tables every
    few seconds, the progress callback; and the run's end (or interruption)."""

    def __init__(
        self,
        out: Path,
        rubric: Rubric,
        samples: list[Sample],
        reuse: Reuse,
        on_result: ProgressFn | None,
        render: RenderReport | None,
    ) -> None:
        self.out, self.reuse, self.on_result = out, reuse, on_result
        self.reports = _ReportWriter(out, rubric, samples, render)
        self.journal = RunJournal(out)
        # Only ids and counts stay in memory: a result lives in its folder and its journal line,
        # so a dataset of any number of rows is graded in flat memory.
        self.kept_ids: set[str] = set()
        self.keeping: str | None = None
        self.counts = _no_counts()
        self.tables_written = time.monotonic()
        self.tables_seconds = 0.0

    def announce(self, stream: Iterator[Sample]) -> Iterator[Sample]:
        """The stream of samples, each made known to the reports as it enters the run."""
        for sample in stream:
            self.reports.add(sample)
            yield sample

    def keep(self, result: SampleResult) -> None:
        self.keeping = result.sample_id  # the folder a Ctrl-C may catch half written (see interrupted)
        _count(self.counts, result)
        self.kept_ids.add(result.sample_id)
        self.reports.done(result)  # before the journal line: a journaled answer has its report
        self.journal.append(result, self.reuse.how.get(result.sample_id, "graded"))
        # A killed run keeps recent tables; writing them costs time that grows with the run (and
        # holds the GIL the grading threads need), so they are written at most once per
        # _TABLES_EVERY_S and at most a twentieth of the time. The journal is the run's record.
        now = time.monotonic()
        if now - self.tables_written > max(_TABLES_EVERY_S, 20 * self.tables_seconds):
            write_tables_from_journal(self.out, self.kept_ids)
            self.tables_written = time.monotonic()
            self.tables_seconds = self.tables_written - now
        if self.on_result:
            self.on_result(result)
        self.keeping = None

    def interrupted(self, seen_ids: set[str]) -> None:
        # The tables come from the journal, not from `results`: Ctrl-C can land between the two
        # appends, and the journal is what a re-run trusts.
        self.reports.flush()
        self.journal.close()
        write_tables_from_journal(self.out, seen_ids)
        # A write the Ctrl-C cut short leaves a temporary file in the answer's folder or beside the tables.
        for folder in [self.out] + ([self.out / self.keeping] if self.keeping else []):
            remove_partial_writes(folder)

    def finish(self) -> RunResults:
        self.reports.flush()
        self.journal.close()
        write_tables_from_journal(self.out, self.kept_ids)
        return RunResults(self.out, sorted(self.kept_ids))


def _dataset_samples(path: Path, options: GradeOptions) -> Iterator[Sample]:
    # A row may carry its response, prompt and reference: bound a JSON line by all three.
    return iter_dataset(path, options.fields, max_row_bytes=4 * options.max_bytes)


def _all_samples(
    samples: list[Sample], datasets: list[Path], options: GradeOptions, seen_ids: set[str]
) -> Iterator[Sample]:
    """The answer files' samples, then each dataset's rows as they are read; ids made unique.

    Each sample's kind is settled here, before grading, so the cache keys on it."""
    for sample in samples:
        seen_ids.add(sample.sample_id)
        yield _with_kind(sample, options)
    # The scaffold is walked once for all rows, not once per row.
    scaffold = _read_scaffold(options.scaffold) if options.scaffold is not None and datasets else None
    for path in datasets:
        for sample in _dataset_samples(path, options):
            if sample.sample_id in seen_ids:  # two datasets with the same file name
                sample.sample_id = f"{path.parent.name or 'input'}/{sample.sample_id}"
            base, n = sample.sample_id, 2
            while sample.sample_id in seen_ids:
                sample.sample_id, n = f"{base}~{n}", n + 1
            if options.scaffold is not None:
                _use_scaffold([sample], options.scaffold, scaffold)
            seen_ids.add(sample.sample_id)
            yield _with_kind(sample, options)


def _with_kind(sample: Sample, options: GradeOptions) -> Sample:
    sample.kind = options.kind or sample.kind or kind_of_metadata(sample.metadata)
    return sample


def _take(stream: Iterator[Sample], n: int) -> list[Sample]:
    out: list[Sample] = []
    for sample in stream:
        out.append(sample)
        if len(out) >= n:
            break
    return out


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C: ``done`` of ``total`` answers were graded and saved; the same command finishes the run."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"interrupted after {done} of {total} answers")
        self.done, self.total = done, total


class Session:
    """What grading answers one by one needs, opened once: the rubric, the result cache, the
    scaffold and the run-wide services (warm pools). The library's Grader and ``serve`` hold one;
    ``grade`` is thread-safe and gives the SampleResult a run would write to result.json."""

    def __init__(self, options: GradeOptions, *, run_id: str = "library") -> None:
        self.options = options
        self.rubric = load_checked_rubric(options.rubric)
        manifest = RunManifest(
            run_id=run_id,
            started="",
            grader_version=__version__,
            rubric_version=f"{self.rubric.version}+{self.rubric.digest}",
            cdk_version=_cdk_version(),
        )
        self.reuse = _reuse(options, manifest)
        self.services = open_services(options)
        # The options' scaffold is walked once for every answer; an answer's own is read with it.
        self._scaffold = _read_scaffold(options.scaffold) if options.scaffold is not None else None

    def grade(self, sample: Sample, scaffold: Path | None = None) -> SampleResult:
        """Grade ``sample``; ``scaffold`` (a task folder) wins over the options' for this answer."""
        if scaffold is not None:
            _use_scaffold([sample], scaffold)
        elif self.options.scaffold is not None:
            _use_scaffold([sample], self.options.scaffold, self._scaffold)
        return _grade_one(
            _with_kind(sample, self.options), self.options, self.rubric, self.services, self.reuse
        )

    def close(self) -> None:
        self.services.close()


def grade_sample(sample: Sample, options: GradeOptions, rubric: Rubric, services: Services) -> SampleResult:
    """Grade one answer; never raises (but for a run-wide service that could not start)."""
    return _grade_one(sample, options, rubric, services)


def open_services(options: GradeOptions) -> Services:
    """The run-wide services the kinds' builds share (warm pools), each started on first use."""
    return Services(
        BuildSettings(
            timeout=options.timeout,
            scratch_mb=options.scratch_mb,
            isolation=options.isolation,
            require_sandbox=options.require_sandbox,
            workers=options.workers,
            enabled=options.synth,
        )
    )


# ---------------------------------------------------------------------------------------------


def _grade_one(
    sample: Sample,
    options: GradeOptions,
    rubric: Rubric,
    services: Services,
    reuse: Reuse | None = None,
    stop: threading.Event | None = None,
) -> SampleResult:
    out_dir = options.out / sample.sample_id
    prepared = prepare(sample, options, rubric, reuse, out_dir)
    if isinstance(prepared, SampleResult):
        return prepared  # resumed from the run folder or copied from the cache
    return keep(build(sample, rubric, services, out_dir, prepared), out_dir, reuse, prepared, stop)


@dataclass
class Prepared:
    """An answer read, extracted and keyed, found neither in the run folder nor in the cache."""

    extraction: Extraction | None = None  # None: the answer could not be read (``sample.error``)
    key: str | None = None
    text_key: str | None = None
    notes: list[str] = field(default_factory=list)
    failed: SampleResult | None = None  # the grader's own failure while reading or looking up


def prepare(
    sample: Sample, options: GradeOptions, rubric: Rubric, reuse: Reuse | None, out_dir: Path
) -> SampleResult | Prepared:
    """The answer's result when the run or the cache already has it (written into ``out_dir``),
    else what `build` needs. Cheap next to building: an executor runs it where the run folder is."""
    prepared = Prepared()
    try:
        text = _read(sample, options)
        context = reuse.context(sample) if reuse is not None and text is not None else None
        if reuse is not None and context is not None and text is not None and reuse.enabled:
            # An unchanged answer text names its entry directly, so a cached run skips extraction.
            prepared.text_key = reuse.text_key(context, text)
            found = reuse.find_by_text(sample, prepared.text_key, out_dir)
            if found is not None:
                return found
        prepared.extraction = None if text is None else extract_files(text)
        if reuse is not None and context is not None and prepared.extraction is not None:
            # The key needs the extraction (cheap); it decides before the costly assemble and synth.
            prepared.notes = prepared.extraction.notes
            prepared.key = reuse.key(context, prepared.extraction)
            found = reuse.find(sample, prepared.notes, prepared.key, out_dir, text_key=prepared.text_key)
            if found is not None:
                return found
    except Exception as exc:  # the grader's own failure, reported on this sample only
        prepared.failed = _grader_error(sample, rubric, exc)
    return prepared


def build(
    sample: Sample, rubric: Rubric, services: Services | None, out_dir: Path, prepared: Prepared
) -> SampleResult:
    """Grade a prepared answer into ``out_dir`` (files, templates, logs; not result.json).

    Never raises, but for a run-wide service that could not start. ``services`` may be None
    only when nothing is left to build (a failed preparation or an unreadable answer)."""
    if prepared.failed is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        prepared.failed.reward = reward_of(prepared.failed, rubric.reward)
        return prepared.failed
    try:
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        assert services is not None or prepared.extraction is None, "building needs the run's services"
        with memo_scope():  # its entry, the placing of its files and its checks walk the same trees
            result = _grade_into(sample, rubric, services, out_dir, prepared.extraction)  # type: ignore[arg-type]
        result.content_hash = prepared.key
    except SandboxBroken as exc:  # the sandbox failed, not the answer: kept out of the scores
        result = infra_error_result(sample, rubric, f"infrastructure failure: {exc}")
        out_dir.mkdir(parents=True, exist_ok=True)
    except Exception as exc:  # the grader's own failure, reported on this sample only
        if services is not None and exc is services.failure:
            raise  # a run-wide service (the sandbox) could not start: the run fails, not this sample
        result = _grader_error(sample, rubric, exc)
        out_dir.mkdir(parents=True, exist_ok=True)
    result.reward = reward_of(result, rubric.reward)
    return result


def keep(
    result: SampleResult,
    out_dir: Path,
    reuse: Reuse | None,
    prepared: Prepared,
    stop: threading.Event | None = None,
) -> SampleResult:
    """Write a built answer's result.json and put its folder into the cache."""
    if stop is not None and stop.is_set():
        raise _CutShort(result.sample_id)  # interrupted mid-way: never keep a result it may have spoiled
    write_json_atomic(out_dir / "result.json", result.model_dump(mode="json"))
    if reuse is not None:
        reuse.store(result.content_hash, out_dir, result, prepared.text_key, prepared.notes)
    return result


def _grader_error(sample: Sample, rubric: Rubric, exc: Exception) -> SampleResult:
    result = _error_result(sample, rubric, f"grader error: {type(exc).__name__}: {exc}")
    result.warnings.append(traceback.format_exc(limit=-8))  # the innermost frames: where it raised
    return result


class _CutShort(Exception):
    """An answer whose grading the run's interruption cut short."""


def _read(sample: Sample, options: GradeOptions) -> str | None:
    """The answer's markdown, or None when it cannot be read (``sample.error`` says why)."""
    if sample.status == "error":
        return None
    return read_answer(sample, max_bytes=options.max_bytes)


def _grade_into(
    sample: Sample,
    rubric: Rubric,
    services: Services,
    out_dir: Path,
    extraction: Extraction | None,
) -> SampleResult:
    if extraction is None:
        return _error_result(sample, rubric, sample.error or "could not read the answer")
    resolved = resolve_kind(sample, extraction)
    if resolved.kind is None:
        result = _error_result(sample, rubric, resolved.error or f"cannot grade {resolved.name} answers")
        result.kind = resolved.name
        return result
    kind = resolved.kind
    with tempfile.TemporaryDirectory(prefix="iacgrade-ws-") as tmp:
        built = kind.build(sample, extraction, Path(tmp) / "ws", out_dir, services)
        _save_files(extraction, out_dir / "files")
    source = kind.source_model(extraction.files, built.synth)
    ctx = CheckContext(
        sample=sample,
        files=extraction.files,
        workspace=built.workspace,
        synth=kind.judged(built.synth, source),
        rubric=rubric,
        template=TemplateModel.of(built.synth, out_dir),
        _source=source,
        prompt=read_prompt(sample),
        kind=kind.name,
    )
    findings = run_checks(ctx)
    findings.sort(
        key=lambda f: (_CATEGORY_ORDER.get(f.category, 9), -rubric.severities.get(f.severity, 0), f.check)
    )
    categories, total = score_findings(
        findings,
        rubric,
        has_source=bool(kind.code_files(extraction)),
        no_code=kind.no_code,
        unreadable_note=kind.unreadable_note,
        has_template=ctx.template.present,
        source_readable=source.readable(),
    )
    return SampleResult(
        sample_id=sample.sample_id,
        source=sample.source,
        status="graded",
        task_id=sample.task_id,
        role=sample.role,
        kind=kind.name,
        reference_id=sample.reference_id,
        row_id=sample.row_id,
        row_fields=dict(sample.row_fields),
        files=extraction.files,
        skipped_blocks=extraction.skipped,
        moves=built.workspace.moves if built.workspace else [],
        warnings=list(sample.warnings) + list(extraction.notes) + resolved.notes + built.notes,
        synth=ctx.synth,
        findings=findings,
        scores={c.category: c.score for c in categories},
        categories=categories,
        total=total,
        grader_version=__version__,
        rubric_version=f"{rubric.version}+{rubric.digest}",
        prompt_digest=prompt_digest(ctx.prompt),
        reviewer_claims=judge_claims(reviewer_report(sample), findings, extraction.files),
    )


_CATEGORY_ORDER = {c: n for n, c in enumerate(CATEGORIES)}


def infra_error_result(sample: Sample, rubric: Rubric, message: str) -> SampleResult:
    """The result of an answer the grader's infrastructure failed on (status infra_error: kept out
    of the scores and the cache, graded again by the next run in the folder)."""
    result = _error_result(sample, rubric, message)
    result.status = "infra_error"
    return result


def _error_result(sample: Sample, rubric: Rubric, message: str) -> SampleResult:
    return SampleResult(
        sample_id=sample.sample_id,
        source=sample.source,
        status="error",
        error=message,
        task_id=sample.task_id,
        role=sample.role,
        kind=sample.kind,
        reference_id=sample.reference_id,
        row_id=sample.row_id,
        row_fields=dict(sample.row_fields),
        warnings=list(sample.warnings),
        scores={c: None for c in rubric.categories},
        grader_version=__version__,
        rubric_version=f"{rubric.version}+{rubric.digest}",
        prompt_digest=prompt_digest(read_prompt(sample)),
    )


def _save_files(extraction: Extraction, dest: Path) -> None:
    """Keep the extracted files beside the result so a reader can open them."""
    for f in extraction.files:
        target = dest / f.path
        if not target.resolve().is_relative_to(dest.resolve()):
            continue  # extraction already makes paths safe; this is a second lock
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.content, encoding="utf-8", errors="replace")


def _read_scaffold(scaffold: Path) -> tuple[list[str], str | None]:
    from iacgrade.graders.ingest import scaffold_of

    return scaffold_of(scaffold)


def _use_scaffold(
    samples: list[Sample], scaffold: Path, read: tuple[list[str], str | None] | None = None
) -> None:
    """Give ``samples`` without a task folder ``scaffold`` (``read``: its files and entry, when the
    caller read them once for many samples)."""
    files, entry = read or _read_scaffold(scaffold)
    for sample in samples:
        if sample.task_root is None:
            sample.task_root = str(scaffold.resolve())
            sample.scaffold_files = files
            sample.entry_file = entry


_TABLES_EVERY_S = 30.0


def _run_identity(out: Path) -> dict[str, str]:
    """Run id and start time: a new run's, or those of the unfinished run in ``out`` being resumed."""
    previous = read_json_object(out / "run.json")
    if previous and not previous.get("finished") and previous.get("run_id") and previous.get("started"):
        return {"run_id": str(previous["run_id"]), "started": str(previous["started"])}
    now = datetime.now(UTC)
    return {
        "run_id": now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6],
        "started": now.isoformat(timespec="seconds"),
    }


def _reuse(options: GradeOptions, manifest: RunManifest) -> Reuse:
    # --no-cache reads nothing from the cache but still refreshes it with what it grades.
    cache = ResultCache(options.cache_dir or default_cache_dir())
    return Reuse(
        cache=cache,
        settings={"synth": options.synth, "timeout": options.timeout, "scratch_mb": options.scratch_mb},
        rubric_version=manifest.rubric_version,
        cdk_version=manifest.cdk_version,
        enabled=options.use_cache,
    )


def _no_counts() -> dict[str, int]:
    """A run's counts before its first result (``_count`` adds each result)."""
    return {
        "samples": 0,
        "graded": 0,
        "error": 0,
        "infra_error": 0,
        "synth_ok": 0,
        "synth_failed": 0,
        "synth_timeout": 0,
        "synth_skipped": 0,
        "findings": 0,
    }


def _count(counts: dict[str, int], result: SampleResult) -> None:
    counts["samples"] += 1
    counts[result.status] += 1
    counts[f"synth_{result.synth.status}"] += 1
    counts["findings"] += len(result.findings)


def _cdk_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("aws-cdk-lib")
    except Exception:
        return None


class _ReportWriter:
    """Writes each report.md as soon as its reference answer (if in this run) is graded too."""

    def __init__(self, out: Path, rubric: Rubric, samples: list[Sample], render: RenderReport | None) -> None:
        self.out, self.rubric, self.render = out, rubric, render
        self.in_run = {s.sample_id for s in samples}
        self.done_ids: set[str] = set()
        # Only references (IDEAL answers) are kept whole: a dataset's rows are not held to the end.
        self.done_results: dict[str, SampleResult] = {}
        self.waiting: dict[str, list[SampleResult]] = {}
        self.lock = threading.Lock()

    def add(self, sample: Sample) -> None:
        """A sample streamed into the run after it started (a dataset row)."""
        with self.lock:
            self.in_run.add(sample.sample_id)

    def done(self, result: SampleResult) -> None:
        with self.lock:
            self.done_ids.add(result.sample_id)
            if result.role == "ideal":
                self.done_results[result.sample_id] = result
            ref = result.reference_id
            if ref and ref in self.in_run and ref not in self.done_ids:
                self.waiting.setdefault(ref, []).append(result)
            else:
                self._write(result)
            for pending in self.waiting.pop(result.sample_id, []):
                self._write(pending)

    def flush(self) -> None:
        with self.lock:
            for pending in [r for rs in self.waiting.values() for r in rs]:
                self._write(pending)
            self.waiting.clear()

    def _write(self, result: SampleResult) -> None:
        if self.render is None:
            return
        try:
            text = self.render(
                result,
                self.rubric,
                reference=self.done_results.get(result.reference_id or ""),
                reference_in_run=bool(result.reference_id and result.reference_id in self.in_run),
            )
        except Exception as exc:  # noqa: BLE001 - a report that cannot be rendered must not end the run
            # result.json holds the grade; the report says why it is missing instead of the run dying.
            text = (
                f"# Failure report: {result.sample_id}\n\n**The report could not be rendered** "
                f"(grader error: {type(exc).__name__}: {str(exc)[:300]}); result.json holds the grade.\n"
            )
        write_text_atomic(self.out / result.sample_id / "report.md", text)
