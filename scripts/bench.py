"""Benchmark: the warm sandboxed pool vs the naive way, with and without cfn-lint, in one run.

    .venv/bin/python scripts/bench.py --corpus ../shared/corpus/cdk-py [--workers 2] [--subset 12]

Phases, all in this run, on the same machine, each printed with the load average it ran under:

1. warm + lint: every answer of the corpus (ingest, extract, assemble first, not timed) through a
   fresh ``SynthPool`` on ``--workers`` warm workers with cfn-lint on (what ``iacgrade grade`` does);
   the wall time includes starting and warming the workers.
2. warm, no lint: the same, with a second fresh pool and cfn-lint off.
3. naive: for ``--subset`` answers, what a user without iacgrade does to get the same information:
   ``cdk synth`` (a fresh ``python <entry>`` with the context and account/region the CDK CLI would
   pass, no sandbox, one attempt), then ``cfn-lint <its templates>`` (a fresh CLI process) when synth
   wrote any. Also run ``--workers`` at a time, so both sides get the same cores. The python phase
   alone is "naive, no lint"; python + cfn-lint is "naive + lint". A user who knows cfn-lint's start-up
   is costly lints all templates in one go instead: "naive + batch lint" runs ``--workers`` cfn-lint
   processes over all the subset's templates, split evenly, and is the least favourable comparison.

The subset is chosen before any naive run, from answers the naive way can run (an entry file of
their own or the scaffold's; answers needing a generated driver are left out), split like the
corpus between answers whose warm synth succeeded and answers whose synth failed, and spread evenly
over each group in sample-id order: same corpus, same subset, every run.

4. the command: ``iacgrade grade <corpus>`` on ``--workers`` workers into an empty cache (cold,
   the whole pipeline: synth, lint, checks, scoring, reports, tables), then the same command again
   three times, each into a new output folder (every answer from the cache; the median counts),
   and ``iacgrade --help`` (the start-up floor of any run, best of 3).

At the end the issue's three targets, each a ratio or a mean of this one run, with PASS or MISS:
(a) warm pool + cfn-lint vs the naive way per answer (>= 20x), (b) seconds per answer of the cold
command over the whole corpus (<= 0.2 s), (c) cold command vs cached re-grade (>= 50x).

A CloudFormation corpus (``make bench KIND=cfn-yaml`` or ``cfn-json``: its tasks' metadata name the
kind) has nothing to synthesize, so it gets its own phases (see :func:`bench_cloudformation`):
parse + cfn-lint on the kind's warm parse pool over the whole corpus, the naive way (a fresh
``cfn-lint`` CLI once per template, ``--subset`` answers), and the same command phase; its target is
issue 11's: <= 0.1 s per answer on ``--workers`` workers, lint included, with no sandbox started.

A CDK TypeScript corpus (``make bench KIND=cdk-ts``) gets its own phases too (see
:func:`bench_typescript`): every answer through the kind's build (the warm Node pool: transpile,
synth, the compiler pass, then cfn-lint) on ``--workers`` workers, and the naive way for ``--subset``
answers: ``npx ts-node --prefer-ts-exts bin/tap.ts`` (which type-checks, then runs the app) in a
scratch copy of the project, then the ``cfn-lint`` CLI on what it wrote; its targets are issue 12's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iacgrade.graders.defaults import SCRATCH_MB, TIMEOUT_S  # noqa: E402
from iacgrade.graders.extract import extract_files  # noqa: E402
from iacgrade.graders.ingest import discover, read_answer  # noqa: E402
from iacgrade.graders.kinds import KINDS, BuildSettings, Services, kind_of_metadata  # noqa: E402
from iacgrade.graders.kinds.cdk_typescript import CdkTypeScript  # noqa: E402
from iacgrade.graders.kinds.cloudformation import CloudFormation, task_region  # noqa: E402
from iacgrade.graders.models import Extraction, Sample, SynthResult, Workspace  # noqa: E402
from iacgrade.graders.sandbox import SandboxOptions, SynthPool  # noqa: E402
from iacgrade.graders.sandbox.entry import plan_entry  # noqa: E402
from iacgrade.graders.sandbox.launcher import NODE_TOOLCHAIN  # noqa: E402
from iacgrade.graders.sandbox.pool import CLI_CONTEXT, DUMMY_ENV  # noqa: E402
from iacgrade.graders.workspace import assemble  # noqa: E402

_TIMEOUT = 120.0
_ROOT = Path(__file__).resolve().parents[1]
# The targets (issue 14: cost per answer on one machine).
_TARGET_VS_NAIVE = 20.0
_TARGET_PER_ANSWER = 0.2
_TARGET_CACHED = 50.0
# Issue 11: grading a CloudFormation answer costs no sandbox start, lint included.
_TARGET_CFN_PER_ANSWER = 0.1
# Issue 12: CDK TypeScript on warm Node workers.
_TARGET_TS_SYNTH = 0.15
_TARGET_TS_COMPILER = 0.5


@dataclass
class _Warm:
    results: list[SynthResult]
    wall: float

    @property
    def per_answer(self) -> float:
        return self.wall / max(1, len(self.results))


@dataclass
class _Naive:
    sample_id: str
    warm_ok: bool
    synth_seconds: float = 0.0
    synth_ok: bool = False
    templates: int = 0
    lint_seconds: float = 0.0


def prepare_workspaces(samples: list[Sample], work: Path) -> list[tuple[Sample, Workspace]]:
    """Each answer's workspace under ``work/ws`` (ingest, extract, assemble), answers that cannot be read left out."""
    out = []
    for s in samples:
        text = read_answer(s)
        if text is None:
            continue
        ws = assemble(s, extract_files(text), work / "ws" / s.sample_id.replace("/", "__"))
        out.append((s, ws))
    return out


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def _warm(prepared: list[tuple[Sample, Workspace]], work: Path, workers: int, lint: bool) -> _Warm:
    tag = "lint" if lint else "nolint"
    t0 = time.monotonic()
    with SynthPool(SandboxOptions(workers=workers, lint=lint)) as pool, ThreadPoolExecutor(workers) as ex:

        def one(item: tuple[Sample, Workspace]) -> SynthResult:
            s, ws = item
            out = work / f"out-{tag}" / s.sample_id.replace("/", "__")
            out.mkdir(parents=True, exist_ok=True)
            return pool.synthesize(ws, s, out)

        results = list(ex.map(one, prepared))
    return _Warm(results, time.monotonic() - t0)


def _pick(candidates: Sequence[tuple[int, bool]], n: int, ok_share: float) -> list[int]:
    """``n`` indexes, split between ok and failed like the corpus, spread evenly within each group."""
    ok = [i for i, good in candidates if good]
    failed = [i for i, good in candidates if not good]
    n_ok = min(len(ok), round(n * ok_share))
    n_failed = min(len(failed), n - n_ok)
    return sorted(_spread(ok, n_ok) + _spread(failed, n_failed))


def _spread(items: list[int], n: int) -> list[int]:
    if n <= 0:
        return []
    step = len(items) / n
    return [items[int(step * k + step / 2)] for k in range(n)]


def _synth_naive(ws: Workspace, sample: Sample, row: _Naive) -> None:
    """``cdk synth`` without the Node CLI: a fresh python on the entry, with what the CLI passes."""
    plan = plan_entry(Path(ws.root), ws.answer_files, sample.entry_file)
    assert plan.path is not None
    outdir = Path(ws.root) / "cdk.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DUMMY_ENV)
    env["PYTHONPATH"] = ws.root
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps({**ws.context, **CLI_CONTEXT})
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "1"
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, plan.path],
            cwd=ws.root,
            env=env,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
        row.synth_ok = proc.returncode == 0
    except subprocess.TimeoutExpired:
        row.synth_ok = False
    row.synth_seconds = time.monotonic() - t0
    row.templates = len(list(outdir.glob("*.template.json"))) if outdir.is_dir() else 0
    row.synth_ok = row.synth_ok and row.templates > 0


def _lint_naive(ws: Workspace, row: _Naive) -> None:
    """``cfn-lint cdk.out/*.template.json``: a fresh cfn-lint CLI on what synth wrote (if anything)."""
    row.lint_seconds = _lint_cli(Path(ws.root) / "cdk.out")


def _lint_cli(outdir: Path) -> float:
    """Seconds of a fresh cfn-lint CLI on the templates in ``outdir`` (0 when there are none)."""
    templates = sorted(str(p) for p in outdir.glob("*.template.json"))
    if not templates:
        return 0.0
    cli = Path(sys.executable).with_name("cfn-lint")
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "cfnlint"]
    t0 = time.monotonic()
    try:
        subprocess.run([*cmd, "--", *templates], capture_output=True, timeout=_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pass
    return time.monotonic() - t0


def _lint_batch(templates: list[str], workers: int) -> float:
    """``cfn-lint`` over every template at once, split over ``workers`` processes."""
    cli = Path(sys.executable).with_name("cfn-lint")
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "cfnlint"]
    groups = [templates[k::workers] for k in range(workers) if templates[k::workers]]
    t0 = time.monotonic()
    procs = [
        subprocess.Popen([*cmd, "--", *g], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for g in groups
    ]
    for p in procs:
        try:
            p.wait(timeout=_TIMEOUT * 5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return time.monotonic() - t0


def _parallel(fn: Callable[[int], None], indexes: list[int], workers: int) -> float:
    t0 = time.monotonic()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(fn, indexes))
    return time.monotonic() - t0


def _command(args: list[str]) -> tuple[float, dict[str, Any]]:
    """Wall time of one ``iacgrade`` command (a fresh process, as a user runs it) and its --json."""
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=_ROOT, capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - t0
    summary: dict[str, Any] = {}
    if proc.returncode == 0 and "--json" in args:
        try:
            summary = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            pass
    elif proc.returncode != 0:
        print(f"  iacgrade {args[0]} exited {proc.returncode}: {proc.stderr.strip()[-400:]}", file=sys.stderr)
    return wall, summary


def _cached_command(grade: list[str], work: Path) -> tuple[float, dict[str, Any]]:
    """The cached re-grade, three times into fresh folders: its median wall time and a summary.

    One run takes about a second, so a single sample on a busy machine says as much about the
    machine as about the command; the cold run it is compared with is long enough to be run once."""
    runs = [_command([*grade, "--out", str(work / f"cached-{i}")]) for i in range(3)]
    walls = sorted(wall for wall, _ in runs)
    return walls[1], runs[-1][1]


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--subset", type=int, default=12, help="answers to run the naive way")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N answers (for a quick try)")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="iacgrade-bench-"))
    tasks = sorted(p for p in args.corpus.iterdir() if p.is_dir())
    samples = [s for s in discover(tasks) if s.status == "ok" and s.role in ("ideal", "model")]
    samples.sort(key=lambda s: s.sample_id)
    if args.limit:
        samples = samples[: args.limit]
    kinds = {kind_of_metadata(s.metadata) for s in samples}
    if kinds and all(k is not None and isinstance(KINDS.get(k), CloudFormation) for k in kinds):
        return bench_cloudformation(args, tasks, samples, work)
    # An answer whose task has no metadata (a stray folder) is graded as its corpus's kind.
    named = kinds - {None}
    if named and all(type(KINDS.get(k or "")) is CdkTypeScript for k in named):
        return bench_typescript(args, tasks, samples, work)
    prepared = prepare_workspaces(samples, work)
    n, w = len(prepared), args.workers
    print(f"corpus: {n} answers ({len(tasks)} tasks, ideal + model), {w} workers, cpus {os.cpu_count()}")

    print(f"[1/4] warm pool + cfn-lint ... ({_load()})", flush=True)
    warm_lint = _warm(prepared, work, w, lint=True)
    print(f"[2/4] warm pool, no lint ... ({_load()})", flush=True)
    warm_nolint = _warm(prepared, work, w, lint=False)

    ok = [r.status == "ok" for r in warm_lint.results]
    runnable = [
        (i, ok[i])
        for i, (s, ws) in enumerate(prepared)
        if plan_entry(Path(ws.root), ws.answer_files, s.entry_file).kind in ("answer", "scaffold")
    ]
    picked = _pick(runnable, args.subset, sum(ok) / max(1, n))
    rows = {i: _Naive(prepared[i][0].sample_id, ok[i]) for i in picked}
    print(f"[3/4] naive, {len(picked)} answers, {w} at a time ... ({_load()})", flush=True)
    synth_wall = _parallel(lambda i: _synth_naive(prepared[i][1], prepared[i][0], rows[i]), picked, w)
    lint_wall = _parallel(lambda i: _lint_naive(prepared[i][1], rows[i]), picked, w)
    batch_wall = _lint_batch(
        sorted(
            str(p) for i in picked for p in (Path(prepared[i][1].root) / "cdk.out").glob("*.template.json")
        ),
        w,
    )
    print(f"[4/4] iacgrade grade, cold then cached, and --help ... ({_load()})", flush=True)
    # The whole corpus; with --limit, the task folders of the answers kept.
    roots = sorted({s.task_root for s in samples if s.task_root}) if args.limit else [str(args.corpus)]
    grade = [
        "grade",
        *roots,
        "--workers",
        str(w),
        "--quiet",
        "--json",
        "--cache-dir",
        str(work / "cache"),
    ]
    cold_wall, cold = _command([*grade, "--out", str(work / "cold")])
    cached_wall, cached = _cached_command(grade, work)
    help_wall = min(_command(["--help"])[0] for _ in range(3))
    print(f"done ({_load()})\n")

    k = max(1, len(picked))
    naive_lint_per = (synth_wall + lint_wall) / k
    naive_synth_per = synth_wall / k
    naive_batch_per = (synth_wall + batch_wall) / k
    n_ok = sum(ok)
    print(f"warm synth ok: {n_ok}/{n} answers ({n_ok / max(1, n):.0%})")
    print(
        f"naive subset: {len(picked)} of {len(runnable)} answers with an entry of their own or the scaffold's;"
        f" {sum(r.warm_ok for r in rows.values())} ok in the warm run, {sum(not r.warm_ok for r in rows.values())}"
        f" failed; naive synth ok: {sum(r.synth_ok for r in rows.values())}, linted: "
        f"{sum(r.templates > 0 for r in rows.values())} ({sum(r.templates for r in rows.values())} templates)"
    )
    print("  " + ", ".join(f"{r.sample_id}{'' if r.warm_ok else ' (failed)'}" for r in rows.values()))
    print()
    print("seconds per answer = wall time of the phase / answers in it; both sides use the same worker count")
    print(f"                                       {'warm pool':>11} {'naive':>9} {'ratio':>7}")
    print(
        f"(i)  synth + cfn-lint                   {warm_lint.per_answer:>9.2f} s {naive_lint_per:>7.2f} s"
        f" {naive_lint_per / warm_lint.per_answer:>6.1f}x"
    )
    print(
        f"(i') synth + cfn-lint, naive in a batch {warm_lint.per_answer:>9.2f} s {naive_batch_per:>7.2f} s"
        f" {naive_batch_per / warm_lint.per_answer:>6.1f}x"
    )
    print(
        f"(ii) synth only                         {warm_nolint.per_answer:>9.2f} s {naive_synth_per:>7.2f} s"
        f" {naive_synth_per / warm_nolint.per_answer:>6.1f}x"
    )
    print(
        f"     warm: whole corpus ({n} answers), worker start-up included: "
        f"{warm_lint.wall:.1f} s with lint, {warm_nolint.wall:.1f} s without"
    )
    print(
        f"     naive: the subset, {w} processes at a time: {synth_wall:.1f} s python"
        f" + {lint_wall:.1f} s cfn-lint CLI once per answer (or {batch_wall:.1f} s in one batch)"
    )

    # The same answers, one at a time: what each answer costs on a worker that is already warm.
    same = [
        (warm_lint.results[i], warm_nolint.results[i], rows[i])
        for i in picked
        if warm_lint.results[i].worker.warm and warm_nolint.results[i].worker.warm
    ]
    if same:
        jl = _mean([a.seconds for a, _, _ in same])
        jn = _mean([b.seconds for _, b, _ in same])
        nl = _mean([r.synth_seconds + r.lint_seconds for _, _, r in same])
        ns = _mean([r.synth_seconds for _, _, r in same])
        print()
        print(
            f"same {len(same)} answers, mean seconds per answer on one worker (warm job time vs naive process time):"
        )
        print(f"(i)  synth + cfn-lint                   {jl:>9.2f} s {nl:>7.2f} s {nl / jl:>6.1f}x")
        print(f"(ii) synth only                         {jn:>9.2f} s {ns:>7.2f} s {ns / jn:>6.1f}x")
    lint_job = sorted(
        r.worker.timing["lint"] for r in warm_lint.results if r.status == "ok" and r.worker.timing is not None
    )
    if lint_job:
        print(
            f"\nin-worker cfn-lint per ok answer: median {lint_job[len(lint_job) // 2]:.2f} s, mean {_mean(lint_job):.2f} s"
        )

    graded = int(cold.get("samples") or 0)
    per_answer = cold_wall / graded if graded else float("nan")
    vs_naive = naive_lint_per / warm_lint.per_answer
    speedup = cold_wall / cached_wall if cached_wall else float("nan")
    print(
        f"\ncommand: cold {cold_wall:.1f} s for {graded} answers ({cold.get('synth_ok', '?')} synth ok),"
        f" cached {cached_wall:.2f} s (median of 3; {cached.get('cache_hits', '?')} cache hits),"
        f" iacgrade --help {help_wall:.2f} s (best of 3: the start-up floor)"
    )
    print("\ntargets (issue 14), all from this run:")
    print(
        f"(a) warm pool + cfn-lint vs naive, per answer    {vs_naive:>7.1f}x  target >= {_TARGET_VS_NAIVE:g}x"
        f"   {_verdict(vs_naive >= _TARGET_VS_NAIVE)}"
    )
    print(
        f"(b) seconds per answer, whole corpus, cold command {per_answer:>5.2f} s  target <= {_TARGET_PER_ANSWER:g} s"
        f"  {_verdict(per_answer <= _TARGET_PER_ANSWER)}"
        f"   (warm pool alone: {warm_lint.per_answer:.2f} s {_verdict(warm_lint.per_answer <= _TARGET_PER_ANSWER)})"
    )
    print(
        f"(c) cached re-grade vs cold command              {speedup:>7.1f}x  target >= {_TARGET_CACHED:g}x"
        f"   {_verdict(speedup >= _TARGET_CACHED)}"
    )
    return 0


# ---- CloudFormation -------------------------------------------------------------------------------
@dataclass
class _CfnAnswer:
    sample: Sample
    extraction: Extraction
    templates: list[str]  # paths of the extraction's template files
    synth: SynthResult | None = None
    naive_seconds: float = 0.0


def _cfn_build(answers: list[_CfnAnswer], work: Path, workers: int) -> tuple[float, list[str]]:
    """Every answer through its kind's build (parse + cfn-lint on the warm parse pool), ``workers``
    at a time, as the pipeline runs it; the wall time (pool start-up included) and the services started."""
    settings = BuildSettings(
        timeout=_TIMEOUT, scratch_mb=64, isolation="warm", require_sandbox=False, workers=workers
    )
    services = Services(settings)
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(workers) as ex:

            def one(a: _CfnAnswer) -> None:
                name = a.sample.sample_id.replace("/", "__")
                kind = KINDS[kind_of_metadata(a.sample.metadata) or "cloudformation-yaml"]
                out = work / "cfn-out" / name
                out.mkdir(parents=True, exist_ok=True)
                a.synth = kind.build(a.sample, a.extraction, work / "cfn-ws" / name, out, services).synth

            list(ex.map(one, answers))
        started = sorted(services._started)  # noqa: SLF001  (the pools the builds started)
    finally:
        services.close()
    return time.monotonic() - t0, started


def _cfn_lint_cli(answer: _CfnAnswer, work: Path) -> None:
    """What a user without iacgrade runs: the template saved to a file, ``cfn-lint`` on it (once per
    template, a fresh CLI each time) with the task's region."""
    cli = Path(sys.executable).with_name("cfn-lint")
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "cfnlint"]
    folder = work / "naive" / answer.sample.sample_id.replace("/", "__")
    by_path = {f.path: f for f in answer.extraction.files}
    region = task_region(answer.sample)
    t0 = time.monotonic()
    for path in answer.templates:
        target = folder / Path(path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(by_path[path].content, encoding="utf-8")
        try:
            subprocess.run(
                [*cmd, "--regions", region, "--", str(target)],
                capture_output=True,
                timeout=_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pass
    answer.naive_seconds = time.monotonic() - t0


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes (and theirs) of this process."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_cloudformation(
    args: argparse.Namespace, tasks: list[Path], samples: list[Sample], work: Path
) -> int:
    """The CloudFormation bench: warm parse pool vs the cfn-lint CLI, and the whole command."""
    w = args.workers
    answers: list[_CfnAnswer] = []
    for s in samples:
        text = read_answer(s)
        if text is None:
            continue
        extraction = extract_files(text)
        kind = KINDS[kind_of_metadata(s.metadata) or "cloudformation-yaml"]
        answers.append(_CfnAnswer(s, extraction, [f.path for f in kind.code_files(extraction)]))
    n = len(answers)
    kinds = sorted({kind_of_metadata(a.sample.metadata) or "?" for a in answers})
    print(
        f"corpus: {n} answers ({len(tasks)} tasks, ideal + model), kind {', '.join(kinds)},"
        f" {w} workers, cpus {os.cpu_count()}"
    )
    print(f"[1/3] parse + cfn-lint on the warm parse pool, every answer ... ({_load()})", flush=True)
    build_wall, started = _cfn_build(answers, work, w)
    ok = [a.synth is not None and a.synth.status == "ok" for a in answers]
    with_template = [(i, ok[i]) for i, a in enumerate(answers) if a.templates]
    picked = _pick(with_template, args.subset, sum(ok) / max(1, len(with_template)))
    n_templates = sum(len(answers[i].templates) for i in picked)
    print(
        f"[2/3] naive: cfn-lint CLI once per template, {len(picked)} answers ({n_templates} templates),"
        f" {w} at a time ... ({_load()})",
        flush=True,
    )
    naive_wall = _parallel(lambda i: _cfn_lint_cli(answers[i], work), picked, w)
    print(f"[3/3] iacgrade grade, cold then cached, and --help ... ({_load()})", flush=True)
    roots = sorted({s.task_root for s in samples if s.task_root}) if args.limit else [str(args.corpus)]
    grade = ["grade", *roots, "--workers", str(w), "--quiet", "--json", "--cache-dir", str(work / "cache")]
    cpu0 = _children_cpu()
    cold_wall, cold = _command([*grade, "--out", str(work / "cold")])
    cold_cpu = _children_cpu() - cpu0
    cached_wall, cached = _cached_command(grade, work)
    help_wall = min(_command(["--help"])[0] for _ in range(3))
    print(f"done ({_load()})\n")

    sandboxed = sum(
        1 for a in answers if a.synth is not None and (a.synth.isolation or a.synth.worker.id is not None)
    )
    per_build = build_wall / max(1, n)
    naive_per = naive_wall / max(1, len(picked))
    warm_same = _mean([a.synth.seconds for i in picked if (a := answers[i]).synth is not None])
    naive_same = _mean([answers[i].naive_seconds for i in picked])
    statuses = {
        st: sum(1 for a in answers if a.synth and a.synth.status == st) for st in ("ok", "failed", "skipped")
    }
    print(
        f"parse: {statuses['ok']} ok, {statuses['failed']} failed, {statuses['skipped']} with no template"
        f" ({n} answers); services started: {', '.join(started) or 'none'}; answers that used a sandbox"
        f" worker: {sandboxed}"
    )
    print(
        "naive subset: "
        + ", ".join(f"{answers[i].sample.sample_id}{'' if ok[i] else ' (failed)'}" for i in picked)
    )
    print()
    print("seconds per answer = wall time of the phase / answers in it; both sides use the same worker count")
    print(f"                                       {'warm pool':>11} {'naive':>9} {'ratio':>7}")
    print(
        f"(i)  parse + cfn-lint                   {per_build:>9.3f} s {naive_per:>7.2f} s"
        f" {naive_per / per_build:>6.1f}x"
    )
    print(
        f"(ii) same {len(picked)} answers, one at a time   {warm_same:>9.3f} s {naive_same:>7.2f} s"
        f" {naive_same / warm_same:>6.1f}x   (job time on a warm worker vs the CLI's process time)"
    )
    graded = int(cold.get("samples") or 0)
    per_answer = cold_wall / graded if graded else float("nan")
    speedup = cold_wall / cached_wall if cached_wall else float("nan")
    print(
        f"\ncommand: cold {cold_wall:.1f} s for {graded} answers ({cold.get('synth_ok', '?')} parsed),"
        f" cached {cached_wall:.2f} s (median of 3; {cached.get('cache_hits', '?')} cache hits),"
        f" iacgrade --help {help_wall:.2f} s (best of 3: the start-up floor)"
    )
    cpu_per = cold_cpu / graded if graded else float("nan")
    print(
        f"         CPU (the command and its workers) {cpu_per:.3f} s per answer: on {w} idle cores about"
        f" {cpu_per / w:.3f} s per answer, whatever else the machine runs"
    )
    print("\ntargets (issue 11), all from this run:")
    print(
        f"(a) seconds per answer, whole corpus, cold command {per_answer:>6.3f} s  target <= "
        f"{_TARGET_CFN_PER_ANSWER:g} s  {_verdict(per_answer <= _TARGET_CFN_PER_ANSWER)}"
        f"   (parse pool alone: {per_build:.3f} s {_verdict(per_build <= _TARGET_CFN_PER_ANSWER)})"
    )
    print(
        f"(b) no sandbox started                            {sandboxed:>6d}    target 0"
        f"        {_verdict(sandboxed == 0 and not set(started) - {'cfn-parse'})}"
    )
    print(
        f"    warm parse pool vs naive cfn-lint CLI, per answer {naive_per / per_build:.1f}x;"
        f" cached re-grade vs cold command {speedup:.1f}x"
    )
    return 0


# ---- CDK TypeScript -------------------------------------------------------------------------------
# The naive project's tsconfig.json: the compiler options of `cdk init app --language typescript`,
# the same the warm worker's compiler pass checks against (cdk_node_worker.js, CHECK); the answer's
# own tsconfig.json is replaced, as the kind does not use it either.
_CDK_INIT_TSCONFIG = {
    "compilerOptions": {
        "target": "ES2022",
        "module": "commonjs",
        "lib": ["es2022"],
        "strict": True,
        "noImplicitAny": True,
        "strictNullChecks": True,
        "noImplicitThis": True,
        "alwaysStrict": True,
        "noImplicitReturns": True,
        "noFallthroughCasesInSwitch": False,
        "inlineSourceMap": True,
        "experimentalDecorators": True,
        "strictPropertyInitialization": False,
        "esModuleInterop": True,
        "skipLibCheck": True,
        "types": ["node"],
        "typeRoots": ["./node_modules/@types"],
    },
    "exclude": ["node_modules", "cdk.out"],
}
_TS_ENTRY = "bin/tap.ts"


@dataclass
class _TsAnswer:
    sample: Sample
    extraction: Extraction
    synth: SynthResult | None = None
    workspace: Workspace | None = None
    build_seconds: float = 0.0

    def timing(self, key: str) -> float | None:
        """A phase's seconds inside the worker (``synth``, ``typecheck``), if the job ran one."""
        value = (self.synth.worker.timing or {}).get(key) if self.synth else None
        return float(value) if isinstance(value, (int, float)) else None


def _ts_build(answers: list[_TsAnswer], work: Path, workers: int) -> tuple[float, list[str]]:
    """Every answer through the kind's build (warm Node pool, compiler pass, cfn-lint), ``workers``
    at a time, as the pipeline runs it; the wall time (pools started and warmed included)."""
    settings = BuildSettings(
        timeout=TIMEOUT_S, scratch_mb=SCRATCH_MB, isolation="warm", require_sandbox=False, workers=workers
    )
    services = Services(settings)
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(workers) as ex:

            def one(a: _TsAnswer) -> None:
                name = a.sample.sample_id.replace("/", "__")
                kind = KINDS[kind_of_metadata(a.sample.metadata) or "cdk-typescript"]
                out = work / "ts-out" / name
                out.mkdir(parents=True, exist_ok=True)
                t = time.monotonic()
                built = kind.build(a.sample, a.extraction, work / "ts-ws" / name, out, services)
                a.build_seconds = time.monotonic() - t
                a.synth, a.workspace = built.synth, built.workspace

            list(ex.map(one, answers))
        started = sorted(services._started)  # noqa: SLF001  (the pools the builds started)
    finally:
        services.close()
    return time.monotonic() - t0, started


def _ts_naive(answer: _TsAnswer, work: Path, row: _Naive) -> None:
    """What a user without iacgrade runs: the project (the answer over the scaffold, as the kind laid
    it) with ``node_modules`` from the toolchain and cdk init's tsconfig.json, then ``npx ts-node
    --prefer-ts-exts bin/tap.ts`` with what the CDK CLI passes, then ``cfn-lint`` on its templates."""
    assert answer.workspace is not None
    ws = answer.workspace
    project = work / "ts-naive" / answer.sample.sample_id.replace("/", "__")
    shutil.copytree(ws.root, project, ignore=shutil.ignore_patterns("cdk.out", "node_modules"))
    (project / "node_modules").symlink_to(NODE_TOOLCHAIN / "node_modules")
    (project / "tsconfig.json").write_text(json.dumps(_CDK_INIT_TSCONFIG, indent=2), encoding="utf-8")
    outdir = work / "ts-naive-out" / project.name
    outdir.mkdir(parents=True)
    context = KINDS["cdk-typescript"].job(ws, answer.extraction)["context"]  # type: ignore[attr-defined]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DUMMY_ENV)
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps(context)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            ["npx", "--no", "--", "ts-node", "--prefer-ts-exts", _TS_ENTRY],
            cwd=project,
            env=env,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
        row.synth_ok = proc.returncode == 0
    except subprocess.TimeoutExpired:
        row.synth_ok = False
    row.synth_seconds = time.monotonic() - t0
    row.templates = len(list(outdir.glob("*.template.json")))
    row.synth_ok = row.synth_ok and row.templates > 0
    row.lint_seconds = _lint_cli(outdir)


# A warm job's phases as the Node worker times them (cdk_node_worker.js, `timing`): run includes transpile.
_TS_PHASES = (
    ("copy", "copy the job's files in"),
    ("transpile", "transpile (TypeScript to CommonJS)"),
    ("run", "run the app (constructs; transpile incl.)"),
    ("app_synth", "App.synth()"),
    ("collect", "read the cloud assembly"),
    ("reset", "forget modules, env, cwd, timers"),
    ("program", "compiler: create the program"),
    ("diagnostics", "compiler: diagnostics of the answer"),
    ("scratch", "empty /tmp and /out"),
    ("tamper", "tamper check"),
    ("gc", "full collection (heap past the recycle mark)"),
    ("cpu_synth", "CPU seconds up to the compiler pass"),
    ("cpu", "CPU seconds of the whole job"),
)


def _print_phases(warm: list[_TsAnswer]) -> None:
    """Where a warm job's time goes: each phase's median and mean over the jobs that ran it."""
    print("  where a warm job's time goes (jobs that ran the phase)")
    for key, label in _TS_PHASES:
        values = [t for a in warm if (t := a.timing(key)) is not None]
        if values:
            print(f"    {label:<44} {_median(values):>8.3f} {_mean(values):>8.3f}  ({len(values)})")


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench_typescript(args: argparse.Namespace, tasks: list[Path], samples: list[Sample], work: Path) -> int:
    """The CDK TypeScript bench: the kind's warm Node pool vs ``npx ts-node`` + the cfn-lint CLI."""
    w = args.workers
    answers = [_TsAnswer(s, extract_files(text)) for s in samples if (text := read_answer(s)) is not None]
    n = len(answers)
    ts_node = NODE_TOOLCHAIN / "node_modules" / ".bin" / "ts-node"
    if not ts_node.exists():
        print(f"ts-node is not in {NODE_TOOLCHAIN}: run `make install` (it is in the lock)", file=sys.stderr)
        return 2
    print(f"corpus: {n} answers ({len(tasks)} tasks, ideal + model), {w} workers, cpus {os.cpu_count()}")
    print(
        f"[1/2] the kind's build: warm Node pool (synth, compiler pass) + cfn-lint, every answer ... ({_load()})",
        flush=True,
    )
    build_wall, started = _ts_build(answers, work, w)
    ok = [a.synth is not None and a.synth.status == "ok" for a in answers]
    runnable = [
        (i, ok[i])
        for i, a in enumerate(answers)
        if a.workspace is not None and _TS_ENTRY in a.workspace.files
    ]
    picked = _pick(runnable, args.subset, sum(ok) / max(1, n))
    rows = {i: _Naive(answers[i].sample.sample_id, ok[i]) for i in picked}
    print(
        f"[2/2] naive: npx ts-node --prefer-ts-exts {_TS_ENTRY} + cfn-lint CLI, {len(picked)} answers,"
        f" {w} at a time ... ({_load()})",
        flush=True,
    )
    naive_wall = _parallel(lambda i: _ts_naive(answers[i], work, rows[i]), picked, w)
    print(f"done ({_load()})\n")

    ran = [a for a in answers if a.synth is not None and a.synth.worker.timing]
    warm = [a for a in ran if a.synth is not None and a.synth.worker.warm]
    synth_s = [t for a in warm if (t := a.timing("synth")) is not None]
    check_s = [t for a in warm if (t := a.timing("typecheck")) is not None]
    job_s = [a.synth.seconds for a in warm if a.synth is not None]
    build_s = [a.build_seconds for a in warm]
    statuses = {
        st: sum(1 for a in answers if a.synth and a.synth.status == st) for st in ("ok", "failed", "skipped")
    }
    with_diag = sum(1 for a in answers if a.synth and a.synth.diagnostics)
    print(
        f"warm build: {statuses['ok']} synth ok, {statuses['failed']} failed, {statuses['skipped']} skipped"
        f" ({n} answers); {with_diag} with compiler diagnostics; services started: {', '.join(started)};"
        f" {len(ran)} jobs ran on a worker, {len(ran) - len(warm)} of them the first on a fresh worker"
        f" (left out of the medians below)"
    )
    recycled: dict[str, int] = {}
    for a in ran:
        if a.synth is not None and a.synth.worker.recycled:
            why = a.synth.worker.recycled
            why = str(why[0] if isinstance(why, list) and why else why)[:90]
            recycled[why] = recycled.get(why, 0) + 1
    if recycled:
        print("workers recycled after a job: " + "; ".join(f"{v} x {k}" for k, v in sorted(recycled.items())))
    print(
        f"naive subset: {len(picked)} of {len(runnable)} answers with {_TS_ENTRY};"
        f" {sum(r.warm_ok for r in rows.values())} ok in the warm run, {sum(not r.warm_ok for r in rows.values())}"
        f" failed; ts-node ok: {sum(r.synth_ok for r in rows.values())} (it stops at a type error), linted: "
        f"{sum(r.templates > 0 for r in rows.values())} ({sum(r.templates for r in rows.values())} templates)"
    )
    print("  " + ", ".join(f"{r.sample_id}{'' if r.warm_ok else ' (failed)'}" for r in rows.values()))
    print()
    print(f"seconds per answer on a warm worker ({len(warm)} jobs)    {'median':>8} {'mean':>8}")
    print(f"  warm synth (transpile + run the app + synth)   {_median(synth_s):>8.3f} {_mean(synth_s):>8.3f}")
    print(
        f"  compiler pass (type check, {len(check_s)} jobs)          {_median(check_s):>8.3f} {_mean(check_s):>8.3f}"
    )
    print(f"  job (copy + synth + compiler pass)             {_median(job_s):>8.3f} {_mean(job_s):>8.3f}")
    print(f"  build (job + cfn-lint), wall                   {_median(build_s):>8.3f} {_mean(build_s):>8.3f}")
    lint_s = [a.build_seconds - a.synth.seconds for a in warm if a.synth is not None and a.synth.templates]
    print(
        f"  cfn-lint and the rest of the build ({len(lint_s)} with templates) {_median(lint_s):>6.3f} {_mean(lint_s):>8.3f}"
        f"   ({_mean(lint_s) * len(lint_s) / max(1e-9, sum(build_s)):.0%} of all builds' time)"
    )
    _print_phases(warm)
    naive_synth = [r.synth_seconds for r in rows.values()]
    naive_lint = [r.lint_seconds for r in rows.values()]
    naive_both = [r.synth_seconds + r.lint_seconds for r in rows.values()]
    print(f"naive, per answer ({len(rows)} answers)")
    print(
        f"  npx ts-node --prefer-ts-exts {_TS_ENTRY}        {_median(naive_synth):>8.2f} {_mean(naive_synth):>8.2f}"
    )
    print(
        f"  cfn-lint CLI (0 when ts-node wrote nothing)    {_median(naive_lint):>8.2f} {_mean(naive_lint):>8.2f}"
    )
    print(
        f"  both                                           {_median(naive_both):>8.2f} {_mean(naive_both):>8.2f}"
    )
    print()
    warm_per = build_wall / max(1, n)
    naive_per = naive_wall / max(1, len(picked))
    print(
        "wall seconds per answer = wall time of the phase / answers in it; both sides on the same worker count"
    )
    print(f"                                       {'warm pool':>11} {'naive':>9} {'ratio':>7}")
    print(
        f"(i)  synth + compiler + cfn-lint        {warm_per:>9.3f} s {naive_per:>7.2f} s {naive_per / warm_per:>6.1f}x"
    )
    same = [(answers[i], rows[i]) for i in picked if (r := answers[i].synth) is not None and r.worker.warm]
    if same:
        jw = _mean([a.build_seconds for a, _ in same])
        jn = _mean([r.synth_seconds + r.lint_seconds for _, r in same])
        print(
            f"(ii) same {len(same)} answers, one at a time   {jw:>9.3f} s {jn:>7.2f} s {jn / jw:>6.1f}x"
            "   (build on a warm worker vs ts-node + cfn-lint process time)"
        )
    print(
        f"     warm: whole corpus ({n} answers) in {build_wall:.1f} s, pools started and warmed included;"
        f" naive: {len(picked)} answers in {naive_wall:.1f} s"
    )
    synth_med, check_med, vs_naive = _median(synth_s), _median(check_s), naive_per / warm_per
    print("\ntargets (issue 12), all from this run:")
    print(
        f"(a) warm synth per answer, median                {synth_med:>7.3f} s  target <= {_TARGET_TS_SYNTH:g} s"
        f"   {_verdict(synth_med <= _TARGET_TS_SYNTH)}"
    )
    print(
        f"(b) compiler pass per answer warm, median        {check_med:>7.3f} s  target <= {_TARGET_TS_COMPILER:g} s"
        f"    {_verdict(check_med <= _TARGET_TS_COMPILER)}"
    )
    print(
        f"(c) warm pool + cfn-lint vs ts-node + cfn-lint   {vs_naive:>7.1f}x   target >= {_TARGET_VS_NAIVE:g}x"
        f"     {_verdict(vs_naive >= _TARGET_VS_NAIVE)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
