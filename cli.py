"""iacgrade command line: parse options, call graders/ and reports/, report progress."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from iacgrade.graders.defaults import (
    ANSWER_PATTERN,
    MAX_ANSWER_BYTES,
    MAX_REQUEST_BYTES,
    MIN_SCORE,
    SCRATCH_MB,
    TIMEOUT_S,
)

app = typer.Typer(
    help="Grade LLM answers that contain AWS infrastructure as code (CDK, CloudFormation).",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True, soft_wrap=True)  # a message is one line, whatever the terminal width

EXIT_RUN_FAILED = 2
EXIT_INTERRUPTED = 130  # like a shell after Ctrl-C


@app.command()
def grade(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Answer files, folders searched for *RESPONSE*.md, or datasets (.jsonl, .json, .parquet, "
            ".csv, a Hugging Face save_to_disk folder): one row, one answer."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    workers: Annotated[int, typer.Option(help="Parallel synth workers (default: the number of cores).")] = 0,
    rubric: Annotated[
        Path | None, typer.Option(help="Rubric file (default: the bundled rubric.yaml).")
    ] = None,
    scaffold: Annotated[
        Path | None,
        typer.Option(help="Scaffold folder (tap.py, cdk.json) for answers outside a task folder."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Wall-clock seconds one answer may synthesize.")] = TIMEOUT_S,
    scratch_mb: Annotated[
        int, typer.Option(help="MB of scratch space (job, output and /tmp, each) an answer may write.")
    ] = SCRATCH_MB,
    pattern: Annotated[str, typer.Option(help="File-name pattern searched for in folders.")] = ANSWER_PATTERN,
    max_bytes: Annotated[
        int, typer.Option(help="Answers larger than this are not graded.")
    ] = MAX_ANSWER_BYTES,
    isolation: Annotated[
        str, typer.Option(help="warm (reused sandboxed workers) or process (a fresh one per answer).")
    ] = "warm",
    require_sandbox: Annotated[
        bool, typer.Option(help="Fail instead of running without bubblewrap.")
    ] = False,
    synth: Annotated[
        bool, typer.Option("--synth/--no-synth", help="Synthesize (off: source checks only).")
    ] = True,
    label: Annotated[str | None, typer.Option(help="A label for the run, such as the model's name.")] = None,
    fmt: Annotated[list[str], typer.Option("--format", help="Extra outputs: sarif, junit.")] = [],  # noqa: B006
    min_score: Annotated[float, typer.Option(help="JUnit: answers below this total fail.")] = MIN_SCORE,
    kind: Annotated[
        str | None,
        typer.Option(help="Grade every answer as this kind (default: the task's metadata, else its blocks)."),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Grade every answer afresh: no resume, nothing read from the cache (it is refreshed).",
        ),
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            help="Result cache folder (default: $IACGRADE_CACHE_DIR, else $XDG_CACHE_HOME/iacgrade or ~/.cache/iacgrade)."
        ),
    ] = None,
    response_field: Annotated[
        str,
        typer.Option(help="Dataset: the answer's column (a chat `messages` list: its last assistant turn)."),
    ] = "response",
    prompt_field: Annotated[str, typer.Option(help="Dataset: the prompt's column, if any.")] = "prompt",
    id_field: Annotated[
        str, typer.Option(help="Dataset: the row id's column (else the row number, from 0).")
    ] = "id",
    kind_field: Annotated[
        str | None, typer.Option(help="Dataset: the column with the kind of answer (cdk-python, ...).")
    ] = None,
    reference_field: Annotated[
        str | None, typer.Option(help="Dataset: a reference answer's column, compared in each report.")
    ] = None,
    keep_field: Annotated[
        list[str],
        typer.Option(help="Dataset: a column copied into results.csv (repeatable), to join grades back."),
    ] = [],  # noqa: B006
    executor: Annotated[
        str,
        typer.Option(
            help="local (this machine's warm pools) or ray (a pool of Ray actors, one per CPU of the "
            "cluster unless --workers, each with its node's warm pool; needs the ray extra)."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="With --executor ray: the cluster's address (default: $RAY_ADDRESS, else a local Ray)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")] = False,
) -> None:
    """Grade answers: extract, synthesize, check, score and write a report for each."""
    from iacgrade.graders.datasets import DatasetFields
    from iacgrade.graders.ingest import NoAnswersFound
    from iacgrade.graders.pipeline import GradeOptions
    from iacgrade.graders.pipeline import grade as run_grade
    from iacgrade.graders.rubric import RubricError
    from iacgrade.reports.progress import Progress
    from iacgrade.reports.writers import run_writers

    if isolation not in ("warm", "process"):
        raise typer.BadParameter("must be warm or process", param_hint="--isolation")
    if not 0 < timeout < float("inf"):  # also refuses nan
        raise typer.BadParameter(f"must be a number of seconds > 0, not {timeout}", param_hint="--timeout")
    if workers < 0:
        raise typer.BadParameter(f"must be >= 0 (0: one per core), not {workers}", param_hint="--workers")
    if executor not in ("local", "ray"):
        raise typer.BadParameter("must be local or ray", param_hint="--executor")
    if ray_address is not None and executor != "ray":
        raise typer.BadParameter("needs --executor ray", param_hint="--ray-address")
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError as exc:
            err.print("[red]error:[/] --executor ray needs Ray: pip install 'iacgrade[ray]'")
            raise typer.Exit(EXIT_RUN_FAILED) from exc
    if max_bytes <= 0:
        raise typer.BadParameter(f"must be > 0, not {max_bytes}", param_hint="--max-bytes")
    if scratch_mb < 16:
        raise typer.BadParameter(f"must be at least 16 MB, not {scratch_mb}", param_hint="--scratch-mb")
    for p in paths:
        if not p.exists():
            err.print(f"[red]error:[/] {p}: no such file or folder")
            raise typer.Exit(EXIT_RUN_FAILED)
    if scaffold is not None and not scaffold.is_dir():
        err.print(f"[red]error:[/] --scaffold {scaffold}: not a folder")
        raise typer.Exit(EXIT_RUN_FAILED)
    if kind is not None:
        from iacgrade.graders.kinds import KINDS

        if kind not in KINDS:
            raise typer.BadParameter(
                f"{kind!r} is not a kind iacgrade grades ({', '.join(KINDS)})", param_hint="--kind"
            )
    unknown = sorted(set(fmt) - {"sarif", "junit"})
    if unknown:
        raise typer.BadParameter(f"unknown format {unknown[0]!r} (sarif, junit)", param_hint="--format")
    options = GradeOptions(
        out=out,
        # With ray, 0 means one actor per CPU of the cluster (counted once connected).
        workers=workers or (0 if executor == "ray" else max(1, os.cpu_count() or 1)),
        rubric=rubric,
        scaffold=scaffold,
        timeout=timeout,
        scratch_mb=scratch_mb,
        pattern=pattern,
        max_bytes=max_bytes,
        isolation=isolation,
        require_sandbox=require_sandbox,
        synth=synth,
        label=label,
        formats=fmt,
        min_score=min_score,
        kind=kind,
        use_cache=not no_cache,
        cache_dir=cache_dir,
        executor=executor,
        ray_address=ray_address,
        fields=DatasetFields(
            response=response_field,
            prompt=prompt_field,
            id=id_field,
            kind=kind_field,
            reference=reference_field,
            keep=tuple(keep_field),
        ),
    )
    progress = Progress(enabled=not quiet and not as_json, console=err)
    try:
        with progress:
            outcome = run_grade(
                paths, options, writers=run_writers(), on_result=progress.advance, on_start=progress.start
            )
    except RubricError as exc:
        err.print(f"[red]rubric error:[/] {exc}")
        raise typer.Exit(EXIT_RUN_FAILED) from exc
    except NoAnswersFound as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_RUN_FAILED) from exc
    except _no_live_actor() as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_RUN_FAILED) from exc
    except _sandbox_unavailable() as exc:
        err.print(f"[red]sandbox unavailable:[/] {exc}")
        raise typer.Exit(EXIT_RUN_FAILED) from exc
    except OSError as exc:
        err.print(f"[red]error:[/] cannot write the results: {exc}")
        raise typer.Exit(EXIT_RUN_FAILED) from exc
    except KeyboardInterrupt as exc:
        done, total = getattr(exc, "done", None), getattr(exc, "total", None)
        done = f"{done} of {total} answers graded and saved" if total is not None else "stopped"
        err.print(f"[yellow]interrupted:[/] {done} in {out}; run the same command again to grade the rest")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    summary = {"run_id": outcome.manifest.run_id, "out": str(out), **outcome.manifest.counts}
    if as_json:
        typer.echo(json.dumps(summary))
    elif not quiet:
        counts = outcome.manifest.counts
        err.print(
            f"graded {counts.get('graded', 0)} of {counts.get('samples', 0)} answers "
            f"({counts.get('error', 0)} could not be read); synth ok {counts.get('synth_ok', 0)}, "
            f"failed {counts.get('synth_failed', 0)}, timeout {counts.get('synth_timeout', 0)}; "
            f"from cache {counts.get('cache_hits', 0)}, resumed {counts.get('resumed', 0)}; "
            f"reports in {out}/<sample>/report.md, table {out}/results.csv"
        )
        if counts.get("infra_error"):
            err.print(
                f"[yellow]infrastructure failure on {counts['infra_error']} of {counts.get('samples', 0)} "
                "answers[/] (the sandbox failed, not the answers: kept out of the scores; the same "
                "command grades them again)"
            )


@app.command()
def doctor() -> None:
    """Say which isolation, Node and CDK versions this machine has."""
    from iacgrade.graders.sandbox import doctor_report

    report = doctor_report()
    for key, value in report.items():
        typer.echo(f"{key}: {value}")


@app.command("setup-node")
def setup_node() -> None:
    """Install the Node toolchain of the CDK TypeScript/JavaScript kinds (aws-cdk-lib, constructs,
    typescript; not the bench's dev dependencies) with `npm ci` from the lock file the package ships."""
    import subprocess

    from iacgrade.graders.locations import install_node_toolchain

    try:
        target = install_node_toolchain()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        err.print(f"[red]error:[/] cannot install the Node toolchain: {exc}")
        raise typer.Exit(1) from None
    typer.echo(f"Node toolchain installed in {target}")


@app.command()
def explain(check_id: Annotated[str, typer.Argument(help="A check id, e.g. iam-wildcard-action.")]) -> None:
    """Explain a check: what it finds, why it matters, an example and the fix."""
    from iacgrade.graders.checks import registry
    from iacgrade.graders.rubric import load_rubric
    from iacgrade.reports.docs import explain_check

    checks = registry()
    if check_id not in checks:
        err.print(f"[red]error:[/] no check {check_id!r}; known: {', '.join(checks)}")
        raise typer.Exit(1)
    typer.echo(explain_check(checks[check_id], load_rubric()))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Answers graded at once (the warm pool's size).")] = 2,
    queue: Annotated[
        int, typer.Option(help="Requests that may wait beyond those being graded; more get 503.")
    ] = 16,
    max_body: Annotated[
        int, typer.Option(help="Largest request body in bytes; larger gets 413.")
    ] = MAX_REQUEST_BYTES,
    max_batch: Annotated[int, typer.Option(help="Most answers in one /get_reward request.")] = 512,
    rubric: Annotated[
        Path | None, typer.Option(help="Rubric file (default: the bundled rubric.yaml).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Wall-clock seconds one answer may synthesize.")] = TIMEOUT_S,
    synth: Annotated[
        bool, typer.Option("--synth/--no-synth", help="Synthesize (off: source checks only).")
    ] = True,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Grade every answer afresh (the cache is still refreshed).")
    ] = False,
    cache_dir: Annotated[Path | None, typer.Option(help="Result cache folder (as for grade).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "warning",
) -> None:
    """Grade answers over HTTP: POST /grade, POST /get_reward (OpenRLHF), GET /health."""
    from iacgrade.serve import ServeSettings, run

    if min(workers, max_body, max_batch) < 1 or queue < 0:
        err.print(
            "[red]error:[/] --workers, --max-body and --max-batch must be at least 1, --queue at least 0"
        )
        raise typer.Exit(EXIT_RUN_FAILED)
    settings = ServeSettings(
        workers=workers,
        queue=queue,
        max_body=max_body,
        max_batch=max_batch,
        synth=synth,
        timeout=timeout,
        rubric=rubric,
        cache=not no_cache,
        cache_dir=cache_dir,
    )
    err.print(f"iacgrade serve: http://{host}:{port} (workers {workers}, queue {queue}, synth {synth})")
    run(settings, host=host, port=port, log_level=log_level)


def _no_live_actor() -> type[Exception]:
    from iacgrade.graders.ray_executor import NoLiveActor  # imports without ray

    return NoLiveActor


def _sandbox_unavailable() -> type[Exception]:
    try:
        from iacgrade.graders.sandbox import SandboxUnavailable

        return SandboxUnavailable
    except ImportError:  # pragma: no cover - the sandbox package is part of the install
        return RuntimeError


@app.command()
def runs(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Run folders, or folders searched for runs (default: .).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per run.")] = False,
) -> None:
    """List runs (folders with a run.json): id, label, when, versions, counts and mean total."""
    from rich.table import Table

    from iacgrade.graders.runs import RunError, find_runs, load_run, run_summary

    missing = [p for p in paths or [] if not p.exists()]
    if missing:
        err.print(f"[red]error:[/] {missing[0]}: no such file or folder")
        raise typer.Exit(EXIT_RUN_FAILED)
    summaries = []
    for folder in find_runs(paths or [Path(".")]):
        try:
            summaries.append(run_summary(load_run(folder)))
        except RunError as exc:
            err.print(f"[yellow]skipped:[/] {exc}")
    if as_json:
        for summary in summaries:
            typer.echo(json.dumps(summary))
        return
    if not summaries:
        err.print("no runs found")
        return
    table = Table(
        "run", "label", "started", "finished", "rubric", "answers", "graded", "synth ok", "mean total", "path"
    )
    for s in summaries:
        table.add_row(
            s["run_id"],
            s["label"] or "",
            s["started"],
            s["finished"] or "(unfinished)",
            s["rubric_version"],
            str(s["samples"]),
            str(s["graded"]),
            str(s["synth_ok"]),
            "" if s["mean_total"] is None else f"{s['mean_total']:.1f}",
            s["path"],
        )
    Console(width=200).print(table)


@app.command()
def compare(
    base: Annotated[Path, typer.Argument(help="The BASE run folder.")],
    new: Annotated[Path, typer.Argument(help="The NEW run folder.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the markdown report here (default: print it).")
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Also write the comparison as JSON to this file; '-' prints it on stdout instead of the markdown.",
        ),
    ] = None,
    fail_on_regression: Annotated[
        bool,
        typer.Option(
            help="Exit 3 when NEW is significantly worse or lost answers BASE graded (see --threshold)."
        ),
    ] = False,
    threshold: Annotated[
        float, typer.Option(help="Regression only when the total's mean drops by more than this many points.")
    ] = 0.0,
    top: Annotated[int, typer.Option(help="How many most-regressed answers to list.")] = 10,
) -> None:
    """Compare two runs: score deltas with 95% CIs, regressed answers, finding and synth changes.

    Exit codes: 0 done; 2 a run could not be read or the output not written; 3 with --fail-on-regression when NEW is worse: the 95% confidence interval of the total's mean delta (NEW - BASE) lies below 0 and the mean delta is below -THRESHOLD, or answers BASE graded are errors or missing in NEW.
    """
    from iacgrade.graders.compare import EXIT_REGRESSION, compare_runs
    from iacgrade.graders.runs import RunError, load_run
    from iacgrade.reports.comparison import comparison_markdown

    try:
        base_run, new_run = load_run(base), load_run(new)
    except RunError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_RUN_FAILED) from exc
    result = compare_runs(base_run, new_run, threshold=threshold, top=top)
    text = comparison_markdown(result)
    data = result.model_dump_json(indent=2) + "\n"
    json_to_stdout = json_out is not None and str(json_out) == "-"
    try:
        if out is not None:
            _write_output(out, text)
        elif not json_to_stdout:
            typer.echo(text)
        if json_to_stdout:
            typer.echo(data, nl=False)
        elif json_out is not None:
            _write_output(json_out, data)
    except OSError as exc:
        err.print(f"[red]error:[/] cannot write the comparison: {exc}")
        raise typer.Exit(EXIT_RUN_FAILED) from exc
    if out is not None or json_to_stdout:
        err.print(result.verdict)
    if fail_on_regression and result.regression:
        raise typer.Exit(EXIT_REGRESSION)


def _write_output(path: Path, text: str) -> None:
    """Write a file the user named: atomically when it is (or will be) a plain file, else through it,
    so a symlink is followed and a device or pipe (/dev/stdout) is written to, not replaced."""
    from iacgrade.graders.store import write_text_atomic

    if path.is_symlink() or (path.exists() and not path.is_file()):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        write_text_atomic(path, text)


@app.command()
def dashboard(
    runs_: Annotated[
        list[Path],
        typer.Argument(metavar="RUN...", help="Run folders, oldest first (the trend follows this order)."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path(
        "dashboard.html"
    ),
    worst: Annotated[
        int, typer.Option(help="How many worst answers of the last run to list with their reports.")
    ] = 20,
) -> None:
    """Write one self-contained HTML dashboard (works offline) for one or more runs."""
    from iacgrade.graders.runs import RunError, find_runs, load_run
    from iacgrade.reports.dashboard import write_dashboard

    try:
        loaded = [load_run(folder) for folder in find_runs(runs_)]
    except RunError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_RUN_FAILED) from exc
    if not loaded:
        err.print(f"[red]error:[/] no runs (folders with run.json) in {', '.join(map(str, runs_))}")
        raise typer.Exit(EXIT_RUN_FAILED)
    write_dashboard(loaded, out, worst=worst)
    err.print(f"dashboard of {len(loaded)} run(s): {out}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
