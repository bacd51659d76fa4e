"""Regenerate tests/snapshots/ from grading samples/ (result.json normalised, report.md as is)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.snapshot_util import SNAPSHOTS, grade_samples, snapshot_files  # noqa: E402

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        out = grade_samples(Path(tmp))
        for rel, text in snapshot_files(out).items():
            target = SNAPSHOTS / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            print(f"wrote tests/snapshots/{rel}")
