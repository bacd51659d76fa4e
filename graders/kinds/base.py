"""The interface every kind of answer implements, and the run-wide state its builds share.

A kind is what differs between CDK Python, CDK TypeScript and CloudFormation answers: which of
the extracted files are its code, how they are laid out as a project, how that project becomes
CloudFormation (a sandboxed synth, or parsing the template), and the source model its
source-lens checks read. Everything downstream of the templates is shared by every kind.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from iacgrade.graders.analysis.source import SourceModel
from iacgrade.graders.models import ExtractedFile, Extraction, Sample, SynthResult, Workspace


@dataclass(frozen=True)
class BuildSettings:
    """What the run's options say about building: the same for every kind."""

    timeout: float
    scratch_mb: int
    isolation: str
    require_sandbox: bool
    workers: int
    enabled: bool = True  # False with --no-synth: the source lens alone


class Service(Protocol):
    """A long-lived helper a kind's builds share across a run (a warm synth pool, a linter)."""

    def __exit__(self, *exc: object) -> None: ...


class Services:
    """Run-wide services, each started on first use and closed once at the end of the run.

    A run served from the cache starts none; a service that failed to start fails the run
    (``failure``), never one answer after another.
    """

    def __init__(self, settings: BuildSettings) -> None:
        self.settings = settings
        self._started: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.failure: Exception | None = None
        self.closed = False

    def get(self, name: str, start: Callable[[BuildSettings], Any]) -> Any:
        with self._lock:
            if self.failure is not None:
                raise self.failure
            if self.closed:
                raise RuntimeError("the run was interrupted")
            if name not in self._started:
                try:
                    self._started[name] = start(self.settings)
                except Exception as exc:
                    self.failure = exc
                    raise
            return self._started[name]

    def close(self) -> None:
        with self._lock:
            self.closed = True
            started, self._started = self._started, {}
        for service in started.values():
            service.__exit__(None, None, None)


@dataclass
class Built:
    """A kind's build of one answer: the outcome, and the workspace it was built in."""

    synth: SynthResult
    workspace: Workspace | None = None
    notes: list[str] = field(default_factory=list)


class Kind(ABC):
    """One kind of answer. Implementations live beside this file, one module each."""

    name: ClassVar[str]
    # The metadata.json (platform, language) pairs of a task of this kind.
    metadata: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Said when the answer holds none of this kind's code.
    no_code: ClassVar[str]
    # What the report calls the build step and the answer's own entry point.
    build_name: ClassVar[str] = "Synthesis"
    entry_name: ClassVar[str] = "the answer's own app"
    # Why a category that reads the infrastructure is unscored when there is no template and the
    # source lens has nothing it can read.
    unreadable_note: ClassVar[str] = "none of the answer's code parses"

    @abstractmethod
    def recognises(self, extraction: Extraction) -> bool:
        """True when the answer's blocks are plainly of this kind (an answer outside a task)."""

    @abstractmethod
    def code_files(self, extraction: Extraction) -> list[ExtractedFile]:
        """The extracted files that are this kind's code; none means the answer has no code."""

    @abstractmethod
    def build(
        self, sample: Sample, extraction: Extraction, workdir: Path, out_dir: Path, services: Services
    ) -> Built:
        """Lay the project out under ``workdir`` and build its templates into ``out_dir``."""

    @abstractmethod
    def source_model(self, files: list[ExtractedFile], synth: SynthResult) -> SourceModel:
        """The source model the kind's source-lens checks read, given the build's outcome."""

    def judged(self, synth: SynthResult, source: SourceModel) -> SynthResult:
        """The build outcome as graded, given what the source model saw (default: as built)."""
        return synth
