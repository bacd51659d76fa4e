"""Hostile answers graded through the real command line: status, message, and nothing let out.

Three grading processes run at once (so the suite costs about one run):
- ``main``: every answer in ``answers/`` plus one declaring thousands of files, on 2 warm workers
  with a short timeout;
- ``sequence``: on ONE warm worker, each answer that tries to spoil the worker followed by a
  benign victim, so the victim certainly runs on the worker the hostile answer used;
- ``fresh``: the victim alone in a fresh process (``--isolation process``): the reference every
  victim's template must equal byte for byte.

Around them: snapshots of canary folders (world-writable, in /tmp, $HOME and the repo), the venv,
the jsii cache, the process table, and fake credentials in the grader's environment.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iacgrade.graders.sandbox.launcher import detect_isolation
from iacgrade.graders.sandbox.options import SandboxOptions
from tests.hostile import harness as h
from tests.run_factory import dev_rubric

# kill -9 -1 and fork storms must never run unsandboxed (as root they would take the machine down).
pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
    pytest.mark.skipif(detect_isolation().kind != "bwrap", reason="bubblewrap is not usable here"),
]

TIMEOUT = 20
HOSTILE = sorted(p.name[: -len("_RESPONSE.md")] for p in h.ANSWERS.glob("*_RESPONSE.md"))
MAIN = HOSTILE
VICTIMS = [n for n in HOSTILE if n.startswith("zz_victim")]
SEQUENCE = [
    "monkeypatch_cdk",
    "patch_cfnlint",
    "delayed_patch",
    "forge_protocol",
    "kill_all",
    "symlink_write",
    "spawn_processes",
    "fork_storm",
    "os_exit",
    "fill_scratch",
]
# Answers that attack the worker itself: the worker that ran them must be reported tampered
# (and so replaced), in the one-worker sequence and in the main run alike.
RECYCLED = {
    "monkeypatch_cdk": "attributes changed",
    "patch_cfnlint": "cfnlint",
    "delayed_patch": "OS threads left running",
    "forge_protocol": "forged frames on the protocol channel",
    "spawn_processes": "processes left running",
    "fork_storm": "processes left running",
    "fill_scratch": "/tmp holds",
}


@dataclass
class Outcome:
    main: h.Run
    sequence: h.Run
    fresh: h.Run
    canaries: h.Canaries
    before: dict[str, Any]
    after: dict[str, Any]
    pwned: list[str]
    leftovers: list[h.Proc]

    def everything_written(self) -> Iterator[Path]:
        for run in (self.main, self.sequence, self.fresh):
            yield from (p for p in run.out.rglob("*") if p.is_file() and not p.is_symlink())


def _protected(canaries: h.Canaries) -> dict[str, Any]:
    venv_site = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
    from iacgrade.graders.sandbox.jsii_cache import cache_path

    jsii = cache_path()  # the one the pool mounts (other versions' caches may sit beside it)
    state: dict[str, Any] = {}
    for d in canaries.dirs:
        state |= h.tree_state(d)
    state |= h.tree_state(venv_site / "aws_cdk", hash_files=False)
    state |= h.tree_state(Path(sys.prefix) / "pyvenv.cfg")
    # jsii's per-package lock markers are touched by any unsandboxed aws_cdk import on the machine
    # (another run, a test): their mtime is no evidence; every other file's is.
    state |= {k: v for k, v in h.tree_state(jsii, hash_files=False).items() if "package-cache" not in k}
    state |= h.tree_state(h.ANSWERS)
    return state


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("hostile")
    canaries = h.Canaries.make()
    rubric = str(dev_rubric(tmp))
    runs: dict[str, h.Run] = {}
    try:
        folders = {name: tmp / name for name in ("main", "sequence", "fresh")}
        for name, folder in folders.items():
            subs = {
                "TAG": canaries.tag,
                "CANARY_TMP": str(canaries.tmp),
                "CANARY_HOME": str(canaries.home),
                "CANARY_REPO": str(canaries.repo),
                "OUT": str(tmp / f"{name}-out"),
                "ANSWERS": str(folder),
                "VENV": sys.prefix,
            }
            if name == "main":
                h.prepare_answers(folder, MAIN, subs)
                h.thousands_of_files(folder)
            elif name == "sequence":
                names = []
                for i, hostile in enumerate(SEQUENCE):
                    names += [f"{hostile}=s{i:02d}a_{hostile}", f"zz_victim_1=s{i:02d}b_victim"]
                h.prepare_answers(folder, names, subs)
            else:
                h.prepare_answers(folder, ["zz_victim_1=victim"], subs)
        # The pool prepares the jsii cache on first use; on a machine that has none yet (or none for
        # these package versions) that must happen before the snapshot, not count as a write.
        from iacgrade.graders.sandbox.jsii_cache import prepare_jsii_cache

        assert prepare_jsii_cache() is not None, "the jsii package cache could not be prepared"
        before = _protected(canaries)
        procs_before = h.process_table()
        env = h.grader_env()
        common = ["--rubric", rubric, "--timeout", str(TIMEOUT)]
        runs["main"] = h.Run([str(folders["main"]), "--workers", "2", *common], tmp / "main-out").start(env)
        runs["sequence"] = h.Run([str(folders["sequence"]), "--workers", "1", *common], tmp / "sequence-out")
        runs["sequence"].start(env)
        runs["fresh"] = h.Run(
            [str(folders["fresh"]), "--workers", "1", "--isolation", "process", *common], tmp / "fresh-out"
        ).start(env)
        for run in runs.values():
            run.wait(timeout=900)
        seen_uids = h.worker_uids(runs.values())
        left = h.leftovers(procs_before, [r.pid for r in runs.values()], canaries.tag, seen_uids)
        pwned = h.pwned_files(
            canaries.tag, [Path("/tmp"), Path.home(), Path("/"), h.ROOT, tmp, *canaries.dirs]
        )
        yield Outcome(
            runs["main"], runs["sequence"], runs["fresh"], canaries, before, _protected(canaries), pwned, left
        )
    finally:
        for run in runs.values():
            if run.proc is not None and run.proc.poll() is None:
                run.proc.kill()
        canaries.remove()


# -- the run as a whole -------------------------------------------------------------------------


def test_every_run_finished_and_graded_every_answer(outcome: Outcome) -> None:
    for run in (outcome.main, outcome.sequence, outcome.fresh):
        assert run.proc is not None and run.proc.returncode == 0, run.stderr[-3000:]
        summary = run.summary()
        expected = len(list((run.out.parent / run.out.name.removesuffix("-out")).glob("*_RESPONSE.md")))
        assert summary["samples"] == summary["graded"] == expected, summary
        assert json.loads((run.out / "run.json").read_text())["finished"]
        rows = (run.out / "results.csv").read_text().splitlines()
        assert len(rows) == expected + 1


def test_nothing_outside_the_job_folder_changed(outcome: Outcome) -> None:
    changed = sorted(
        k
        for k in outcome.before.keys() | outcome.after.keys()
        if outcome.before.get(k) != outcome.after.get(k)
    )
    assert {k: (outcome.before.get(k), outcome.after.get(k)) for k in changed} == {}
    assert outcome.pwned == []


def test_no_process_outlives_the_run(outcome: Outcome) -> None:
    assert outcome.leftovers == []


def test_no_secret_reaches_any_output(outcome: Outcome) -> None:
    needles = [v.encode() for v in h.SECRETS.values()] + [outcome.canaries.secret().encode()]
    for path in outcome.everything_written():
        data = path.read_bytes()
        leaked = [n for n in needles if n in data]
        assert not leaked, f"{path} holds {leaked}"


def test_logs_are_capped(outcome: Outcome) -> None:
    cap = SandboxOptions().log_cap_bytes
    for log in outcome.main.out.glob("*/synth.log"):
        assert log.stat().st_size <= cap + 100, log


# -- per answer ---------------------------------------------------------------------------------

# answer -> (synth status, cause, substring of the message); None: not checked.
EXPECTED: dict[str, tuple[str, str | None, str | None]] = {
    "infinite_loop": ("timeout", "timeout", f"Timeout: synth ran longer than {TIMEOUT} s"),
    "hang_pipe_read": ("timeout", "timeout", "Timeout"),
    "hang_signal_pause": ("timeout", "timeout", "Timeout"),
    "hang_sleep": ("timeout", "timeout", "Timeout"),
    "huge_allocation": ("failed", "memory", "MemoryError"),
    "endless_output": ("failed", "other", "output limit exceeded (file size limit)"),
    "sys_exit": ("failed", "exited", "SystemExit: exit code 3"),
    "os_exit": ("failed", "exited", "exit code 7"),
    "kill_all": ("failed", "exited", "WorkerDied"),
    "c_stack_overflow": ("failed", "exited", "killed by SIGSEGV"),
    "deep_recursion": ("failed", "other", "RecursionError: maximum recursion depth exceeded"),
    "fill_scratch": ("failed", "other", "scratch space exhausted"),
    # Its frames also reach the jsii runtime's pipe to Node, which breaks its own synth.
    "forge_protocol": ("failed", None, None),
    "delayed_patch": ("ok", None, None),
    "spawn_processes": ("ok", None, None),
    "fork_storm": ("ok", None, None),
    "network": ("ok", None, None),
    "write_outside": ("ok", None, None),
    "read_environment": ("ok", None, None),
    "proc_host": ("ok", None, None),
    "monkeypatch_cdk": ("ok", None, None),
    "patch_cfnlint": ("ok", None, None),
    "symlink_read": ("ok", None, None),
    "symlink_write": ("ok", None, None),
    "path_traversal": ("ok", None, None),
    "signal_parent": ("ok", None, None),
    "gigantic_template": ("ok", None, None),
    "thousands_of_files": ("ok", None, None),
    **{v: ("ok", None, None) for v in VICTIMS},
}


def test_uid_range_matches_the_launcher() -> None:
    from iacgrade.graders.sandbox import launcher

    assert launcher.BASE_UID in h.sandbox_uids(os.getpid())


def test_every_answer_has_an_expectation() -> None:
    assert set(EXPECTED) == {*MAIN, "thousands_of_files"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_status_and_message(outcome: Outcome, name: str) -> None:
    status, cause, message = EXPECTED[name]
    result = outcome.main.result(f"{name}_RESPONSE")
    synth = result["synth"]
    assert result["status"] == "graded"
    assert synth["status"] == status, synth
    if cause is not None:
        assert synth["cause"] == cause, synth
    if message is not None:
        assert message in (synth["message"] or ""), synth
    if status != "ok":
        assert synth["message"], "a failed synth must say why"


def test_crash_names_the_signal(outcome: Outcome) -> None:
    message = outcome.main.result("c_stack_overflow_RESPONSE")["synth"]["message"]
    assert "killed by SIGSEGV" in message, message  # bwrap reports it as exit code 139 = 128 + 11
    message = outcome.main.result("kill_all_RESPONSE")["synth"]["message"]
    assert "killed by SIGKILL" in message, message


def test_deep_recursion_points_at_the_answer(outcome: Outcome) -> None:
    synth = outcome.main.result("deep_recursion_RESPONSE")["synth"]
    assert (synth["file"], synth["line"]) == ("app.py", 9), synth
    assert synth["message"].endswith("(app.py:9)"), synth


def test_scratch_space_is_bounded(outcome: Outcome) -> None:
    """Each writable folder ends in ENOSPC at its size limit, long before the answer's 200 files."""
    log = (outcome.main.out / "fill_scratch_RESPONSE" / "synth.log").read_text()
    report = json.loads(log.split("FILL-REPORT ", 1)[1].splitlines()[0])
    limit = SandboxOptions().scratch_mb * 1024 * 1024
    assert set(report) == {"/job/fill", "/tmp/fill", "/out/fill"}
    for folder, (files, written, error) in report.items():
        assert error == "ENOSPC" and 10 < files < 200 and written <= limit, (folder, report)


def test_network_is_unreachable(outcome: Outcome) -> None:
    report = outcome.main.report("network_RESPONSE", "Network")
    assert {k: v[0] for k, v in report.items() if k != "interfaces"} == dict.fromkeys(
        ("http", "metadata", "tcp", "dns", "udp"), "failed"
    )
    interfaces = json.loads(json.dumps(report["interfaces"]))
    assert interfaces[0] == "failed" or "'lo'" in interfaces[1] and "eth" not in interfaces[1]


def test_environment_is_scrubbed(outcome: Outcome) -> None:
    report = outcome.main.report("read_environment_RESPONSE", "Environ")
    keys = set(report["environ"])
    assert not {k for k in keys if k.startswith(("AWS_", "GITHUB", "IACGRADE_TEST"))}, keys
    assert keys <= {
        "PATH", "PWD", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH",
        "PYTHONUNBUFFERED", "PYTHONHASHSEED", "JSII_RUNTIME_PACKAGE_CACHE_ROOT", "JSII_DEPRECATED",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "CDK_DISABLE_VERSION_CHECK", "CDK_DISABLE_CLI_TELEMETRY",
        "IACGRADE_JOB_DIR", "IACGRADE_OUT_DIR", "CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_VALIDATION",
    }, keys  # fmt: skip


def test_proc_shows_only_the_sandbox(outcome: Outcome) -> None:
    report = outcome.main.report("proc_host_RESPONSE", "Proc")
    assert report["uid"] != 0 and report["euid"] != 0
    assert report["hostname"] == "sandbox"
    cmdlines = " | ".join(report["processes"].values())
    assert len(report["processes"]) < 10, cmdlines  # own pid namespace: bwrap, the worker, Node
    assert "cli grade" not in cmdlines and "pytest" not in cmdlines
    for key, value in report.items():
        if key.startswith("write ") and not key.startswith("write /proc/1/root/tmp"):
            assert value != "written", key  # /proc/1/root/tmp is the sandbox's own private /tmp
        if key.startswith("mem "):
            assert value != "opened" or key == f"mem {report['pid']}", key
    assert report["sysrq"] != "written"


def test_writes_outside_were_refused_or_private(outcome: Outcome) -> None:
    report = outcome.main.report("write_outside_RESPONSE", "Writer")
    host_only = [str(d) for d in outcome.canaries.dirs] + [
        str(outcome.main.out),
        str(outcome.main.out.parent / "main"),
        sys.prefix,
        "/jsii-cache",
        "/etc",
        "/usr",
    ]
    for path, what in report.items():
        target = path.removeprefix("chmod ")
        if any(target.startswith(p) for p in host_only):
            assert what not in ("written", "writable", "done"), (path, what)


def test_fork_storm_is_bounded_by_the_process_limit(outcome: Outcome) -> None:
    report = outcome.main.report("fork_storm_RESPONSE", "ForkStorm")
    assert report["refused"], report
    assert report["children"] < SandboxOptions().max_procs, report


def test_symlinks_lead_nowhere(outcome: Outcome) -> None:
    result = outcome.main.result("symlink_read_RESPONSE")
    assert result["synth"]["stacks"] == ["Reader"]  # the planted templates were not followed
    report = outcome.main.report("symlink_read_RESPONSE", "Reader")
    assert outcome.canaries.secret() not in json.dumps(report)
    assert not isinstance(report["home"], list), "the host $HOME canary was listed"
    write = outcome.main.report("symlink_write_RESPONSE", "LinkWriter")
    assert {k: v for k, v in write.items() if k.startswith("to_")} != {} and "written" not in {
        v for k, v in write.items() if k.startswith("to_")
    }


def test_path_traversal_stays_inside(outcome: Outcome) -> None:
    result = outcome.main.result("path_traversal_RESPONSE")
    paths = [f["path"] for f in result["files"]]
    assert "app.py" in paths
    for p in paths:
        assert not p.startswith(("/", "~")) and ".." not in p.split("/"), p
    files = outcome.main.out / "path_traversal_RESPONSE" / "files"
    for written in files.rglob("*"):
        assert written.resolve().is_relative_to(files.resolve())


def test_gigantic_templates_are_complete(outcome: Outcome) -> None:
    handles = 0
    for s in range(2):
        tpl = json.loads(outcome.main.template("gigantic_template_RESPONSE", f"Gigantic{s}"))
        handles += sum(
            r["Type"] == "AWS::CloudFormation::WaitConditionHandle" for r in tpl["Resources"].values()
        )
    assert handles == 1000
    assert len(tpl["Outputs"]["Huge"]["Value"]) == 8 * 1024 * 1024


def test_thousands_of_files_are_capped_with_a_warning(outcome: Outcome) -> None:
    result = outcome.main.result("thousands_of_files_RESPONSE")
    assert len(result["files"]) == 2501
    assert any("file cap" in w for w in result["warnings"]), result["warnings"]


def test_signals_never_reach_the_grader(outcome: Outcome) -> None:
    # The grader process survived (exit 0, every answer graded) and kept grading after these.
    for name in ("signal_parent", "kill_all"):
        assert outcome.main.result(f"{name}_RESPONSE")["status"] == "graded"
    report = outcome.main.report("signal_parent_RESPONSE", "Signals")
    assert report["ppid"] in (0, 1), report  # its parent is the sandbox's init, not the grader


@pytest.mark.parametrize("name", sorted(RECYCLED))
def test_hostile_workers_are_recycled(outcome: Outcome, name: str) -> None:
    sequence_id = f"s{SEQUENCE.index(name):02d}a_{name}_RESPONSE"
    for run, sid in ((outcome.sequence, sequence_id), (outcome.main, f"{name}_RESPONSE")):
        worker = run.result(sid)["synth"]["worker"]
        assert RECYCLED[name] in json.dumps(worker.get("tampered")), (sid, worker)
        assert worker.get("recycled"), (sid, worker)


# -- the next answer on the same worker ---------------------------------------------------------


def _victims(outcome: Outcome) -> list[tuple[h.Run, str]]:
    found = [(outcome.main, f"{v}_RESPONSE") for v in VICTIMS]
    found += [(outcome.sequence, f"s{i:02d}b_victim_RESPONSE") for i in range(len(SEQUENCE))]
    return found


def test_victims_synthesize_exactly_as_alone(outcome: Outcome) -> None:
    reference = outcome.fresh.template("victim_RESPONSE", "Victim")
    assert b'"VersioningConfiguration"' in reference
    for run, sid in _victims(outcome):
        synth = run.result(sid)["synth"]
        assert synth["status"] == "ok", (sid, synth)
        assert run.template(sid, "Victim") == reference, sid


@pytest.mark.parametrize("index", range(len(SEQUENCE)), ids=SEQUENCE)
def test_victim_after_each_hostile_answer_on_one_worker(outcome: Outcome, index: int) -> None:
    hostile = outcome.sequence.result(f"s{index:02d}a_{SEQUENCE[index]}_RESPONSE")
    victim = outcome.sequence.result(f"s{index:02d}b_victim_RESPONSE")
    assert hostile["status"] == victim["status"] == "graded"
    assert victim["synth"]["status"] == "ok", victim["synth"]
    assert victim["synth"]["worker"]["id"] == 0
    reference = outcome.fresh.template("victim_RESPONSE", "Victim")
    assert outcome.sequence.template(f"s{index:02d}b_victim_RESPONSE", "Victim") == reference
