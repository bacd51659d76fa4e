"""Synthesize every answer of a corpus and report synth-ok rates and failure causes.

    .venv/bin/python scripts/synth_corpus.py --corpus ../shared/corpus/cdk-py [--workers 2] [--out DIR]

Prints the ok rate for IDEAL and MODEL answers, a table of causes, and one line per failure
(kind, sample, cause, message, entry kind, fallbacks), and writes ``DIR/synth_corpus.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iacgrade.graders.extract import extract_files  # noqa: E402
from iacgrade.graders.ingest import discover, read_answer  # noqa: E402
from iacgrade.graders.models import Sample, SynthResult  # noqa: E402
from iacgrade.graders.sandbox import SandboxOptions, SynthPool  # noqa: E402
from iacgrade.graders.workspace import assemble  # noqa: E402


def _one(pool: SynthPool, sample: Sample, work: Path) -> tuple[Sample, SynthResult]:
    safe = sample.sample_id.replace("/", "__")
    text = read_answer(sample)
    if text is None:
        return sample, SynthResult(status="skipped", message=sample.error, cause="unreadable")
    extraction = extract_files(text)
    ws = assemble(sample, extraction, work / "ws" / safe)
    out = work / "out" / safe
    out.mkdir(parents=True, exist_ok=True)
    return sample, pool.synthesize(ws, sample, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--subset", type=int, default=0, help="only the first N tasks")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-lint", action="store_true")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    tasks = sorted(p for p in args.corpus.iterdir() if p.is_dir())
    if args.subset:
        tasks = tasks[: args.subset]
    samples = [s for s in discover(tasks) if s.status == "ok" and s.role in ("ideal", "model")]
    work = args.out or Path(tempfile.mkdtemp(prefix="synth-corpus-"))
    opts = SandboxOptions(workers=args.workers, timeout=args.timeout, lint=not args.no_lint)
    t0 = time.monotonic()
    with SynthPool(opts) as pool, ThreadPoolExecutor(args.workers) as ex:
        results = list(ex.map(lambda s: _one(pool, s, work), samples))
    wall = time.monotonic() - t0
    rows: list[dict[str, Any]] = []
    for sample, r in results:
        rows.append({"sample": sample.sample_id, "kind": sample.role, **r.model_dump(exclude={"lint"})})
    print(
        f"{len(rows)} answers in {wall:.1f} s ({wall / max(1, len(rows)):.2f} s/answer, {args.workers} workers)"
    )
    for kind in ("ideal", "model"):
        sel = [r for r in rows if r["kind"] == kind]
        ok = sum(r["status"] == "ok" for r in sel)
        print(f"{kind.upper():6} synth ok: {ok}/{len(sel)} = {100 * ok / max(1, len(sel)):.1f}%")
    print("\nfailure causes (ideal / model):")
    causes = Counter((r["cause"], r["kind"]) for r in rows if r["status"] != "ok")
    for cause in sorted({c for c, _ in causes}, key=lambda c: -(causes[(c, "ideal")] + causes[(c, "model")])):
        print(f"  {cause:26} {causes[(cause, 'ideal')]:3} / {causes[(cause, 'model')]:3}")
    fb = Counter(f.split(":")[0] for r in rows for f in r["fallbacks"])
    print("\nfallbacks used:", dict(fb), " entry kinds:", dict(Counter(r["entry_kind"] for r in rows)))
    print("\nfailures:")
    for r in sorted(rows, key=lambda r: (r["kind"], r["sample"])):
        if r["status"] != "ok":
            print(
                f"  {r['kind']:5} {r['sample']:34} {r['cause']:18} [{r['entry_kind']}] {(r['message'] or '')[:150]}"
            )
    (work / "synth_corpus.json").write_text(json.dumps(rows, indent=1, default=str))
    print(f"\ndetails: {work / 'synth_corpus.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
