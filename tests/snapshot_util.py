"""Grade samples/ and turn the outputs into deterministic snapshot texts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "tests" / "snapshots"

# Fields that measure the run or the machine rather than the answer ("isolation" is bwrap where
# bubblewrap is installed, "process" where it is not).
_VOLATILE_SYNTH = ("seconds", "worker", "isolation")


def grade_samples(out: Path) -> Path:
    from iacgrade.graders.pipeline import GradeOptions, grade
    from iacgrade.reports.writers import run_writers

    cwd = os.getcwd()
    os.chdir(ROOT)  # so `source` is the relative path samples/<file>
    try:
        grade([Path("samples")], GradeOptions(out=out, workers=2, use_cache=False), writers=run_writers())
    finally:
        os.chdir(cwd)
    return out


def normalise_result(data: dict[str, Any]) -> dict[str, Any]:
    synth = data.get("synth") or {}
    for key in _VOLATILE_SYNTH:
        synth.pop(key, None)
    for attempt in synth.get("attempts") or []:
        attempt.pop("seconds", None)
    data.pop("content_hash", None)
    return data


def snapshot_files(out: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for result in sorted(out.glob("*/result.json")):
        sid = result.parent.name
        data = normalise_result(json.loads(result.read_text()))
        files[f"{sid}/result.json"] = json.dumps(data, indent=2, sort_keys=True) + "\n"
        files[f"{sid}/report.md"] = (result.parent / "report.md").read_text()
    return files
