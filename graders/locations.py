"""Where the grader's own files are, in a checkout and in an installed wheel alike.

The import namespace is ``iacgrade``. In a checkout, ``iacgrade/`` holds relative symlinks to the
top-level ``graders/``, ``reports/``, ``cli.py``, ``rubric.yaml`` and the Node toolchain's
``package.json`` and lock; in the wheel they are real files inside the package. Everything that
needs a path of ours (the sandbox's read-only binds and ``PYTHONPATH``, the Node toolchain) asks here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import iacgrade

# The iacgrade package as imported (not resolved: in a checkout its graders/ is a symlink) and the
# folder that holds it, which is what goes on a sandboxed worker's PYTHONPATH.
PACKAGE_DIR = Path(iacgrade.__file__).parent
IMPORT_ROOT = PACKAGE_DIR.parent
# The real folder of the graders package: in a checkout the symlink's target, bound beside the package.
GRADERS_DIR = Path(__file__).resolve().parent
# package.json and package-lock.json of the Node toolchain (CDK TypeScript/JavaScript kinds).
NODE_MANIFEST_DIR = (PACKAGE_DIR / "node" / "package.json").resolve().parent


def _user_node_toolchain() -> Path:
    """Where `iacgrade setup-node` installs the toolchain when the package has none beside it:
    ``$XDG_DATA_HOME/iacgrade/node-<lock digest>``, one folder per lock file."""
    lock = NODE_MANIFEST_DIR / "package-lock.json"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:12] if lock.is_file() else "unknown"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "iacgrade" / f"node-{digest}"


def node_toolchain() -> Path:
    """The Node toolchain folder: ``$IACGRADE_NODE_TOOLCHAIN``; else a checkout's ``toolchain/node``
    (installed by `make install`); else the user folder `iacgrade setup-node` installs into."""
    if os.environ.get("IACGRADE_NODE_TOOLCHAIN"):
        return Path(os.environ["IACGRADE_NODE_TOOLCHAIN"])
    if not NODE_MANIFEST_DIR.is_relative_to(PACKAGE_DIR.resolve()):
        return NODE_MANIFEST_DIR  # a checkout: iacgrade/node/package.json links to toolchain/node
    return _user_node_toolchain()


def install_node_toolchain(target: Path | None = None) -> Path:
    """Install the Node toolchain from the bundled package.json and lock with ``npm ci`` (nothing
    else is fetched; the registry is npm's default or the user's npm config). Returns the folder."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH: install Node.js (with npm) first")
    target = target or node_toolchain()
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        source = NODE_MANIFEST_DIR / name
        if source.resolve() != (target / name).resolve():
            shutil.copyfile(source, target / name)
    subprocess.run(
        [
            npm,
            "ci",
            "--omit=dev",
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
        ],
        cwd=target,
        check=True,
    )
    return target
