"""Warm workers and a fresh process per answer grade corpus answers identically.

Three answers on one worker, two of them using the same deprecated API (the case that once
differed: jsii warned once per process). The whole corpus: scripts/warm_cold.py.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from iacgrade.graders.sandbox.launcher import detect_isolation

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "cdk-py"
sys.path.insert(0, str(ROOT / "scripts"))
import warm_cold  # noqa: E402

ANSWERS = ["Pr1936/lib/MODEL_RESPONSE.md", "Pr2558/lib/MODEL_RESPONSE.md", "Pr7363/lib/MODEL_RESPONSE.md"]

pytestmark = [
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}"),
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
    pytest.mark.skipif(detect_isolation().kind != "bwrap", reason="bubblewrap is not usable here"),
]


def test_warm_and_cold_agree_on_corpus_answers(tmp_path: Path) -> None:
    warm, cold, _ = warm_cold.run_both([CORPUS / a for a in ANSWERS], tmp_path, workers=1)
    assert len(list(warm.rglob("result.json"))) == len(ANSWERS)
    deprecated = [p for p in warm.rglob("result.json") if '"check": "deprecated-api"' in p.read_text()]
    assert len(deprecated) >= 2  # the warm worker saw the same deprecated API more than once
    assert warm_cold.differences(warm, cold) == {}


def test_a_difference_is_reported(tmp_path: Path) -> None:
    for side, total in (("a", 80.0), ("b", 81.5)):
        (tmp_path / side / "x").mkdir(parents=True)
        (tmp_path / side / "x" / "result.json").write_text(
            f'{{"status": "ok", "total": {total}, "findings": []}}'
        )
    assert warm_cold.differences(tmp_path / "a", tmp_path / "b") == {"x": ["total: warm 80.0 != cold 81.5"]}
