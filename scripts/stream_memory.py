"""Peak memory of grading a large JSONL dataset, at two sizes, to show it stays flat with the rows.

    .venv/bin/python scripts/stream_memory.py [--corpus ../shared/corpus/cdk-py] [--rows 20000 200000]
        [--out .bench/stream-memory] [--keep]

For each size, writes a JSONL of that many rows (the corpus' answers repeated, each row with its own
id, prompt and kind), grades it with ``iacgrade grade FILE --no-synth`` in a fresh process and
samples the resident memory of that process and its children every 0.2 s. Prints, per size: rows
per second, the peak of the grading process alone and of the whole process tree, and the ratio of
the peaks between the largest and the smallest size (flat means close to 1). Repeated rows are
served from the result cache after their first grading, as they would be in a real run; every row
is still read, journaled, written to its folder and to the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iacgrade.graders.store import JOURNAL  # noqa: E402


def corpus_rows(corpus: Path) -> list[dict[str, str]]:
    rows = []
    for answer in sorted(corpus.glob("*/lib/*RESPONSE.md")):
        task = answer.parent.parent
        prompt = task / "lib" / "PROMPT.md"
        rows.append(
            {
                "id": f"{task.name}.{answer.stem}",
                "prompt": prompt.read_text(encoding="utf-8", errors="replace") if prompt.is_file() else "",
                "response": answer.read_text(encoding="utf-8", errors="replace"),
            }
        )
    return rows


def write_jsonl(rows: list[dict[str, str]], n: int, path: Path) -> int:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            row = dict(rows[i % len(rows)])
            row["id"] = f"{row['id']}.{i}"
            fh.write(json.dumps(row) + "\n")
    return path.stat().st_size


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children", encoding="ascii") as fh:
                kids = [int(k) for k in fh.read().split()]
        except OSError:
            kids = []
        found += kids
        todo += kids
    return found


def grade_and_watch(dataset: Path, out: Path, workers: int) -> dict[str, float]:
    env = {**os.environ, "IACGRADE_CACHE_DIR": str(out.parent / "cache")}
    command = [sys.executable, str(ROOT / "cli.py"), "grade", str(dataset), "--out", str(out)]
    command += ["--no-synth", "--quiet", "--workers", str(workers)]
    start = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    main_peak = tree_peak = 0
    while proc.poll() is None:
        main = _rss_kb(proc.pid)
        tree = main + sum(_rss_kb(c) for c in _children(proc.pid))
        main_peak, tree_peak = max(main_peak, main), max(tree_peak, tree)
        time.sleep(0.2)
    seconds = time.monotonic() - start
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"grading {dataset} exited {proc.returncode}: {stderr[-2000:]}")
    return {"seconds": seconds, "main_mb": main_peak / 1024, "tree_mb": tree_peak / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "cdk-py")
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "stream-memory")
    parser.add_argument("--keep", action="store_true", help="keep the run folders (they are large)")
    args = parser.parse_args(argv)

    rows = corpus_rows(args.corpus)
    if not rows:
        raise SystemExit(f"no *RESPONSE.md answers under {args.corpus}")
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    measured = {}
    for n in sorted(args.rows):
        dataset = args.out / f"rows-{n}.jsonl"
        size = write_jsonl(rows, n, dataset)
        got = grade_and_watch(dataset, args.out / f"run-{n}", args.workers)
        journal = args.out / f"run-{n}" / JOURNAL
        graded = sum(1 for _ in journal.open(encoding="utf-8")) if journal.is_file() else -1
        measured[n] = got
        print(
            f"{n} rows ({size / 1e6:.0f} MB of JSONL, {len(rows)} distinct answers): {got['seconds']:.0f} s, "
            f"{n / got['seconds']:.0f} rows/s, journal lines {graded}; peak RSS grading process "
            f"{got['main_mb']:.0f} MB, whole tree {got['tree_mb']:.0f} MB, load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if not args.keep:
            shutil.rmtree(args.out / f"run-{n}", ignore_errors=True)
        dataset.unlink()
    small, large = min(measured), max(measured)
    if small != large:
        print(
            f"peak RSS {large} vs {small} rows: grading process x{measured[large]['main_mb'] / measured[small]['main_mb']:.2f}, "
            f"tree x{measured[large]['tree_mb'] / measured[small]['tree_mb']:.2f} for x{large / small:.0f} the rows"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
