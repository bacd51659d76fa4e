"""iacgrade command line: parse options, call graders/ and reports/, report progress."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Grade LLM answers that contain AWS CDK (Python) code.", no_args_is_help=True,
                  add_completion=False)
err = Console(stderr=True)

EXIT_RUN_FAILED = 2


@app.command()
def grade(
    paths: Annotated[list[Path], typer.Argument(help="Answer files, or folders searched for *RESPONSE*.md.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    workers: Annotated[int, typer.Option(help="Parallel synth workers (default: the number of cores).")] = 0,
    rubric: Annotated[Path | None, typer.Option(help="Rubric file (default: the bundled rubric.yaml).")] = None,
    scaffold: Annotated[Path | None, typer.Option(help="Scaffold folder (tap.py, cdk.json) for answers outside a task folder.")] = None,
    timeout: Annotated[float, typer.Option(help="Wall-clock seconds one answer may synthesize.")] = 60.0,
    pattern: Annotated[str, typer.Option(help="File-name pattern searched for in folders.")] = "*RESPONSE*.md",
    max_bytes: Annotated[int, typer.Option(help="Answers larger than this are not graded.")] = 5_000_000,
    isolation: Annotated[str, typer.Option(help="warm (reused sandboxed workers) or process (a fresh one per answer).")] = "warm",
    require_sandbox: Annotated[bool, typer.Option(help="Fail instead of running without bubblewrap.")] = False,
    synth: Annotated[bool, typer.Option("--synth/--no-synth", help="Synthesize (off: source checks only).")] = True,
    label: Annotated[str | None, typer.Option(help="A label for the run, such as the model's name.")] = None,
    fmt: Annotated[list[str], typer.Option("--format", help="Extra outputs: sarif, junit.")] = [],  # noqa: B006
    min_score: Annotated[float, typer.Option(help="JUnit: answers below this total fail.")] = 60.0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Grade every answer afresh: no resume, no result cache.")] = False,
    cache_dir: Annotated[Path | None, typer.Option(help="Result cache folder (default: $XDG_CACHE_HOME/iacgrade or ~/.cache/iacgrade).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")] = False,
) -> None:
    """Grade answers: extract, synthesize, check, score and write a report for each."""
    from graders.pipeline import GradeOptions, grade as run_grade
    from graders.rubric import RubricError
    from reports.progress import Progress

    if isolation not in ("warm", "process"):
        raise typer.BadParameter("must be warm or process", param_hint="--isolation")
    for p in paths:
        if not p.exists():
            err.print(f"[red]error:[/] {p}: no such file or folder")
            raise typer.Exit(EXIT_RUN_FAILED)
    if scaffold is not None and not scaffold.is_dir():
        err.print(f"[red]error:[/] --scaffold {scaffold}: not a folder")
        raise typer.Exit(EXIT_RUN_FAILED)
    unknown = sorted(set(fmt) - {"sarif", "junit"})
    if unknown:
        raise typer.BadParameter(f"unknown format {unknown[0]!r} (sarif, junit)", param_hint="--format")
    options = GradeOptions(out=out, workers=workers or max(1, os.cpu_count() or 1), rubric=rubric,
                           scaffold=scaffold, timeout=timeout, pattern=pattern, max_bytes=max_bytes,
                           isolation=isolation, require_sandbox=require_sandbox, synth=synth, label=label,
                           formats=fmt, min_score=min_score, use_cache=not no_cache, cache_dir=cache_dir)
    progress = Progress(enabled=not quiet and not as_json, console=err)
    try:
        with progress:
            outcome = run_grade(paths, options, on_result=progress.advance, on_start=progress.start)
    except RubricError as exc:
        err.print(f"[red]rubric error:[/] {exc}")
        raise typer.Exit(EXIT_RUN_FAILED) from exc
    except _sandbox_unavailable() as exc:
        err.print(f"[red]sandbox unavailable:[/] {exc}")
        raise typer.Exit(EXIT_RUN_FAILED) from exc
    except OSError as exc:
        err.print(f"[red]error:[/] cannot write the results: {exc}")
        raise typer.Exit(EXIT_RUN_FAILED) from exc
    summary = {"run_id": outcome.manifest.run_id, "out": str(out), **outcome.manifest.counts}
    if as_json:
        typer.echo(json.dumps(summary))
    elif not quiet:
        counts = outcome.manifest.counts
        err.print(f"graded {counts.get('graded', 0)} of {counts.get('samples', 0)} answers "
                  f"({counts.get('error', 0)} could not be read); synth ok {counts.get('synth_ok', 0)}, "
                  f"failed {counts.get('synth_failed', 0)}, timeout {counts.get('synth_timeout', 0)}; "
                  f"reports in {out}/<sample>/report.md, table {out}/results.csv")


@app.command()
def doctor() -> None:
    """Say which isolation, Node and CDK versions this machine has."""
    from graders.sandbox import doctor_report

    report = doctor_report()
    for key, value in report.items():
        typer.echo(f"{key}: {value}")


@app.command()
def explain(check_id: Annotated[str, typer.Argument(help="A check id, e.g. iam-wildcard-action.")]) -> None:
    """Explain a check: what it finds, why it matters, an example and the fix."""
    from graders.checks import registry
    from graders.rubric import load_rubric
    from reports.docs import explain_check

    checks = registry()
    if check_id not in checks:
        err.print(f"[red]error:[/] no check {check_id!r}; known: {', '.join(checks)}")
        raise typer.Exit(1)
    typer.echo(explain_check(checks[check_id], load_rubric()))


def _sandbox_unavailable() -> type[Exception]:
    try:
        from graders.sandbox import SandboxUnavailable

        return SandboxUnavailable
    except ImportError:  # pragma: no cover - the sandbox package is part of the install
        return RuntimeError


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
