"""Hostile CDK TypeScript answers, graded through the command line on ONE warm Node worker.

In order: an endless loop, a memory bomb, an answer that writes outside its folder, reads the
environment and calls the network, one that patches aws-cdk-lib for the next answer, and a plain
victim. Each is contained: a clear status, nothing written outside, no secret seen, and the victim's
template untouched by the patch.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iacgrade.graders.kinds.cdk_typescript import NODE_TOOLCHAIN
from iacgrade.graders.sandbox.launcher import detect_isolation
from tests.hostile import harness as h

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
    pytest.mark.skipif(detect_isolation().kind != "bwrap", reason="bubblewrap is not usable here"),
    pytest.mark.skipif(not (NODE_TOOLCHAIN / "node_modules").is_dir(), reason="make install not run"),
]

ANSWERS = Path(__file__).resolve().parent / "ts_answers"
TIMEOUT = 25


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[h.Run, h.Canaries]]:
    tmp = tmp_path_factory.mktemp("hostile-ts")
    canaries = h.Canaries.make()
    subs = {
        "TAG": canaries.tag,
        "CANARY_TMP": str(canaries.tmp),
        "CANARY_HOME": str(canaries.home),
        "CANARY_REPO": str(canaries.repo),
        "TOOLCHAIN": str(NODE_TOOLCHAIN),
    }
    folder = tmp / "answers"
    folder.mkdir()
    for src in sorted(ANSWERS.glob("*_RESPONSE.md")):
        text = src.read_text()
        for key, value in subs.items():
            text = text.replace(f"@@{key}@@", value)
        (folder / src.name).write_text(text)
    args = [str(folder), "--kind", "cdk-typescript", "--workers", "1", "--timeout", str(TIMEOUT)]
    graded = h.Run(args, tmp / "out").start(h.grader_env()).wait(900)
    try:
        yield graded, canaries
    finally:
        canaries.remove()


def _synth(run: h.Run, name: str) -> dict[str, Any]:
    return run.result(f"{name}_RESPONSE")["synth"]  # type: ignore[no-any-return]


def test_an_endless_loop_times_out(run: tuple[h.Run, h.Canaries]) -> None:
    synth = _synth(run[0], "a_infinite_loop")
    assert synth["status"] == "timeout" and synth["cause"] == "timeout"


def test_a_memory_bomb_ends_in_its_own_failure(run: tuple[h.Run, h.Canaries]) -> None:
    synth = _synth(run[0], "b_memory_bomb")
    assert synth["status"] in ("failed", "timeout") and synth["cause"] in ("memory", "timeout"), synth


def test_writes_outside_env_and_network_are_contained(run: tuple[h.Run, h.Canaries]) -> None:
    graded, canaries = run
    synth = _synth(graded, "c_escape")
    assert synth["status"] == "ok", synth
    report = json.loads(graded.outputs("c_escape_RESPONSE", "TapStack")["Report"])
    written = [k for k, v in report.items() if v == "WRITTEN"]
    assert written == []
    for d in canaries.dirs:
        assert (d / "victim.txt").read_text() == "canary victim\n"
    assert h.pwned_files(canaries.tag, [*canaries.dirs, NODE_TOOLCHAIN, Path("/etc")]) == []
    assert canaries.secret() not in json.dumps(report)
    for secret in h.SECRETS.values():
        assert secret not in report["env"]
    assert report["network"].startswith("NETERR"), report["network"]


def test_patching_aws_cdk_lib_recycles_the_worker_and_spares_the_next_answer(
    run: tuple[h.Run, h.Canaries],
) -> None:
    graded, _ = run
    patched = _synth(graded, "d_patch_cdk")
    assert patched["worker"].get("tampered") and patched["worker"].get("recycled")
    victim = _synth(graded, "e_victim")
    assert victim["status"] == "ok"
    outputs = graded.outputs("e_victim_RESPONSE", "TapStack")
    assert "Pwned" not in outputs
