"""Build the command line that starts a process inside the sandbox.

The sandbox is bubblewrap: a read-only view of just the system, the Python installation, the
venv and this project; the job's files read-only at ``/in``; private size-bounded tmpfs folders
``/job``, ``/out`` and ``/tmp`` (nothing a job writes reaches the host disk, except its log,
bounded by the file size limit); no network, own pid/ipc/uts namespaces; a scrubbed environment; and, when the grader runs as
root, an unprivileged uid of its own per worker so that RLIMIT_NPROC actually bounds fork
bombs (the kernel never applies NPROC to uid 0, also not to root mapped into a user namespace).
"""

from __future__ import annotations

import itertools
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from iacgrade.graders.defaults import SCRATCH_MB
from iacgrade.graders.locations import GRADERS_DIR, IMPORT_ROOT, PACKAGE_DIR, node_toolchain
from iacgrade.graders.sandbox.options import SandboxOptions

JOB_DIR = "/job"
OUT_DIR = "/out"
IN_DIR = "/in"
# The only files of /out that are the host's: bound in, so their size is bounded by RLIMIT_FSIZE.
OUT_FILES = ("synth.log", "worker.log")
# The jsii package cache is extracted once by the grader and mounted read-only, so that no
# answer can rewrite aws-cdk-lib's JavaScript that later answers lazily load.
JSII_CACHE_DIR = "/jsii-cache"
NODE_TOOLCHAIN = node_toolchain()
# Each pool gets its own uid range, and every worker start a fresh uid from it: a killed
# sandbox's processes may take a moment to die and must not count against its successor's NPROC.
BASE_UID = 100000 + (os.getpid() % 20000) * 4096
_UIDS = itertools.count()

# Environment the sandbox gets; nothing else of the grader's environment passes.
_PASS_ENV = ("LANG", "LC_ALL", "TZ")


@dataclass(frozen=True)
class Isolation:
    """What isolation this machine offers: bwrap (path, version) or a plain process."""

    kind: str  # "bwrap" | "process"
    bwrap: str | None
    version: str | None
    setpriv: str | None
    root: bool


def detect_isolation() -> Isolation:
    """Find bubblewrap (and setpriv, to drop root) on this machine."""
    bwrap = shutil.which("bwrap")
    version = None
    if bwrap:
        try:
            out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10)
            version = out.stdout.strip() or None
            probe = subprocess.run(
                [bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"],
                capture_output=True,
                timeout=10,
            )
            if probe.returncode != 0:
                bwrap = None
        except (OSError, subprocess.TimeoutExpired):
            bwrap = None
    return Isolation(
        kind="bwrap" if bwrap else "process",
        bwrap=bwrap,
        version=version,
        setpriv=shutil.which("setpriv"),
        root=os.geteuid() == 0,
    )


def sandbox_env(jsii_cache: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a sandboxed process: built from scratch, never copied."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(IMPORT_ROOT),
        "PYTHONUNBUFFERED": "1",
        "PYTHONHASHSEED": "0",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        "JSII_DEPRECATED": "warn",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "1",
        # aws-cdk-lib >= 2.262 runs a WASM CloudFormation validator on every synth; its errors are
        # only warnings in the log, and cfn-lint lints the same template right after: off.
        "CDK_VALIDATION": "false",
    }
    for key in _PASS_ENV:
        if key in os.environ:
            env[key] = os.environ[key]
    env.setdefault("LANG", "C.UTF-8")
    if jsii_cache:
        env["JSII_RUNTIME_PACKAGE_CACHE_ROOT"] = jsii_cache
    if extra:
        env.update(extra)
    return env


def _ro_paths() -> list[str]:
    """Host paths the sandbox needs to read: system, Python, the venv and the site-packages folders
    the grader imports from, this project's code (the iacgrade package, and graders/ where a
    checkout's package links to it), and the Node toolchain of the CDK TypeScript/JavaScript kinds."""
    paths = ["/usr", "/etc"]
    code = (
        sys.base_prefix,
        sys.prefix,
        *_site_dirs(),
        str(PACKAGE_DIR),
        str(GRADERS_DIR),
        str(NODE_TOOLCHAIN),
        str(NODE_TOOLCHAIN / "node_modules"),  # may be a link to a shared install
    )
    for p in code:
        if not os.path.exists(p):
            continue  # e.g. no Node toolchain installed: bwrap refuses to bind a missing path
        real = os.path.realpath(p)
        if not any(real == q or real.startswith(q + "/") for q in paths):
            paths.append(real)
        if p != real and not any(p == q or p.startswith(q + "/") for q in paths):
            paths.append(p)
    node = shutil.which("node")
    if node:
        nd = os.path.dirname(os.path.realpath(node))
        if not any(nd.startswith(q + "/") for q in paths):
            paths.append(os.path.dirname(nd))
    return paths


def _site_dirs() -> list[str]:
    """site-packages folders on the grader's sys.path outside its prefixes (a `.pth` file or
    PYTHONPATH can add them): the sandboxed worker imports aws_cdk and cfnlint from the same places."""
    return [
        p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages")) and os.path.isdir(p)
    ]


def _parents_args(path: str, made: set[str]) -> list[str]:
    # bwrap creates missing parents 0700, which an unprivileged uid cannot cross.
    args: list[str] = []
    parts = Path(path).parts[1:-1]
    cur = ""
    for part in parts:
        cur += "/" + part
        if cur not in made:
            made.add(cur)
            args += ["--perms", "0755", "--dir", cur]
    return args


def bwrap_args(
    iso: Isolation, scratch: Path, uid: int, jsii_cache: Path | None, scratch_mb: int = SCRATCH_MB
) -> list[str]:
    """bwrap options: read-only binds, private bounded /job, /out and /tmp, no network, new namespaces."""
    assert iso.bwrap
    args = [
        iso.bwrap,
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
    ]
    if not iso.root:
        # Without root we cannot switch uid; a user namespace still confines the process.
        args += ["--unshare-user", "--uid", str(uid), "--gid", str(uid)]
    # Every folder a job can write is a tmpfs of bounded size: RLIMIT_FSIZE bounds one file,
    # this bounds them all (thousands of files each under the file limit end in ENOSPC). They are
    # mounted before the read-only binds, so a venv or project that lives under /tmp (a clone in
    # `mktemp -d`) is bound on top of the private /tmp instead of being hidden by it.
    size = str(scratch_mb * 1024 * 1024)
    for folder in ("/tmp", JOB_DIR, OUT_DIR):
        args += ["--perms", "1777", "--size", size, "--tmpfs", folder]
    made: set[str] = {"/tmp", JOB_DIR, OUT_DIR}
    for p in _ro_paths():
        args += _parents_args(p, made)
        args += ["--ro-bind", p, p]
    for link, target in (
        ("/bin", "usr/bin"),
        ("/lib", "usr/lib"),
        ("/lib64", "usr/lib64"),
        ("/sbin", "usr/sbin"),
    ):
        if os.path.islink(link):
            args += ["--symlink", target, link]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--ro-bind", str(scratch / "in"), IN_DIR]
    for name in OUT_FILES:
        args += ["--bind", str(scratch / "out" / name), f"{OUT_DIR}/{name}"]
    if jsii_cache is not None:
        args += ["--ro-bind", str(jsii_cache), JSII_CACHE_DIR]
        # jsii touches (and locks) one marker file per package on load: give each sandbox
        # writable copies of just those files, everything else of the cache stays read-only.
        markers = scratch / "markers"
        markers.mkdir(exist_ok=True)
        for i, marker in enumerate(sorted(jsii_cache.glob("**/.jsii-runtime-package-cache"))):
            copy = markers / str(i)
            copy.touch()
            if iso.root and iso.setpriv:
                os.chown(copy, uid, uid)
            args += ["--bind", str(copy), f"{JSII_CACHE_DIR}/{marker.relative_to(jsii_cache)}"]
    args += ["--chdir", JOB_DIR]
    if iso.root and iso.setpriv:
        args += [
            "--",
            iso.setpriv,
            "--reuid",
            str(uid),
            "--regid",
            str(uid),
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
        ]
    else:
        args += ["--"]
    return args


def rlimits_preexec(opts: SandboxOptions, cpu_seconds: int, nproc: bool) -> Callable[[], None]:
    """preexec_fn applying rlimits; they are inherited through bwrap by everything inside."""
    mem = opts.memory_mb * 1024 * 1024
    fsize = opts.max_file_mb * 1024 * 1024
    max_procs = opts.max_procs

    def _apply() -> None:
        # RLIMIT_AS cannot be used: V8 reserves >8 GB of address space for wasm; DATA works.
        resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if nproc:
            # Only with a uid of its own: NPROC counts every process of the (real) user.
            resource.setrlimit(resource.RLIMIT_NPROC, (max_procs, max_procs))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    return _apply


def sandbox_uid(slot: int) -> int:
    """A uid nobody else uses (``slot`` only documents who asked), so NPROC counts per worker."""
    return BASE_UID + next(_UIDS) % 4096
