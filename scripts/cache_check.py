"""Measure the result cache and resume on a corpus: two runs into one cache, then a killed run resumed.

    python scripts/cache_check.py --corpus ../shared/corpus/cdk-py [--no-synth] [--workers N]

Prints the wall time of each run (the whole `iacgrade grade` command, as a user sees it), the
speed-up, whether every result.json is identical ignoring timing fields, and, for the kill
test, how many answers were done before the SIGKILL and that none was graded twice.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iacgrade.graders.store import read_journal  # noqa: E402

TIMING = {"seconds", "synth_seconds", "worker", "attempts"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "cdk-py")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-synth", action="store_true", help="source checks only (no sandbox needed)")
    parser.add_argument("--rubric", type=Path, default=None)
    parser.add_argument("--kill-after", type=int, default=20, help="answers done before the SIGKILL")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run folders here")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    work = Path(args.keep or tempfile.mkdtemp(prefix="iacgrade-cache-check-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base = [
        sys.executable,
        "-m",
        "cli",
        "grade",
        str(args.corpus),
        "--workers",
        str(args.workers),
        "--quiet",
        "--json",
        "--cache-dir",
        str(work / "cache"),
    ]
    if args.no_synth:
        base.append("--no-synth")
    if args.rubric:
        base += ["--rubric", str(args.rubric)]

    first, t1 = _run([*base, "--out", str(work / "one")])
    second, t2 = _run([*base, "--out", str(work / "two")])
    same, differ = _identical(work / "one", work / "two")
    print(
        f"corpus: {args.corpus} ({first['samples']} answers), workers {args.workers}, "
        f"synth {'off' if args.no_synth else 'on'}"
    )
    print(
        f"run 1 (cold cache): {t1:.1f} s, synth ok {first['synth_ok']}, failed {first['synth_failed']}, "
        f"timeout {first['synth_timeout']}, cache hits {first['cache_hits']}"
    )
    print(f"run 2 (warm cache): {t2:.1f} s, cache hits {second['cache_hits']} of {second['samples']}")
    print(f"speed-up: {t1 / t2:.1f}x")
    print(
        f"identical result.json (ignoring timing): {same} of {same + len(differ)}"
        + (f"; differ: {', '.join(differ[:5])}" if differ else "")
    )

    killed = _kill_and_resume(
        [*base, "--out", str(work / "killed"), "--cache-dir", str(work / "cache-kill")],
        work / "killed",
        args.kill_after,
    )
    print(killed)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _run(cmd: list[str]) -> tuple[dict, float]:
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), elapsed


def _strip(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _identical(one: Path, two: Path) -> tuple[int, list[str]]:
    same, differ = 0, []
    for path in sorted(one.rglob("result.json")):
        rel = path.relative_to(one)
        a = _strip(json.loads(path.read_text()))
        other = two / rel
        b = _strip(json.loads(other.read_text())) if other.exists() else None
        if a == b:
            same += 1
        else:
            differ.append(rel.parent.as_posix())
    return same, differ


def _kill_and_resume(cmd: list[str], out: Path, after: int) -> str:
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    while proc.poll() is None and len(read_journal(out)) < after:
        time.sleep(0.02)
    if proc.poll() is not None:
        return "kill test: the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(read_journal(out))
    summary, elapsed = _run(cmd)
    journal = read_journal(out)
    how = Counter(e["how"] for e in journal[before:])
    graded = Counter(e["sample_id"] for e in journal if e["how"] in ("graded", "cache"))
    twice = sorted(k for k, v in graded.items() if v > 1)
    listed = {e["sample_id"] for e in journal}
    return (
        f"kill test: SIGKILL after {before} answers in the journal; the re-run took {elapsed:.1f} s and "
        f"graded or copied {how['graded'] + how['cache']}, kept {how['resume']} whose result.json was "
        f"already written (those {before} plus any the kill caught between result.json and journal); "
        f"answers with a result: {len(listed)} of {summary['samples']}; graded more than once: "
        f"{len(twice)}" + (f" {twice[:5]}" if twice else "")
    )


if __name__ == "__main__":
    sys.exit(main())
