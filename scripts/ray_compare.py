"""Grade a corpus with the local executor (2 workers) and on a local two-node Ray cluster
(2 nodes x 1 CPU), one after the other in one run; print both throughputs and whether the
results are the same.

    python scripts/ray_compare.py --corpus ../shared/corpus/cdk-py [--out out/ray-compare]

Both runs grade every answer afresh (--no-cache, each with an empty cache of its own), lint
included, and are timed from the command's start to its end (the Ray run's includes connecting
to the cluster and starting its actors, not starting the cluster). "Same" is said twice: result.json
and report.md equal apart from timings, and the scores and findings' check ids equal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iacgrade.graders.runs import result_differences  # noqa: E402
from tests.ray_cluster import LocalCluster  # noqa: E402


def _timed_grade(corpus: Path, out: Path, cache: Path, *args: str) -> tuple[float, dict[str, int]]:
    command = [sys.executable, str(ROOT / "cli.py"), "grade", str(corpus), "--out", str(out), "--no-cache"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IACGRADE_CACHE_DIR": str(cache)}
    start = time.monotonic()
    done = subprocess.run([*command, *args, "--json"], capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"grade {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return seconds, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "cdk-py")
    parser.add_argument(
        "--out", type=Path, default=None, help="where the two runs go (default: a temp folder)"
    )
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"corpus not found: {args.corpus}")
    out = args.out or Path(tempfile.mkdtemp(prefix="iacgrade-ray-compare-"))
    cluster = LocalCluster(cpus_per_node=1)
    try:
        cluster.start()
        local_s, local = _timed_grade(args.corpus, out / "local", out / "cache-local", "--workers", "2")
        ray_s, on_ray = _timed_grade(
            args.corpus, out / "ray", out / "cache-ray", "--executor", "ray", "--ray-address", cluster.address
        )
    finally:
        cluster.stop()
    n = local["samples"]
    full = result_differences(out / "local", out / "ray")
    scores = result_differences(out / "local", out / "ray", scores_only=True)
    print(f"corpus {args.corpus}: {n} answers, synth ok {local['synth_ok']}, failed {local['synth_failed']}")
    print(
        f"local, 2 workers:         {local_s:7.1f} s  {local_s / n:.3f} s/answer  {n / local_s:.2f} answers/s"
    )
    print(f"ray, 2 nodes x 1 CPU:     {ray_s:7.1f} s  {ray_s / n:.3f} s/answer  {n / ray_s:.2f} answers/s")
    print(
        f"ray throughput / local:   {local_s / ray_s:.2f}  (within 15%: {'yes' if local_s / ray_s >= 0.85 else 'no'})"
    )
    print(f"answers in both runs:     {on_ray['samples']} of {n}; infra_error {on_ray.get('infra_error', 0)}")
    print(f"scores and finding ids identical: {'yes' if not scores else 'no'} ({len(scores)} answers differ)")
    print(
        f"result.json and report.md identical apart from timings: {'yes' if not full else 'no'} ({len(full)} lines)"
    )
    for line in full[:20]:
        print(f"  {line}")
    print(f"runs kept in {out}")


if __name__ == "__main__":
    main()
