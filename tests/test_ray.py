"""--executor ray on a real two-node Ray cluster started here (tests/ray_cluster.py): the same run
folder as the local executor, and every answer graded once when the second node dies mid-run.

Tests run in file order: the last one kills the second node of the module's cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from iacgrade.graders.locations import node_toolchain
from iacgrade.graders.runs import result_differences
from iacgrade.graders.store import read_journal
from tests.ray_cluster import LocalCluster

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "cdk-py"
TASKS = ("Pr4792", "Pr2082", "Pr1936")  # three tasks: MODEL and IDEAL answers, synth ok and failed

try:
    import ray  # noqa: F401

    HAVE_RAY = True
except ImportError:
    HAVE_RAY = False
    if os.environ.get("CI"):  # CI must run these, not pass them by skipping: `make test` installs ray
        raise

pytestmark = pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install 'iacgrade[ray]')")


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    c = LocalCluster(cpus_per_node=1, dashboard=True)  # the dashboard: for the ray job test
    try:
        yield c.start()
    finally:
        c.stop()


def _inputs() -> list[str]:
    tasks = [str(CORPUS / t) for t in TASKS] if CORPUS.is_dir() else []
    return [str(ROOT / "samples"), *tasks]


def _grade(out: Path, *args: str, cache: Path, cwd: Path = ROOT) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "grade", *args, "--out", str(out), "--quiet", "--json"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "IACGRADE_CACHE_DIR": str(cache)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 600) -> dict[str, int]:
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stderr[-3000:]
    return json.loads(stdout)


def _journal_ids(out: Path) -> list[str]:
    return [line["sample_id"] for line in read_journal(out)]


def test_ray_run_is_the_local_run_without_synth(cluster: LocalCluster, tmp_path: Path) -> None:
    local = _grade(tmp_path / "local", *_inputs(), "--no-synth", "--workers", "2", cache=tmp_path / "c1")
    on_ray = _grade(
        tmp_path / "ray",
        *_inputs(),
        "--no-synth",
        "--executor",
        "ray",
        "--ray-address",
        cluster.address,
        cache=tmp_path / "c2",
    )
    counts_local, counts_ray = _finish(local), _finish(on_ray)
    assert counts_ray["samples"] == counts_local["samples"] == len(_journal_ids(tmp_path / "ray"))
    assert result_differences(tmp_path / "local", tmp_path / "ray") == []
    # The tables are the same but for how long each build took (a CloudFormation template is
    # parsed even with --no-synth, and its parse seconds differ from run to run).
    local_table = pd.read_csv(tmp_path / "local" / "results.csv").drop(columns=["synth_seconds"])
    ray_table = pd.read_csv(tmp_path / "ray" / "results.csv").drop(columns=["synth_seconds"])
    pd.testing.assert_frame_equal(ray_table, local_table)
    assert (tmp_path / "ray" / "findings.csv").read_text() == (
        tmp_path / "local" / "findings.csv"
    ).read_text()
    manifest = json.loads((tmp_path / "ray" / "run.json").read_text())
    assert manifest["options"]["executor"] == "ray" and manifest["finished"]

    # A re-run in the folder resumes every answer from it, through the ray path's lookups.
    again = _finish(
        _grade(
            tmp_path / "ray",
            *_inputs(),
            "--no-synth",
            "--executor",
            "ray",
            "--ray-address",
            cluster.address,
            cache=tmp_path / "c2",
        )
    )
    assert again["resumed"] == again["samples"] == counts_ray["samples"]


def test_ray_run_is_the_local_run_with_synth(cluster: LocalCluster, tmp_path: Path) -> None:
    samples = str(ROOT / "samples")
    local = _grade(tmp_path / "local", samples, "--workers", "2", cache=tmp_path / "c1")
    on_ray = _grade(
        tmp_path / "ray",
        samples,
        "--executor",
        "ray",
        "--ray-address",
        cluster.address,
        cache=tmp_path / "c2",
    )
    counts_local, counts_ray = _finish(local), _finish(on_ray)
    assert counts_ray["synth_ok"] == counts_local["synth_ok"] > 0
    assert result_differences(tmp_path / "local", tmp_path / "ray") == []
    # The templates came back from the actors into the run folder.
    assert list((tmp_path / "ray" / "good_api_RESPONSE" / "templates").glob("*.template.json"))


def _checkout_copy(dest: Path) -> None:
    """The repository's tracked files copied to ``dest`` (symlinks as links): a fresh clone."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source, target = ROOT / name, dest / name
        if source.is_symlink() or source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout: no tracked files to ship")
def test_ray_job_submit_as_the_readme_shows(cluster: LocalCluster, tmp_path: Path) -> None:
    """README's recipe: `ray job submit` ships a checkout as the working dir; the job's driver
    grades on the cluster's actors and writes the same run folder as a local run."""
    work = tmp_path / "checkout"
    _checkout_copy(work)
    answers = work / "answers"
    answers.mkdir()
    for name in ("flawed_api_RESPONSE.md", "cfn_json_queue_RESPONSE.md", "ts_good_queue_RESPONSE.md"):
        shutil.copy(ROOT / "samples" / name, answers / name)
    runtime_env = {
        "working_dir": ".",
        "excludes": ["out", ".venv", "node_modules"],
        "env_vars": {
            "IACGRADE_NODE_TOOLCHAIN": str(node_toolchain()),
            "IACGRADE_CACHE_DIR": str(tmp_path / "c2"),
        },
    }
    entry = ["python", "cli.py", "grade", "answers", "--out", str(tmp_path / "job"), "--executor", "ray"]
    output = cluster.submit_job(runtime_env, entry, cwd=work, timeout=600)
    assert "graded 3 of 3 answers" in output, output[-3000:]
    manifest = json.loads((tmp_path / "job" / "run.json").read_text())
    assert manifest["options"]["executor"] == "ray" and manifest["finished"]

    # The same command run locally in the checkout (a result names its answer as the command did).
    local = _grade(tmp_path / "local", "answers", "--workers", "2", cache=tmp_path / "c1", cwd=work)
    assert _finish(local)["synth_ok"] == 3
    assert result_differences(tmp_path / "local", tmp_path / "job") == []


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")
def test_second_node_dies_mid_run_and_every_answer_is_graded_once(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    out = tmp_path / "ray"
    tasks = sorted(p.name for p in CORPUS.iterdir() if (p / "lib" / "MODEL_RESPONSE.md").is_file())[:5]
    inputs = [str(CORPUS / t) for t in tasks]
    proc = _grade(
        out,
        *inputs,
        "--executor",
        "ray",
        "--ray-address",
        cluster.address,
        cache=tmp_path / "c",
    )
    deadline = time.monotonic() + 300
    while len(_journal_ids(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before the node could be killed"
    graded_before = len(_journal_ids(out))
    cluster.kill_second_node()
    counts = _finish(proc)

    ids = _journal_ids(out)
    assert graded_before < len(ids), "the kill did not land mid-run"
    assert len(ids) == len(set(ids)) == counts["samples"]  # each answer written once
    assert counts["infra_error"] == 0  # what the dead node held was graded again on the head
    assert counts["graded"] == counts["samples"]
    # The same answers graded locally give the same scores and findings. (Not always the same
    # wording: jsii warns of a deprecated API once per process, so a deprecation's "(jsii warned:
    # ...)" evidence depends on which answers shared a warm worker, locally as on Ray.)
    local = _finish(_grade(tmp_path / "local", *inputs, "--workers", "2", cache=tmp_path / "c1"))
    assert local["samples"] == counts["samples"]
    assert result_differences(tmp_path / "local", out, scores_only=True) == []
