"""Benchmark synthesis: the warm sandboxed pool over a corpus vs the naive way on a subset.

    .venv/bin/python scripts/bench.py --corpus ../shared/corpus/cdk-py [--subset 6] [--workers 2]

Warm: ingest + extract + assemble every answer, synthesize on ``--workers`` warm workers
(worker start-up included in the wall time). Naive: a fresh ``python <entry>`` per answer in
the plain venv (no sandbox, no lint) for ``--subset`` answers spread over the corpus, the same entry the pool
chose. Prints seconds per answer for both and their ratio, all measured in this run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graders.extract import extract_files  # noqa: E402
from graders.ingest import discover, read_answer  # noqa: E402
from graders.models import Sample, SynthResult, Workspace  # noqa: E402
from graders.sandbox import SandboxOptions, SynthPool  # noqa: E402
from graders.sandbox.entry import plan_entry  # noqa: E402
from graders.workspace import assemble  # noqa: E402


def _prepare(samples: list[Sample], work: Path) -> list[tuple[Sample, Workspace]]:
    out = []
    for s in samples:
        text = read_answer(s)
        if text is None:
            continue
        ws = assemble(s, extract_files(text), work / "ws" / s.sample_id.replace("/", "__"))
        out.append((s, ws))
    return out


def _naive(ws: Workspace, sample: Sample, timeout: float) -> float:
    """A fresh ``python entry`` in the workspace, as a user would run it without the pool."""
    plan = plan_entry(Path(ws.root), ws.answer_files, sample.entry_file)
    if plan.path is None or plan.kind == "driver":
        return -1.0
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = ws.root
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "1"
    t0 = time.monotonic()
    try:
        subprocess.run(
            [sys.executable, plan.path],
            cwd=ws.root,
            env=env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pass
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--subset", type=int, default=6, help="answers to run the naive way")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N answers for the warm run")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="iacgrade-bench-"))
    tasks = sorted(p for p in args.corpus.iterdir() if p.is_dir())
    samples = [s for s in discover(tasks) if s.status == "ok" and s.kind in ("ideal", "model")]
    if args.limit:
        samples = samples[: args.limit]
    prepared = _prepare(samples, work)

    t0 = time.monotonic()
    with SynthPool(SandboxOptions(workers=args.workers)) as pool, ThreadPoolExecutor(args.workers) as ex:

        def one(item: tuple[Sample, Workspace]) -> SynthResult:
            s, ws = item
            out = work / "out" / s.sample_id.replace("/", "__")
            out.mkdir(parents=True, exist_ok=True)
            return pool.synthesize(ws, s, out)

        results = list(ex.map(one, prepared))
    warm_wall = time.monotonic() - t0
    warm_per = warm_wall / max(1, len(results))
    ok = sum(r.status == "ok" for r in results)
    job_secs = sorted(r.seconds for r in results)
    print(f"warm: {len(results)} answers, {ok} ok, {warm_wall:.1f} s wall on {args.workers} workers")
    print(
        f"      {warm_per:.2f} s/answer (wall, incl. worker start-up); median job {job_secs[len(job_secs) // 2]:.2f} s"
    )

    # Fixed subset: every k-th answer the naive way can run (no driver needed), spread over the corpus.
    runnable = [
        (i, s, ws)
        for i, (s, ws) in enumerate(prepared)
        if plan_entry(Path(ws.root), ws.answer_files, s.entry_file).kind != "driver"
    ]
    step = max(1, len(runnable) // max(1, args.subset))
    timed = [(i, _naive(ws, s, 120.0)) for i, s, ws in runnable[step // 2 :: step][: args.subset]]
    naive = [(i, t) for i, t in timed if t >= 0]
    naive_per = sum(t for _, t in naive) / max(1, len(naive))
    # Job time of the same answers on workers that were already warm (first jobs include start-up).
    same = [results[i].seconds for i, _ in naive if results[i].worker.get("warm")]
    warm_same = sum(same) / max(1, len(same))
    print(f"naive: {len(naive)} answers, {naive_per:.2f} s/answer (fresh python per answer, sequential)")
    print(f"same answers on the warm pool: {warm_same:.2f} s/answer (job time, {len(same)} on warm workers)")
    print(f"ratio, same answers, one worker each: {naive_per / max(warm_same, 1e-9):.1f}x")
    print(
        f"ratio, corpus wall per answer on {args.workers} workers vs naive: {naive_per / max(warm_per, 1e-9):.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
