"""Memory of one warm CDK Python synth worker over its life: does it grow job after job?

    .venv/bin/python scripts/worker_memory.py --corpus ../shared/corpus/cdk-py [--jobs 200] [--no-lint]
        [--only SAMPLE_ID]

Prepares every answer of the corpus (ideal and model: ingest, extract, assemble, as scripts/bench.py
does), then runs them one after the other, repeating the corpus until ``--jobs`` worker jobs have
run, through a ``SynthPool`` with one worker and cfn-lint on (what ``iacgrade grade`` runs). The
job limit of the worker is set above ``--jobs`` so that it is not recycled during the measure.
An answer may take several jobs (fallbacks); the worker's own job count is what is reported.

After each answer, reads from /proc the process tree under the worker's bwrap process: the
worker (the Python process running graders/sandbox/worker.py) and its jsii Node child. Inside
bwrap the pid namespace differs, but the host sees both as descendants of the bwrap pid. For each
it records VmRSS (resident), VmData (what RLIMIT_DATA, the sandbox's ``memory_mb``, counts, per
process) and VmHWM (the peak resident size so far, which catches what a job held while it ran).

Prints each process's RLIMIT_DATA as /proc shows it, then a table at 1, 10, 50, 100, 150, 200 and
``--jobs`` jobs (the nearest sample at or after each),
then the growth per job of each measure (least squares over the samples after the first 10 jobs,
so that first-use caches do not count as growth), how many MB that growth adds over the worker's
job limit, the share of ``memory_mb`` each process holds at the end, each process's peak and the
largest VmData step one answer caused after the first 10 jobs (with its sample id: ``--only`` runs
that answer alone, job after job, for the worst case of a big answer). A worker that dies or is replaced during the measure is
reported, and the measure continues on the new one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import prepare_workspaces  # noqa: E402

from iacgrade.graders.ingest import discover  # noqa: E402
from iacgrade.graders.sandbox import SandboxOptions, SynthPool  # noqa: E402

_MARKS = (1, 10, 50, 100, 150, 200)
_FIELDS = ("VmRSS", "VmData", "VmHWM")


@dataclass
class _Sample:
    jobs: int
    seconds: float
    worker: dict[str, int]  # VmRSS / VmData in kB
    node: dict[str, int]
    status: str
    sample_id: str


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc/<pid>/stat (its 4th field is the parent)."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _descendants(root: int) -> list[int]:
    kids = _children()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def _status(pid: int) -> dict[str, int]:
    """The process's VmRSS, VmData and VmHWM (peak RSS) in kB; empty when it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    out: dict[str, int] = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in _FIELDS:
            out[key] = int(value.split()[0])
    return out


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def tree_memory(root: int) -> tuple[dict[str, int], dict[str, int]]:
    """(worker, node) memory under the bwrap pid ``root``: the process running worker.py (the
    largest such one) and the largest ``node`` process below it, each with its host ``pid``."""
    worker: dict[str, int] = {}
    node: dict[str, int] = {}
    for pid in _descendants(root):
        name = _name(pid)
        if name == "node" or name.startswith("node"):
            mem = {**_status(pid), "pid": pid}
            if mem.get("VmRSS", 0) > node.get("VmRSS", 0):
                node = mem
        elif "worker" in _cmdline(pid) and name.startswith("python"):
            mem = {**_status(pid), "pid": pid}
            if mem.get("VmRSS", 0) > worker.get("VmRSS", 0):
                worker = mem
    return worker, node


def data_limit(pid: int) -> str:
    """The soft RLIMIT_DATA of ``pid`` in MB, as /proc/<pid>/limits shows it."""
    try:
        lines = Path(f"/proc/{pid}/limits").read_text().splitlines()
    except OSError:
        return "?"
    for line in lines:
        if line.startswith("Max data size"):
            soft = line[len("Max data size") :].split()[0]
            return soft if not soft.isdigit() else f"{int(soft) // (1024 * 1024)} MB"
    return "?"


def _mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:7.0f}"


def _slope(points: list[tuple[int, int]]) -> float:
    """Least-squares kB per job."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--jobs", type=int, default=200, help="worker jobs to run (the corpus is repeated)")
    ap.add_argument("--no-lint", action="store_true", help="cfn-lint off (it is on in iacgrade grade)")
    ap.add_argument(
        "--only", help="run only this answer (a sample id), job after job: the worst case of a big one"
    )
    args = ap.parse_args(argv)
    tasks = sorted(p for p in args.corpus.iterdir() if p.is_dir())
    samples = [s for s in discover(tasks) if s.status == "ok" and s.role in ("ideal", "model")]
    samples.sort(key=lambda s: s.sample_id)
    if args.only:
        samples = [s for s in samples if s.sample_id == args.only]
    work = Path(tempfile.mkdtemp(prefix="iacgrade-wmem-"))
    prepared = prepare_workspaces(samples, work)
    if not prepared:
        print("no answers found", file=sys.stderr)
        return 2
    opts = SandboxOptions(workers=1, lint=not args.no_lint, max_jobs_per_worker=args.jobs + 1000)
    print(
        f"{len(prepared)} answers, {args.jobs} jobs on 1 worker, lint {'off' if args.no_lint else 'on'}, "
        f"memory_mb {opts.memory_mb}, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    rows: list[_Sample] = []
    done = 0  # jobs of the workers replaced during the measure
    t0 = time.monotonic()
    with SynthPool(opts) as pool:
        w = pool._workers[0]  # one worker: its process tree is what is measured
        pid = None
        i = 0
        while not rows or rows[-1].jobs < args.jobs:
            s, ws = prepared[i % len(prepared)]
            i += 1
            out = work / "out" / str(i)
            out.mkdir(parents=True)
            result = pool.synthesize(ws, s, out)
            if w.proc is None:
                print(f"  worker gone after answer {i} ({result.worker}); stopping", flush=True)
                break
            if pid is not None and w.proc.pid != pid:
                done = rows[-1].jobs
                print(f"  worker replaced after job {done} ({result.worker})", flush=True)
            pid = w.proc.pid
            worker, node = tree_memory(pid)
            if not rows:
                print(
                    f"  RLIMIT_DATA: worker {data_limit(worker.get('pid', 0))}, "
                    f"node {data_limit(node.get('pid', 0))}",
                    flush=True,
                )
            rows.append(
                _Sample(done + w.jobs, time.monotonic() - t0, worker, node, result.status, s.sample_id)
            )
            if len(rows) % 20 == 0:
                print(
                    f"  {done + w.jobs} jobs, {time.monotonic() - t0:.0f} s: worker {_mb(worker.get('VmRSS'))} MB, "
                    f"node {_mb(node.get('VmRSS'))} MB",
                    flush=True,
                )
    shutil.rmtree(work, ignore_errors=True)
    _report(rows, args.jobs, opts)
    return 0


def _report(rows: list[_Sample], jobs: int, opts: SandboxOptions) -> None:
    if not rows:
        return
    print()
    print(f"{'jobs':>5} {'secs':>6}  {'worker RSS':>10} {'VmData':>7}  {'node RSS':>8} {'VmData':>7}   (MB)")
    for mark in sorted({*_MARKS, jobs}):
        row = next((r for r in rows if r.jobs >= mark), None)
        if row is None:
            continue
        print(
            f"{row.jobs:5d} {row.seconds:6.0f}  {_mb(row.worker.get('VmRSS')):>10} {_mb(row.worker.get('VmData')):>7}"
            f"  {_mb(row.node.get('VmRSS')):>8} {_mb(row.node.get('VmData')):>7}"
        )
    later = [r for r in rows if r.jobs > 10] or rows  # a short try: every sample
    limit_kb = opts.memory_mb * 1024
    print()
    print(
        f"growth per job over jobs {later[0].jobs}..{rows[-1].jobs} (least squares), and over a 200-job worker life:"
    )
    last = rows[-1]
    for proc in ("worker", "node"):
        for key in _FIELDS[:2]:
            points = [(r.jobs, getattr(r, proc)[key]) for r in later if key in getattr(r, proc)]
            slope = _slope(points)
            end = getattr(last, proc).get(key, 0)
            print(
                f"  {proc:6} {key:6}: {slope:8.1f} kB/job = {slope * 200 / 1024:6.1f} MB per 200 jobs; "
                f"at the end {end / 1024:.0f} MB = {100 * end / limit_kb:.0f}% of memory_mb"
            )
    for proc in ("worker", "node"):
        # Steps after the first 10 jobs: the first ones also load modules for good.
        steps = [
            (getattr(b, proc).get("VmData", 0) - getattr(a, proc).get("VmData", 0), b.jobs, b.sample_id)
            for a, b in zip(rows, rows[1:], strict=False)
            if b.jobs > a.jobs and b.jobs > 10
        ]
        peak = getattr(last, proc).get("VmHWM", 0)
        print(f"  {proc:6} peak RSS over its life (VmHWM) {peak / 1024:.0f} MB", end="")
        if steps:
            step, at, sample_id = max(steps)
            print(
                f"; largest VmData step of one answer after job 10: {step / 1024:.1f} MB (job {at}, {sample_id})"
            )
        else:
            print()
    failed = sum(r.status != "ok" for r in rows)
    print(f"answers run: {len(rows)} ({failed} not ok)")


if __name__ == "__main__":
    sys.exit(main())
