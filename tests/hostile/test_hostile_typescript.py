"""Hostile CDK TypeScript answers, graded through the command line on ONE warm Node worker.

Two grading processes run at once:
- ``sequence``: each hostile answer of ``ts_answers/`` followed by a plain victim, on one warm
  worker (``--workers 1``), so the victim certainly runs where the hostile answer ran;
- ``fresh``: the victim alone in a fresh process (``--isolation process``): the reference every
  victim's template must equal byte for byte.

The classes: an endless loop, a memory bomb, a 1 GB string, printing without end, every way out of
the process (and a kill from a shell), an error quoting a path of hundreds of segments, a fork
storm, forged protocol frames, writes outside, the network, the environment and /proc, filling the
scratch folders, and patches for the next answer: aws-cdk-lib's core and a submodule,
Object.prototype, Array.prototype.push, require.cache, the process's events, and a patch armed on a
timer. Each is contained: a clear status with the right cause, nothing written outside, no secret
seen, no process left, and the victim after it graded exactly as on a fresh worker.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iacgrade.graders.kinds.cdk_typescript import NODE_TOOLCHAIN
from iacgrade.graders.sandbox.launcher import detect_isolation
from iacgrade.graders.sandbox.options import SandboxOptions
from tests.hostile import harness as h

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
    pytest.mark.skipif(detect_isolation().kind != "bwrap", reason="bubblewrap is not usable here"),
    pytest.mark.skipif(not (NODE_TOOLCHAIN / "node_modules").is_dir(), reason="make install not run"),
]

ANSWERS = Path(__file__).resolve().parent / "ts_answers"
TIMEOUT = 20
SCRATCH_MB = 64  # each writable folder of the sandbox: small, so filling it is quick
VICTIM = "zz_victim"
SEQUENCE = sorted(
    p.name[: -len("_RESPONSE.md")] for p in ANSWERS.glob("*_RESPONSE.md") if VICTIM not in p.name
)

# answer -> (synth status, cause, substring of the message, substring of the tamper report);
# None: not checked. A tamper report also means the worker was recycled.
EXPECTED: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "infinite_loop": ("timeout", "timeout", f"synth ran longer than {TIMEOUT} s", None),
    "memory_bomb": (None, None, None, None),  # memory, or a timeout on a slow machine: see below
    "huge_string": ("failed", "memory", "Invalid string length", None),
    "endless_output": ("failed", "other", "output limit exceeded", None),
    "exits": ("failed", "exited", "the app called process.exit(5)", None),
    "long_error_path": ("failed", None, "circular reference. Path: /Resources/Group", None),
    "shell_kill": ("failed", None, "killed by SIGKILL", None),
    "fork_storm": ("ok", None, None, "processes left running"),
    "forge_frames": ("ok", None, None, "forged frames on the protocol channel"),
    "escape": ("ok", None, None, None),
    "read_env_and_proc": ("ok", None, None, None),
    "fill_scratch": ("failed", "other", "ENOSPC", None),  # its own template no longer fits in /tmp
    "patch_cdk": ("ok", None, None, "Stack.prototype._toCloudFormation"),
    "patch_cdk_submodule": ("ok", None, None, "CfnBucket.prototype.renderProperties"),
    "patch_fresh_module": ("ok", None, None, "CfnStream.prototype.renderProperties"),
    "pollute_object_prototype": (None, None, None, "Object.prototype"),
    "patch_array_push": ("ok", None, None, "Array.prototype.push"),
    "patch_require_cache": (None, None, None, "require.cache"),
    "patch_process": ("ok", None, None, "process"),
    "delayed_patch": ("ok", None, None, "timers or handles left running"),
}
# What a job may find in its environment: the sandbox's own variables, the Node worker's, and what
# `cdk synth` sets for an app (the dummy account/region only as the fallback they are).
ALLOWED_ENV = {
    "PATH", "PWD", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONUNBUFFERED",
    "PYTHONHASHSEED", "JSII_DEPRECATED", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION",
    "CDK_DISABLE_VERSION_CHECK", "CDK_DISABLE_CLI_TELEMETRY", "CDK_VALIDATION", "IACGRADE_JOB_DIR",
    "IACGRADE_OUT_DIR", "IACGRADE_NODE_TOOLCHAIN", "NODE_PATH", "CDK_CONTEXT_JSON", "CDK_OUTDIR",
    "CDK_CLI_VERSION", "CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION",
}  # fmt: skip


def _hostile_id(index: int) -> str:
    return f"s{index:02d}a_{SEQUENCE[index]}_RESPONSE"


def _victim_id(index: int) -> str:
    return f"s{index:02d}b_victim_RESPONSE"


@dataclass
class Outcome:
    sequence: h.Run
    fresh: h.Run
    canaries: h.Canaries
    pwned: list[str]
    leftovers: list[h.Proc]

    def hostile(self, name: str) -> dict[str, Any]:
        return self.sequence.result(_hostile_id(SEQUENCE.index(name)))

    def report(self, name: str) -> Any:
        return json.loads(self.sequence.outputs(_hostile_id(SEQUENCE.index(name)), "TapStack")["Report"])


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("hostile-ts")
    canaries = h.Canaries.make()
    subs = {
        "TAG": canaries.tag,
        "CANARY_TMP": str(canaries.tmp),
        "CANARY_HOME": str(canaries.home),
        "CANARY_REPO": str(canaries.repo),
        "TOOLCHAIN": str(NODE_TOOLCHAIN),
    }

    def place(folder: Path, name: str, as_name: str) -> None:
        text = (ANSWERS / f"{name}_RESPONSE.md").read_text()
        for key, value in subs.items():
            text = text.replace(f"@@{key}@@", value)
        (folder / f"{as_name}_RESPONSE.md").write_text(text)

    folders = {name: tmp / name for name in ("sequence", "fresh")}
    for folder in folders.values():
        folder.mkdir()
    for i, name in enumerate(SEQUENCE):
        place(folders["sequence"], name, _hostile_id(i).removesuffix("_RESPONSE"))
        place(folders["sequence"], VICTIM, _victim_id(i).removesuffix("_RESPONSE"))
    place(folders["fresh"], VICTIM, "victim")
    common = [
        "--kind",
        "cdk-typescript",
        "--workers",
        "1",
        "--timeout",
        str(TIMEOUT),
        "--scratch-mb",
        str(SCRATCH_MB),
    ]
    procs_before = h.process_table()
    env = h.grader_env()
    runs = {
        "sequence": h.Run([str(folders["sequence"]), *common], tmp / "sequence-out").start(env),
        "fresh": h.Run([str(folders["fresh"]), *common, "--isolation", "process"], tmp / "fresh-out").start(
            env
        ),
    }
    try:
        for run in runs.values():
            run.wait(timeout=1500)
        seen_uids = h.worker_uids(runs.values())
        left = h.leftovers(procs_before, [r.pid for r in runs.values()], canaries.tag, seen_uids)
        pwned = h.pwned_files(canaries.tag, [*canaries.dirs, NODE_TOOLCHAIN, Path("/etc"), Path("/tmp")])
        yield Outcome(runs["sequence"], runs["fresh"], canaries, pwned, left)
    finally:
        for run in runs.values():
            if run.proc is not None and run.proc.poll() is None:
                run.proc.kill()
        canaries.remove()


# -- the run as a whole -------------------------------------------------------------------------


def test_both_runs_finished_and_graded_every_answer(outcome: Outcome) -> None:
    for run, expected in ((outcome.sequence, 2 * len(SEQUENCE)), (outcome.fresh, 1)):
        assert run.proc is not None and run.proc.returncode == 0, run.stderr[-3000:]
        summary = run.summary()
        assert summary["samples"] == summary["graded"] == expected, summary


def test_every_answer_has_an_expectation() -> None:
    assert set(EXPECTED) == set(SEQUENCE)


def test_no_process_outlives_the_run(outcome: Outcome) -> None:
    assert outcome.leftovers == []


def test_nothing_was_written_outside(outcome: Outcome) -> None:
    assert outcome.pwned == []
    for d in outcome.canaries.dirs:
        assert (d / "victim.txt").read_text() == "canary victim\n"


def test_no_secret_reaches_any_output(outcome: Outcome) -> None:
    needles = [v.encode() for v in h.SECRETS.values()] + [outcome.canaries.secret().encode()]
    for run in (outcome.sequence, outcome.fresh):
        for path in run.out.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                assert not [n for n in needles if n in data], path


# -- per answer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SEQUENCE)
def test_status_cause_and_message(outcome: Outcome, name: str) -> None:
    status, cause, message, tampered = EXPECTED[name]
    result = outcome.hostile(name)
    synth = result["synth"]
    assert result["status"] == "graded", result["error"]
    if status is not None:
        assert synth["status"] == status, synth
    if cause is not None:
        assert synth["cause"] == cause, synth
    if message is not None:
        assert message in (synth["message"] or ""), synth
    if synth["status"] != "ok":
        assert synth["message"], "a failed synth must say why"
    worker = synth["worker"]
    if tampered is not None:
        assert tampered in json.dumps(worker.get("tampered")), worker
        assert worker.get("recycled"), worker


@pytest.mark.parametrize("index", range(len(SEQUENCE)), ids=SEQUENCE)
def test_the_victim_after_each_hostile_answer_is_graded_as_on_a_fresh_worker(
    outcome: Outcome, index: int
) -> None:
    reference = outcome.fresh.template("victim_RESPONSE", "TapStack")
    assert b'"VersioningConfiguration"' in reference and b"AWS::SQS::Queue" in reference
    victim = outcome.sequence.result(_victim_id(index))
    synth = victim["synth"]
    assert victim["status"] == "graded" and synth["status"] == "ok", synth
    assert synth["worker"]["id"] == 0
    assert not synth["worker"].get("tampered"), synth["worker"]  # a plain answer is never taken for an attack
    assert outcome.sequence.template(_victim_id(index), "TapStack") == reference
    fresh = outcome.fresh.result("victim_RESPONSE")
    assert (victim["total"], victim["scores"]) == (fresh["total"], fresh["scores"])
    assert [f["check"] for f in victim["findings"]] == [f["check"] for f in fresh["findings"]]


def test_a_memory_bomb_ends_in_its_own_failure(outcome: Outcome) -> None:
    synth = outcome.hostile("memory_bomb")["synth"]
    assert synth["cause"] in ("memory", "timeout"), synth
    if synth["cause"] == "memory":
        assert synth["worker"].get("retried"), synth["worker"]  # a death is retried once, then it is its own


def test_a_kill_from_a_shell_is_retried_once_then_the_answers(outcome: Outcome) -> None:
    synth = outcome.hostile("shell_kill")["synth"]
    assert synth["error_type"] == "WorkerDied" and "killed by SIGKILL" in synth["worker"]["retried"], synth


def test_every_way_out_of_the_process_is_refused_in_the_job(outcome: Outcome) -> None:
    log = (outcome.sequence.out / _hostile_id(SEQUENCE.index("exits")) / "synth.log").read_text()
    tried = json.loads(log.split("EXITS ", 1)[1].splitlines()[0])
    assert len(tried) == 6 and all("the app called process." in t for t in tried), tried
    worker = outcome.hostile("exits")["synth"]["worker"]
    assert not worker.get("retried") and not worker.get("recycled"), worker  # the worker lived on


def test_endless_output_is_capped(outcome: Outcome) -> None:
    log = outcome.sequence.out / _hostile_id(SEQUENCE.index("endless_output")) / "synth.log"
    assert log.stat().st_size <= SandboxOptions().log_cap_bytes + 100


def test_a_fork_storm_is_bounded_by_the_process_limit(outcome: Outcome) -> None:
    report = outcome.report("fork_storm")
    assert report["spawned"] < SandboxOptions().max_procs, report
    if os.geteuid() == 0:  # the process limit applies with a uid of its own (root drops to it)
        assert report["refused"] == "EAGAIN", report


def test_forged_frames_do_not_become_the_result(outcome: Outcome) -> None:
    synth = outcome.hostile("forge_frames")["synth"]
    assert synth["stacks"] == ["TapStack"], synth  # not the forged "Forged" stack
    assert 1 in json.loads(
        outcome.sequence.outputs(_hostile_id(SEQUENCE.index("forge_frames")), "TapStack")["Sent"]
    )


def test_writes_outside_the_environment_and_the_network_are_contained(outcome: Outcome) -> None:
    report = outcome.report("escape")
    assert [k for k, v in report.items() if v == "WRITTEN"] == []
    assert outcome.canaries.secret() not in json.dumps(report)
    assert report["network"].startswith("NETERR"), report["network"]


def test_the_environment_and_proc_show_only_the_sandbox(outcome: Outcome) -> None:
    report = outcome.report("read_env_and_proc")
    assert set(report["env"]) <= ALLOWED_ENV, set(report["env"]) - ALLOWED_ENV
    for pid, keys in report["environs"].items():
        readable = {k for k in keys if not k.startswith("ERR ")}  # init's is not (another uid's)
        assert readable <= ALLOWED_ENV, (pid, readable - ALLOWED_ENV)
    for secret in h.SECRETS.values():
        assert secret not in report["environ_text"]
    assert report["hostname"] == "sandbox" and report["uid"] != 0
    cmdlines = " | ".join(report["processes"].values())
    assert len(report["processes"]) < 10, cmdlines  # its own pid namespace: bwrap, the worker, a child
    assert "cli grade" not in cmdlines and "pytest" not in cmdlines
    assert report["kcore"].startswith("ERR") and report["sysrq"] != "written", report


def test_scratch_space_is_bounded_and_emptied_for_the_next_answer(outcome: Outcome) -> None:
    log = (outcome.sequence.out / _hostile_id(SEQUENCE.index("fill_scratch")) / "synth.log").read_text()
    report = json.loads(log.split("FILL-REPORT ", 1)[1].splitlines()[0])
    limit_files = SCRATCH_MB // 4
    for folder, (files, error) in report.items():
        assert error == "ENOSPC" and files <= limit_files, (folder, report)
