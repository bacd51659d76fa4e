"""Run the grader on hostile answers and record what it changed on the machine.

The grader runs as a separate process (``python -m cli grade``), as a user would run it, so an
answer that got out and killed its parent would kill that process, not pytest. Around the run we
take snapshots of what answers must never change: canary folders in /tmp, $HOME and the
repository (world-writable, so only the sandbox's mounts protect them), the venv and the jsii
package cache, files named ``iacgrade-pwned-*`` anywhere an answer might drop one, and the
process table.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = Path(__file__).resolve().parent / "answers"
# Secrets planted in the grader's environment: no answer may ever see them.
SECRETS = {
    "IACGRADE_TEST_SECRET": "hostile-suite-secret-" + uuid.uuid4().hex,
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/" + uuid.uuid4().hex,
    "AWS_ACCESS_KEY_ID": "AKIA" + uuid.uuid4().hex[:16].upper(),
    "AWS_SESSION_TOKEN": "session-" + uuid.uuid4().hex,
    "GITHUB_TOKEN": "ghp_" + uuid.uuid4().hex,
}


def sandbox_uids(grader_pid: int) -> range:
    """The uids a grader process gives its sandbox workers (mirrors launcher.BASE_UID; a test checks)."""
    base = 100000 + (grader_pid % 20000) * 4096
    return range(base, base + 4096)


@dataclass
class Canaries:
    """World-writable folders with a victim file and a secret file, in /tmp, $HOME and the repo."""

    tag: str
    tmp: Path
    home: Path
    repo: Path

    @classmethod
    def make(cls) -> Canaries:
        tag = uuid.uuid4().hex[:10]
        dirs = (
            Path(tempfile.mkdtemp(prefix="iacgrade-canary-", dir="/tmp")),
            Path.home() / f".iacgrade-canary-{tag}",
            ROOT / "tests" / "hostile" / f".canary-{tag}",
        )
        for d in dirs:
            d.mkdir(exist_ok=True)
            (d / "victim.txt").write_text("canary victim\n")
            (d / "secret.txt").write_text(f"CANARY-SECRET-{tag}\n")
            for f in d.iterdir():
                f.chmod(0o666)
            d.chmod(0o777)
        return cls(tag, *dirs)

    @property
    def dirs(self) -> tuple[Path, Path, Path]:
        return (self.tmp, self.home, self.repo)

    def secret(self) -> str:
        return f"CANARY-SECRET-{self.tag}"

    def remove(self) -> None:
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


def tree_state(root: Path, *, hash_files: bool = True, limit: int = 200_000) -> dict[str, Any]:
    """Every entry below ``root`` (not following links): type, mode, size, mtime and content hash."""
    state: dict[str, Any] = {}
    if not root.exists():
        return state
    for n, (dirpath, dirnames, filenames) in enumerate(os.walk(root)):
        if n > limit:
            break
        for name in [".", *dirnames, *filenames]:
            path = Path(dirpath) / name if name != "." else Path(dirpath)
            try:
                st = path.lstat()
            except OSError:
                continue
            entry: list[Any] = [st.st_mode, st.st_size, st.st_mtime_ns]
            if hash_files and path.is_file() and not path.is_symlink() and st.st_size < 1_000_000:
                entry.append(hashlib.sha256(path.read_bytes()).hexdigest())
            if path.is_symlink():
                entry.append(os.readlink(path))
            state[str(path)] = entry
    return state


def pwned_files(tag: str, roots: list[Path]) -> list[str]:
    """Files named after this run's tag below ``roots`` (shallowly for /tmp and $HOME)."""
    found = []
    for root in roots:
        if not root.exists():
            continue
        depth = 0 if root in (Path("/tmp"), Path.home(), Path("/")) else 8
        base = len(root.parts)
        for dirpath, dirnames, filenames in os.walk(root):
            if len(Path(dirpath).parts) - base >= depth:
                dirnames[:] = []
            dirnames[:] = [d for d in dirnames if d not in (".git", ".venv", "node_modules", "proc")]
            if "/files" in dirpath and "-out/" in dirpath:
                continue  # an answer's own extracted files, kept (sanitised) beside its result
            found += [str(Path(dirpath) / n) for n in filenames + dirnames if f"iacgrade-pwned-{tag}" in n]
    return sorted(found)


@dataclass(frozen=True)
class Proc:
    pid: int
    uid: int
    ppid: int
    start: int
    cmdline: str


def process_table() -> dict[tuple[int, int], Proc]:
    """Every process on the machine, keyed by (pid, start time) so a reused pid is a new process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{entry}/status").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        uid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:"))
        p = Proc(int(entry), uid, int(stat[1]), int(stat[19]), cmd.strip())
        table[(p.pid, p.start)] = p
    return table


def worker_uids(runs: Iterable[Run]) -> set[int]:
    """The sandbox uids the runs' answers were graded under (from each result.json), so that
    ``leftovers`` can look for processes those uids left behind."""
    return {
        int(uid)
        for run in runs
        for p in run.out.glob("*/result.json")
        if (uid := (json.loads(p.read_text())["synth"].get("worker") or {}).get("uid")) is not None
    }


def leftovers(
    before: dict[tuple[int, int], Proc], grader_pids: list[int], tag: str, seen_uids: set[int]
) -> list[Proc]:
    """New processes that belong to the runs: a sandbox uid of theirs, or the answers' marker."""
    uids = seen_uids.union(*(sandbox_uids(p) for p in grader_pids))
    deadline = time.monotonic() + 10  # killed processes take a moment to be reaped
    while True:
        now = process_table()
        left = [
            p
            for key, p in now.items()
            if key not in before and (p.uid in uids or f"iacgrade-hostile-{tag}" in p.cmdline)
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def prepare_answers(dest: Path, names: list[str], subs: dict[str, str]) -> None:
    """Copy answers into ``dest`` with the run's paths filled in for the @@PLACEHOLDERS@@."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        src, _, as_name = name.partition("=")
        text = (ANSWERS / f"{src}_RESPONSE.md").read_text()
        for key, value in subs.items():
            text = text.replace(f"@@{key}@@", value)
        (dest / f"{as_name or src}_RESPONSE.md").write_text(text)


def thousands_of_files(dest: Path, count: int = 2500) -> None:
    """An answer that declares ``count`` files, beyond the workspace's file cap, plus an app."""
    parts = ["# Hostile: thousands of files\n"]
    parts.append(
        "## File: app.py\n\n```python\nimport aws_cdk as cdk\n\napp = cdk.App()\n"
        'cdk.Stack(app, "Many")\napp.synth()\n```\n'
    )
    parts += [f"## File: lib/mod_{i}.py\n\n```python\nVALUE = {i}\n```\n" for i in range(count)]
    (dest / "thousands_of_files_RESPONSE.md").write_text("\n".join(parts))


@dataclass
class Run:
    """One ``iacgrade grade`` process."""

    args: list[str]
    out: Path
    proc: subprocess.Popen[str] | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    _t0: float = field(default=0.0, repr=False)

    def start(self, env: dict[str, str]) -> Run:
        cmd = [
            sys.executable,
            "-m",
            "iacgrade.cli",
            "grade",
            *self.args,
            "--out",
            str(self.out),
            "--json",
            "--no-cache",
        ]
        self._t0 = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return self

    def wait(self, timeout: float) -> Run:
        assert self.proc is not None
        try:
            self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.stdout, self.stderr = self.proc.communicate()
        self.seconds = time.monotonic() - self._t0
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def summary(self) -> dict[str, Any]:
        lines = self.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else {}

    def result(self, sample_id: str) -> dict[str, Any]:
        return json.loads((self.out / sample_id / "result.json").read_text())

    def template(self, sample_id: str, stack: str) -> bytes:
        rel = self.result(sample_id)["synth"]["templates"][stack]
        return (self.out / sample_id / rel).read_bytes()

    def outputs(self, sample_id: str, stack: str) -> dict[str, Any]:
        tpl = json.loads(self.template(sample_id, stack))
        return {k: v.get("Value") for k, v in (tpl.get("Outputs") or {}).items()}

    def report(self, sample_id: str, stack: str) -> dict[str, Any]:
        return json.loads(self.outputs(sample_id, stack)["Report"])  # type: ignore[no-any-return]


def grader_env(home: Path | None = None) -> dict[str, str]:
    env = {**os.environ, **SECRETS, "PYTHONPATH": str(ROOT)}
    if home is not None:
        env["HOME"] = str(home)
    return env
