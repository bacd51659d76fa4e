"""What the sandbox found on this machine: isolation, Node, aws-cdk-lib, jsii, Python."""

from __future__ import annotations

import platform
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from iacgrade.graders.sandbox.launcher import detect_isolation


def _version(pkg: str) -> str | None:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def doctor_report() -> dict[str, Any]:
    """Versions and isolation, for ``iacgrade doctor``."""
    iso = detect_isolation()
    node = shutil.which("node")
    node_version = None
    if node:
        try:
            node_version = subprocess.run(
                [node, "--version"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            node_version = None
    return {
        "isolation": iso.kind,
        "bwrap": iso.bwrap,
        "bwrap_version": iso.version,
        "setpriv": iso.setpriv,
        "runs_as_root": iso.root,
        "node": node,
        "node_version": node_version,
        "aws_cdk_lib": _version("aws-cdk-lib"),
        "jsii": _version("jsii"),
        "constructs": _version("constructs"),
        "cfn_lint": _version("cfn-lint"),
        "python": platform.python_version(),
        "warning": None
        if iso.kind == "bwrap"
        else "bubblewrap not usable: answers would run as plain processes",
    }
