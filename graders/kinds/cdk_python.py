"""CDK Python answers: laid over the task's scaffold and synthesized by the warm Python pool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, ClassVar

from iacgrade.graders.analysis.source import SourceModel, parse_source
from iacgrade.graders.kinds.base import BuildSettings, Built, Kind, Services
from iacgrade.graders.models import ExtractedFile, Extraction, Sample, SynthResult
from iacgrade.graders.workspace import assemble

_CDK_IMPORT = re.compile(r"^\s*(from|import)\s+(aws_cdk|constructs)\b", re.M)


class CdkPython(Kind):
    name: ClassVar[str] = "cdk-python"
    metadata: ClassVar[tuple[tuple[str, str], ...]] = (("cdk", "py"), ("cdk", "python"))
    no_code: ClassVar[str] = "the answer has no Python code"

    def recognises(self, extraction: Extraction) -> bool:
        return any(f.language == "python" and _CDK_IMPORT.search(f.content) for f in extraction.files)

    def code_files(self, extraction: Extraction) -> list[ExtractedFile]:
        return [f for f in extraction.files if f.language == "python"]

    def build(
        self, sample: Sample, extraction: Extraction, workdir: Path, out_dir: Path, services: Services
    ) -> Built:
        workspace = assemble(sample, extraction, workdir)
        if not self.code_files(extraction):
            return Built(SynthResult(status="skipped", cause="no-code", message=self.no_code), workspace)
        if not services.settings.enabled:
            return Built(
                SynthResult(status="skipped", message="synthesis switched off (--no-synth)"), workspace
            )
        pool = services.get("python-synth", start_pool)
        return Built(pool.synthesize(workspace, sample, out_dir), workspace)

    def source_model(self, files: list[ExtractedFile], synth: SynthResult) -> SourceModel:
        return PythonSource([parse_source(f.path, f.content, f) for f in files if f.language == "python"])

    def judged(self, synth: SynthResult, source: SourceModel) -> SynthResult:
        """An answer with nothing to run *because* its code does not parse failed synth; it was not skipped.

        The entry planner reads the answer's files with ``ast``: when the only stack module is cut
        off mid-statement it finds no Stack class and reports "no entry". The answer did give a
        stack, so the truthful outcome is a synth failure caused by the syntax error.
        """
        if synth.status != "skipped" or synth.cause != "no-entry":
            return synth
        for src in source.files:
            exc = src.syntax_error
            if exc is None:
                continue
            where = f"{src.path}:{exc.lineno}" if exc.lineno else src.path
            return synth.model_copy(
                update={
                    "status": "failed",
                    "cause": "syntax",
                    "error_type": "SyntaxError",
                    "file": src.path,
                    "line": exc.lineno,
                    "message": f"{where} does not parse ({exc.msg}), so nothing in it can be "
                    f"synthesized; {synth.message}",
                }
            )
        return synth


class PythonSource(SourceModel):
    """The answer's Python files, each parsed with ``ast`` (its syntax error kept when it does not parse)."""

    def readable(self) -> bool:
        """A Python file that parses and uses the CDK: what the source lens of a category can judge."""
        return any("aws_cdk" in src.text or "constructs" in src.text for src in self.parsed())


def start_pool(settings: BuildSettings) -> Any:
    from iacgrade.graders.sandbox import SandboxOptions, SynthPool

    check_node()
    pool = SynthPool(
        SandboxOptions(
            workers=settings.workers,
            timeout=settings.timeout,
            scratch_mb=settings.scratch_mb,
            isolation=settings.isolation,  # type: ignore[arg-type]
            require_sandbox=settings.require_sandbox,
        )
    )
    return pool.__enter__()


MIN_NODE_MAJOR = 18


def check_node() -> None:
    """Node.js runs aws-cdk-lib's jsii runtime: say so plainly when it is missing or too old."""
    from iacgrade.graders.sandbox import SandboxUnavailable
    from iacgrade.graders.sandbox.launcher import sandbox_env

    path = sandbox_env(None)["PATH"]  # where the sandboxed workers look for it
    node = shutil.which("node", path=path)
    hint = f"install Node.js >= {MIN_NODE_MAJOR}, or grade with --no-synth (source checks only)"
    if node is None:
        raise SandboxUnavailable(f"Node.js not found on {path}: aws-cdk-lib needs it to synthesize; {hint}")
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
        version = out.stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxUnavailable(f"Node.js at {node} does not run ({exc}); {hint}") from exc
    found = re.fullmatch(r"v(\d+)\.\d+\.\d+", version)
    if out.returncode != 0 or found is None or int(found.group(1)) < MIN_NODE_MAJOR:
        raise SandboxUnavailable(
            f"Node.js at {node} is {version or 'unknown'!r}: aws-cdk-lib needs >= v{MIN_NODE_MAJOR}; {hint}"
        )
