"""Sandboxed synthesis of answers: a warm pool of bubblewrap workers running aws-cdk-lib.

Public API::

    with SynthPool(SandboxOptions(workers=2)) as pool:
        result = pool.synthesize(workspace, sample, out_dir)
    doctor_report()

Imports are lazy so that the worker (which runs inside the sandbox and imports
``iacgrade.graders.sandbox.worker``) does not load the grader-side modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iacgrade.graders.sandbox.doctor import doctor_report
    from iacgrade.graders.sandbox.options import SandboxOptions, SandboxUnavailable
    from iacgrade.graders.sandbox.pool import SynthPool

__all__ = ["SynthPool", "SandboxOptions", "SandboxUnavailable", "doctor_report"]

_WHERE = {
    "SynthPool": "iacgrade.graders.sandbox.pool",
    "SandboxOptions": "iacgrade.graders.sandbox.options",
    "SandboxUnavailable": "iacgrade.graders.sandbox.options",
    "doctor_report": "iacgrade.graders.sandbox.doctor",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(name)
