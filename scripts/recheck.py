"""Re-run the checks of a finished run without synthesizing again, for fast work on checks.

    .venv/bin/python scripts/recheck.py --run .bench/eval-run --out .bench/recheck [PATH ...]

Grades PATH (default ../shared/corpus/cdk-py) exactly as `iacgrade grade` does — ingest,
extraction, workspace, checks, scoring, reports, tables — except that synthesis is replayed
from the earlier run: each answer gets the SynthResult, templates and cfn-lint matches that
run recorded for the same sample id. Only valid while the answer's files, the scaffold and the
sandbox are unchanged since that run; a check or rubric change is what it is for. Prints how
many findings appeared and disappeared per check.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iacgrade.graders.kinds import cdk_python, cdk_typescript  # noqa: E402
from iacgrade.graders.models import Diagnostic, LintMatch, Sample, SynthResult, Workspace, typed_list  # noqa: E402
from iacgrade.graders.pipeline import GradeOptions, grade  # noqa: E402
from iacgrade.reports.writers import run_writers  # noqa: E402

_KEPT = ("templates", "lint.json", "manifest.json", "synth.log")


class ReplayPool:
    """Stands in for the synth pool: hands back what an earlier run synthesized."""

    def __init__(self, run: Path, out: Path) -> None:
        self.run = run
        self.out = out

    def synthesize(self, workspace: Workspace, sample: Sample, out_dir: str | Path) -> SynthResult:
        old = self.run / sample.sample_id
        data = json.loads((old / "result.json").read_text())
        synth = SynthResult.model_validate(data["synth"])
        dest = Path(out_dir)
        dest.mkdir(parents=True, exist_ok=True)
        for name in _KEPT:
            src = old / name
            if src.is_dir():
                shutil.copytree(src, dest / name, dirs_exist_ok=True)
            elif src.is_file():
                shutil.copy2(src, dest / name)
        lint = old / "lint.json"
        if lint.is_file():
            synth.lint = {s: typed_list(LintMatch, m) for s, m in json.loads(lint.read_text()).items()}
        synth.diagnostics = _diagnostics(data)
        return synth

    def synthesize_node(self, root: Path, job: dict[str, Any], out_dir: str | Path) -> SynthResult:
        """The Node pool's call (a TypeScript/JavaScript answer): the sample is the output folder's."""
        sample_id = Path(out_dir).resolve().relative_to(self.out.resolve()).as_posix()
        return self.synthesize(None, Sample.model_construct(sample_id=sample_id), out_dir)  # type: ignore[arg-type]

    def __enter__(self) -> ReplayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _diagnostics(data: dict[str, Any]) -> list[Diagnostic]:
    """A TypeScript answer's compiler diagnostics, which result.json does not keep, as far as its
    type-error findings show them (their evidence: file, line, `TS<code>: message`; the first 8
    of each kind), so that the checks reading them see them again."""
    out = []
    for f in data.get("findings", []):
        if f["check"] != "type-error":
            continue
        for ev in f.get("evidence", []):
            code, _, message = str(ev.get("value") or "").partition(": ")
            if code.startswith("TS") and code[2:].isdigit():
                out.append(
                    Diagnostic(code=int(code[2:]), file=ev.get("file"), line=ev.get("line"), message=message)
                )
    return out


def _findings(run: Path) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for path in run.glob("**/result.json"):
        data: dict[str, Any] = json.loads(path.read_text())
        for f in data.get("findings", []):
            out[(f["check"], data["sample_id"])] += 1
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path, default=[ROOT.parent / "shared" / "corpus" / "cdk-py"])
    ap.add_argument("--run", type=Path, required=True, help="an earlier output folder of `iacgrade grade`")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if not (args.run / "run.json").is_file():
        print(f"not a run folder: {args.run}", file=sys.stderr)
        return 2
    if args.out.exists():
        shutil.rmtree(args.out)
    replay = ReplayPool(args.run, args.out)
    cdk_python.start_pool = lambda settings: replay  # type: ignore[assignment,return-value]
    node = type(
        "NodeReplay",
        (),
        {"synthesize": lambda _self, *a: replay.synthesize_node(*a), "__exit__": lambda _self, *exc: None},
    )()
    cdk_typescript.start_node_pool = lambda settings: node  # type: ignore[assignment]
    grade(
        args.paths, GradeOptions(out=args.out, workers=args.workers, use_cache=False), writers=run_writers()
    )
    before, after = _findings(args.run), _findings(args.out)
    checks = sorted({c for c, _ in before} | {c for c, _ in after})
    print(f"{'check':24s} {'before':>7s} {'after':>7s}  answers gained / lost")
    for check in checks:
        b = {s for (c, s) in before if c == check}
        a = {s for (c, s) in after if c == check}
        if a != b or sum(before[k] for k in before if k[0] == check) != sum(
            after[k] for k in after if k[0] == check
        ):
            print(f"{check:24s} {len(b):7d} {len(a):7d}  +{len(a - b)} / -{len(b - a)}")
            for sid in sorted(a - b)[:6]:
                print(f"      + {sid}")
            for sid in sorted(b - a)[:6]:
                print(f"      - {sid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
