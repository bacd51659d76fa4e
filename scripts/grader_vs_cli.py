"""Grade corpus answers with `iacgrade grade` and with `iacgrade.Grader`, one after another, and
list every difference, with the Grader's seconds per answer.

    .venv/bin/python scripts/grader_vs_cli.py [--corpus ../shared/corpus/cdk-py] [--answers 50]
        [--no-synth] [--out .bench/grader-vs-cli]

Each answer goes to `Grader.grade` with its prompt (lib/PROMPT.md), its kind (metadata.json) and
its task folder as scaffold, as a caller holding the same data would. Exit 1 when any differ.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from datasets_vs_files import rows_of  # noqa: E402
from warm_cold import comparable  # noqa: E402

from iacgrade import Grader  # noqa: E402
from iacgrade.graders.pipeline import GradeOptions, grade  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "cdk-py")
    parser.add_argument("--answers", type=int, default=50)
    parser.add_argument("--no-synth", dest="synth", action="store_false")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "grader-vs-cli")
    args = parser.parse_args(argv)

    shutil.rmtree(args.out, ignore_errors=True)
    rows = rows_of(args.corpus)[: args.answers]
    files = [
        args.corpus / str(r["id"]).split(".", 1)[0] / "lib" / f"{str(r['id']).split('.', 1)[1]}.md"
        for r in rows
    ]
    common = {"workers": args.workers, "synth": args.synth, "use_cache": False}
    grade(files, GradeOptions(out=args.out / "cli", **common))  # type: ignore[arg-type]
    cli = {}
    for path in (args.out / "cli").rglob("result.json"):
        result = json.loads(path.read_text())
        cli[str(Path(result["source"]).resolve())] = comparable(result)

    seconds: list[float] = []
    api: list[dict] = []
    with Grader(workers=args.workers, synth=args.synth, cache=False, out=args.out / "api") as grader:
        for row in rows:
            task = args.corpus / str(row["id"]).split(".", 1)[0]
            started = time.monotonic()
            result = grader.grade(
                str(row["response"]), prompt=row["prompt"], kind=row["kind"], id=str(row["id"]), scaffold=task
            )
            seconds.append(time.monotonic() - started)
            api.append(comparable(result.model_dump(mode="json")))
    by_id = {str(r["id"]): a for r, a in zip(rows, api, strict=True)}
    differ = 0
    for row, path in zip(rows, files, strict=True):
        mine = cli.get(str(path.resolve()))
        if mine != by_id[str(row["id"])]:
            differ += 1
            print(f"{row['id']}: CLI {mine and mine['total']} vs Grader {by_id[str(row['id'])]['total']}")
    print(
        f"{len(rows)} answers: {len(rows) - differ} identical through the CLI and Grader.grade, {differ} differ; "
        f"Grader.grade one after another: median {statistics.median(seconds):.2f} s, "
        f"mean {statistics.mean(seconds):.2f} s per answer (first {seconds[0]:.1f} s, pool start included)"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
