"""Measure extraction on the real corpus: discover, read, extract and assemble every answer.

Usage: python scripts/measure_extraction.py [--corpus DIR] [--verbose]
Prints the answer counts, the share of answers with python blocks that yield a python file,
and whether every answer that names lib/tap_stack.py gets that file in its workspace.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iacgrade.graders.extract import extract_files  # noqa: E402
from iacgrade.graders.ingest import discover, read_answer  # noqa: E402
from iacgrade.graders.workspace import assemble  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "cdk-py"
_LINE_REF = re.compile(r"`?(?::\d|,?\s+lines?\s*\d)", re.I)
_PY_FENCE = re.compile(r"^\s*(```+|~~~+)\s*(python3?|py)\b", re.M | re.I)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--verbose", action="store_true", help="print every answer's files")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    samples = discover([args.corpus])
    kinds = {k: sum(1 for s in samples if s.role == k) for k in ("model", "ideal", "other")}
    with_py = with_py_file = 0
    py_misses: list[str] = []
    tap_named = tap_ok = 0
    tap_misses: list[tuple[str, bool]] = []
    errors: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, sample in enumerate(samples):
            text = read_answer(sample)
            if text is None:
                errors.append(f"{sample.sample_id}: {sample.error}")
                continue
            extraction = extract_files(text)
            workspace = assemble(sample, extraction, Path(tmp) / str(i))
            has_py = bool(_PY_FENCE.search(text))
            py_files = [f.path for f in extraction.files if f.language == "python"]
            if has_py:
                with_py += 1
                with_py_file += bool(py_files)
                if not py_files:
                    py_misses.append(sample.sample_id)
            if "lib/tap_stack.py" in text:
                tap_named += 1
                if "lib/tap_stack.py" in workspace.files:
                    tap_ok += 1
                else:
                    tap_misses.append((sample.sample_id, _only_line_refs(text)))
            if args.verbose:
                print(f"{sample.sample_id}: {', '.join(f.path for f in extraction.files) or '-'}")
                for move in workspace.moves:
                    print(f"    moved {move.src} -> {move.dst} ({move.reason})")
    seconds = time.perf_counter() - started
    print(f"answers: {len(samples)} (model {kinds['model']}, ideal {kinds['ideal']}, other {kinds['other']})")
    print(f"read errors: {len(errors)}")
    for line in errors:
        print(f"  {line}")
    print(f"answers with python blocks: {with_py}")
    print(f"  with >=1 python file extracted: {with_py_file} ({_pct(with_py_file, with_py)})")
    for sid in py_misses:
        print(f"  miss: {sid}")
    print(f"answers naming lib/tap_stack.py: {tap_named}")
    print(f"  lib/tap_stack.py in workspace: {tap_ok} ({_pct(tap_ok, tap_named)})")
    for sid, only_refs in tap_misses:
        why = " (mentions it only as a line reference, e.g. `lib/tap_stack.py:24-42`)" if only_refs else ""
        print(f"  miss: {sid}{why}")
    print(f"time: {seconds:.2f}s ({1000 * seconds / max(len(samples), 1):.1f} ms per answer)")
    return 0


def _only_line_refs(text: str) -> bool:
    """Every mention of lib/tap_stack.py points at lines in it rather than naming a block."""
    mentions = [m.end() for m in re.finditer(r"lib/tap_stack\.py", text)]
    return all(_LINE_REF.match(text, end) for end in mentions)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


if __name__ == "__main__":
    raise SystemExit(main())
