"""Prepare the jsii package cache once, outside the sandbox, to mount read-only inside it.

Extracting aws-cdk-lib takes seconds per process; doing it once makes cold starts cheaper and,
mounted read-only, keeps any answer from rewriting the JavaScript later answers load.

One edit is made to the extracted aws-cdk-lib: its deprecation printer warns about each API only
once per Node process, so in a warm worker an answer would not see the warnings an earlier answer
triggered, and the same answer would be graded differently warm and cold. The edited printer
warns on every use; ``collect.deprecations`` keeps one line per API and answer.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from iacgrade.graders.sandbox.launcher import sandbox_env


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "iacgrade"


def _version_tag() -> str:
    """aws-cdk-lib's and jsii's versions, and a digest of every jsii package aws-cdk-lib loads
    (constructs, aws-cdk.cloud-assembly-schema, the asset packages). Two environments whose
    dependencies differ in any of them get caches of their own: one that found its version of a
    package missing from a shared cache would extract it there while grading."""
    try:
        from importlib.metadata import requires, version

        names = {"constructs", "jsii"}
        for req in requires("aws-cdk-lib") or []:
            name = re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0]
            if name.startswith("aws-cdk.") or name == "constructs":
                names.add(name)
        pinned = ",".join(f"{n}={version(n)}" for n in sorted(names))
        digest = hashlib.sha256(pinned.encode()).hexdigest()[:10]
        return f"cdk{version('aws-cdk-lib')}-jsii{version('jsii')}-{digest}-{_PATCH_TAG}"
    except Exception:  # noqa: BLE001 - any tag is fine, it only separates caches
        return "unknown"


# Bumped whenever the edit below changes, so a cache made without it is made again.
_PATCH_TAG = "w1"
_WARN_ONCE = b"if(ALREADY_WARNED.has(name))return;ALREADY_WARNED.add(name);"


def warn_every_time(printer: Path) -> bool:
    """Drop the once-per-process memory of aws-cdk-lib's deprecation printer (False: not found)."""
    code = printer.read_bytes()
    if _WARN_ONCE not in code:
        return False
    printer.write_bytes(code.replace(_WARN_ONCE, b"", 1))
    return True


def cache_path() -> Path:
    """Where the jsii cache of the installed aws-cdk-lib and jsii is (made or not)."""
    return _cache_root() / f"jsii-cache-{_version_tag()}"


def prepare_jsii_cache(timeout: float = 300.0) -> Path | None:
    """Return a populated, world-readable jsii package cache, or None when it cannot be made."""
    root = _cache_root()
    target = cache_path()
    done = target / ".iacgrade-complete"
    if done.exists():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if done.exists():
                return target
            env = sandbox_env(str(target))
            env["HOME"] = str(root)
            proc = subprocess.run(
                [sys.executable, "-c", "import aws_cdk"],
                env=env,
                capture_output=True,
                timeout=timeout,
            )
            if proc.returncode != 0:
                return None
            for printer in target.rglob(".warnings.jsii.js"):
                warn_every_time(printer)
            for dirpath, _dirnames, filenames in os.walk(target):
                os.chmod(dirpath, 0o755)
                for name in filenames:
                    path = os.path.join(dirpath, name)
                    if not os.path.islink(path):
                        os.chmod(path, 0o644 | (os.stat(path).st_mode & 0o111))
            done.write_text("ok\n")
            return target
    except (OSError, subprocess.TimeoutExpired):
        return None
