"""Whole pipeline on samples/: result.json and report.md match the committed snapshots.

Regenerate with `make snapshots` after an intended change, and read the diff.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.snapshot_util import SNAPSHOTS, grade_samples, snapshot_files

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is needed to synthesize")


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return snapshot_files(grade_samples(tmp_path_factory.mktemp("samples")))


def test_every_sample_has_a_snapshot(produced: dict[str, str]) -> None:
    committed = {str(p.relative_to(SNAPSHOTS)) for p in SNAPSHOTS.rglob("*") if p.is_file()}
    assert committed == set(produced), "snapshots out of date: run `make snapshots`"


def test_snapshots_match(produced: dict[str, str]) -> None:
    for rel, text in sorted(produced.items()):
        expected = (SNAPSHOTS / rel).read_text()
        assert text == expected, f"{rel} differs from its snapshot: run `make snapshots` and review the diff"


def test_output_is_deterministic(produced: dict[str, str], tmp_path: Path) -> None:
    again = snapshot_files(grade_samples(tmp_path / "again"))
    assert again == produced
