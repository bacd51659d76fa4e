"""Progress for long runs: a rich bar on a terminal, plain lines elsewhere (CI logs)."""

from __future__ import annotations

import os
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from iacgrade.graders.models import SampleResult


class Progress:
    def __init__(self, *, enabled: bool, console: Console) -> None:
        self.enabled = enabled
        self.console = console
        self.total = 0
        self.done = 0
        self.failed = 0
        self.errors = 0
        self.started = time.monotonic()
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._last_line = 0.0

    def __enter__(self) -> Progress:
        # CI=true means a log, even where FORCE_COLOR or TTY_COMPATIBLE makes rich see a terminal.
        if self.enabled and self.console.is_terminal and not os.environ.get("CI"):
            self._bar = RichProgress(
                TextColumn("grading"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("synth failed {task.fields[failed]} · unreadable {task.fields[errors]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._bar.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)

    def start(self, total: int) -> None:
        self.total = total
        if self._bar is not None:
            self._task = self._bar.add_task("grade", total=total, failed=0, errors=0)
        elif self.enabled:
            self.console.print(f"grading {total} answers")

    def advance(self, result: SampleResult) -> None:
        self.done += 1
        self.failed += result.synth.status in ("failed", "timeout")
        self.errors += result.status == "error"
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=1, failed=self.failed, errors=self.errors)
            return
        if not self.enabled:
            return
        now = time.monotonic()
        # Plain lines: every answer for small runs, about every 5 s for big ones.
        if self.total <= 50 or now - self._last_line >= 5 or self.done == self.total:
            self._last_line = now
            rate = self.done / max(now - self.started, 1e-6)
            eta = (self.total - self.done) / rate if rate > 0 else 0
            self.console.print(
                f"[{self.done}/{self.total}] {result.sample_id}: {result.status}, synth "
                f"{result.synth.status}; failed so far {self.failed}, eta {eta:.0f}s",
                highlight=False,
            )
