"""Grade the same answers on warm workers and in a fresh process each, and list every difference.

    .venv/bin/python scripts/warm_cold.py [PATH ...] [--workers 2] [--out .bench/warm-cold]

PATH defaults to ../shared/corpus/cdk-py. Both runs skip the result cache. A difference is any
change of status, total, category score or finding (check, severity, message, evidence): warm
workers reset between answers, so the two must agree on every answer. Exit 1 when they do not.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iacgrade.graders.pipeline import GradeOptions, grade  # noqa: E402


def _evidence(e: dict[str, Any]) -> tuple[Any, ...]:
    return (e.get("file"), e.get("line"), e.get("resource"), e.get("value"))


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on how the answer was built: status, scores and findings."""
    return {
        "status": result.get("status"),
        "total": result.get("total"),
        "scores": result.get("scores"),
        "findings": sorted(
            (
                f["check"],
                f["severity"],
                f["message"],
                tuple(sorted((_evidence(e) for e in f.get("evidence", [])), key=repr)),
            )
            for f in result.get("findings", [])
        ),
    }


def differences(warm_run: Path, cold_run: Path) -> dict[str, list[str]]:
    """Per sample id, what differs between two finished runs of the same answers."""
    out: dict[str, list[str]] = {}
    ids = {
        p.parent.relative_to(run).as_posix() for run in (warm_run, cold_run) for p in run.rglob("result.json")
    }
    for sample_id in sorted(ids):
        sides = []
        for run in (warm_run, cold_run):
            path = run / sample_id / "result.json"
            sides.append(comparable(json.loads(path.read_text())) if path.exists() else None)
        warm, cold = sides
        if warm is None or cold is None:
            out[sample_id] = ["graded in one run only"]
            continue
        notes = [
            f"{key}: warm {warm[key]!r} != cold {cold[key]!r}"
            for key in ("status", "total", "scores")
            if warm[key] != cold[key]
        ]
        only_warm = [f for f in warm["findings"] if f not in cold["findings"]]
        only_cold = [f for f in cold["findings"] if f not in warm["findings"]]
        notes += [f"warm only: {f[0]}: {f[2]}" for f in only_warm]
        notes += [f"cold only: {f[0]}: {f[2]}" for f in only_cold]
        if notes:
            out[sample_id] = notes
    return out


def run_both(paths: list[Path], out: Path, workers: int) -> tuple[Path, Path, dict[str, float]]:
    seconds = {}
    for isolation in ("warm", "process"):
        dest = out / isolation
        shutil.rmtree(dest, ignore_errors=True)
        started = time.monotonic()
        grade(paths, GradeOptions(out=dest, workers=workers, isolation=isolation, use_cache=False))
        seconds[isolation] = time.monotonic() - started
    return out / "warm", out / "process", seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT.parent / "shared" / "corpus" / "cdk-py"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "warm-cold")
    args = parser.parse_args(argv)
    warm, cold, seconds = run_both(args.paths, args.out, args.workers)
    diffs = differences(warm, cold)
    graded = len(list(warm.rglob("result.json")))
    for sample_id, notes in diffs.items():
        print(sample_id)
        for note in notes:
            print(f"  {note}")
    print(
        f"{graded} answers; {graded - len(diffs)} identical warm and cold, {len(diffs)} differ; "
        f"warm {seconds['warm']:.1f} s, process {seconds['process']:.1f} s "
        f"({seconds['process'] / max(seconds['warm'], 1e-9):.1f}x)"
    )
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
