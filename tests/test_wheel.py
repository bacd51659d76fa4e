"""iacgrade installed as a user installs it: a wheel of the project in a fresh venv, run from another folder.

The wheel must hold one import namespace (`iacgrade`) with the rubric, the report templates, the
Node worker and the Node toolchain's lock inside it, and grade an answer exactly as the checkout
does. The fresh venv gets the project's dependencies (aws-cdk-lib, cfn-lint, ...) from the venv
running this test through a `.pth` line, not a second download; the package itself comes only from
the wheel: the test checks that `iacgrade` imports from the new venv and that no top-level
`graders`, `reports` or `cli` is importable there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from iacgrade.graders.sandbox.launcher import NODE_TOOLCHAIN

ROOT = Path(__file__).resolve().parent.parent


# What runs from the new venv must not see the checkout (the tests run with it on PYTHONPATH).
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IACGRADE_NODE_TOOLCHAIN")}


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    kw.setdefault("env", CLEAN_ENV)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert done.returncode == 0, (
        f"{cmd} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
    return done


def _findings(out: Path, sample: str) -> tuple[float, list[tuple[str, str]]]:
    result = json.loads((out / sample / "result.json").read_text())
    found = sorted((f["check"], f["message"]) for f in result["findings"])
    return result["total"], found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(ROOT),
        ],
        cwd=base,
    )
    (wheel,) = dist.glob("iacgrade-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)])
    (site / "iacgrade_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return {"wheel": wheel, "venv": venv, "site": site, "base": base}


def test_the_wheel_holds_one_namespace_and_what_grading_needs(installed: dict[str, Path]) -> None:
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"iacgrade"}
    for needed in (
        "iacgrade/rubric.yaml",
        "iacgrade/cli.py",
        "iacgrade/graders/pipeline.py",
        "iacgrade/reports/templates/report.md.j2",
        "iacgrade/graders/kinds/cdk_node_worker.js",
        "iacgrade/graders/analysis/data/aws_managed_policies.txt",
        "iacgrade/node/package-lock.json",
    ):
        assert needed in names


def test_the_installed_package_is_the_wheel_and_the_bare_names_are_not_there(
    installed: dict[str, Path], tmp_path: Path
) -> None:
    probe = (
        "import importlib.util, iacgrade, iacgrade.graders.pipeline as p\n"
        "print(iacgrade.__file__)\nprint(p.__file__)\n"
        "print([n for n in ('graders', 'reports', 'cli') if importlib.util.find_spec(n)])\n"
    )
    lines = _run([str(installed["venv"] / "bin" / "python"), "-c", probe], cwd=tmp_path).stdout.split("\n")
    assert Path(lines[0]).is_relative_to(installed["site"]) and Path(lines[1]).is_relative_to(
        installed["site"]
    )
    assert lines[2] == "[]"


def test_the_installed_command_grades_like_the_checkout(installed: dict[str, Path], tmp_path: Path) -> None:
    """A CDK Python and a TypeScript sample, synthesized in the sandbox from the installed package
    (the Node toolchain installed by `iacgrade setup-node` into the user's data folder)."""
    samples = ["flawed_api_RESPONSE", "ts_flawed_queue_RESPONSE"]
    answers = tmp_path / "answers"
    answers.mkdir()
    for name in samples:
        (answers / f"{name}.md").write_text((ROOT / "samples" / f"{name}.md").read_text())
    env = {
        **CLEAN_ENV,
        "IACGRADE_CACHE_DIR": str(tmp_path / "cache"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    command = str(installed["venv"] / "bin" / "iacgrade")
    setup = _run([command, "setup-node"], cwd=tmp_path, env=env)
    assert str(tmp_path / "data" / "iacgrade") in setup.stdout
    _run(
        [command, "grade", "answers", "--out", "wheel-out", "--workers", "1", "--quiet"],
        cwd=tmp_path,
        env=env,
    )
    if not (NODE_TOOLCHAIN / "node_modules").is_dir():
        pytest.skip("make install not run: no checkout toolchain to compare with")
    checkout_env = {**env, "PYTHONPATH": str(ROOT)}
    _run(
        [
            sys.executable,
            str(ROOT / "cli.py"),
            "grade",
            "answers",
            "--out",
            "repo-out",
            "--workers",
            "1",
            "--quiet",
        ],
        cwd=tmp_path,
        env={**checkout_env, "IACGRADE_CACHE_DIR": str(tmp_path / "cache2")},
    )
    for name in samples:
        wheel_total, wheel_findings = _findings(tmp_path / "wheel-out", name)
        repo_total, repo_findings = _findings(tmp_path / "repo-out", name)
        result = json.loads((tmp_path / "wheel-out" / name / "result.json").read_text())
        assert result["synth"]["status"] == "ok", result["synth"]
        assert (wheel_total, wheel_findings) == (repo_total, repo_findings)
