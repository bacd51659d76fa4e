"""The synth worker: runs inside the sandbox and synthesizes job after job.

It imports aws_cdk once (which starts the jsii Node process), then for each job runs the entry
file found in ``/job`` as ``__main__`` and leaves the cloud assembly in ``/out/cdk.out`` and
the job's output in ``/out/synth.log``. The Node process's cwd (``/job``) and environment are
fixed at start, so context and outdir reach the Node side as ``App(context=, outdir=)``
arguments injected here, never through environment variables.

Each job's files arrive read-only in ``/in`` and are copied into ``/job`` (a bounded tmpfs,
like ``/out`` and ``/tmp``); the assembly the job leaves in ``/out/cdk.out`` goes back to the
grader inside the result frame, so nothing but the job's log is written on the host.

Protocol: length-prefixed JSON frames on private copies of stdin/stdout; fds 0/1/2 themselves
are pointed at /dev/null or the job's log, so nothing a job prints can corrupt the protocol. A job
can still find the pipes and write on them itself: the result echoes the job's nonce and is
followed by the acknowledgement of a second nonce (see ``process.WorkerProcess.run``).
"""

from __future__ import annotations

import functools
import gc
import importlib
import io
import logging
import os
import random
import re
import resource
import runpy
import shutil
import signal
import sys
import time
import traceback
import warnings
from collections import deque
from pathlib import Path
from typing import Any

from iacgrade.graders.defaults import GC_THRESHOLDS
from iacgrade.graders.lint import WarmLinter
from iacgrade.graders.sandbox import integrity, jsii_console
from iacgrade.graders.sandbox.collect import collect_assembly, to_frame
from iacgrade.graders.sandbox.entry import DRIVER_FILE
from iacgrade.graders.sandbox.protocol import MAX_FRAME, encode_frame, read_frame, write_encoded, write_frame

JOB = os.environ.get("IACGRADE_JOB_DIR", "/job")
OUT = os.environ.get("IACGRADE_OUT_DIR", "/out")
# Files of OUT that are not the job's: bound in from the host (see launcher.OUT_FILES).
_OUT_KEEP = ("synth.log", "worker.log")
# What `random` is seeded with at the start of every job (see Worker.run).
_RANDOM_SEED = 20240229
# What a job may leave in the private /tmp before the worker is replaced (at most 1/8 of it).
_TMP_SLACK = 16 * 1024 * 1024
# How long threads a job started get to end after it, before they count as left running.
_THREAD_GRACE = 0.5
DUMMY_ACCOUNT = "123456789012"
DUMMY_REGION = "us-east-1"
# Submodules most answers use: importing them at warm-up makes them part of the clean baseline.
_PRELOAD = (
    "aws_s3",
    "aws_lambda",
    "aws_iam",
    "aws_ec2",
    "aws_dynamodb",
    "aws_apigateway",
    "aws_logs",
    "aws_sqs",
    "aws_sns",
    "aws_sns_subscriptions",
    "aws_cloudwatch",
    "aws_cloudwatch_actions",
    "aws_kms",
    "aws_events",
    "aws_events_targets",
    "aws_lambda_event_sources",
    "aws_rds",
    "aws_ecs",
    "aws_elasticloadbalancingv2",
    "aws_secretsmanager",
    "aws_ssm",
    "aws_stepfunctions",
    "aws_stepfunctions_tasks",
    "aws_cloudfront",
    "aws_cloudfront_origins",
    "aws_route53",
    "aws_certificatemanager",
    "aws_wafv2",
    "aws_cloudtrail",
    "aws_kinesis",
    "aws_autoscaling",
    "aws_s3_notifications",
    "aws_s3_deployment",
    "aws_cognito",
    "aws_backup",
    "aws_config",
    "aws_ecr",
    "aws_efs",
    "aws_elasticache",
    "aws_glue",
    "aws_codepipeline",
    "aws_codebuild",
    "aws_guardduty",
)
_WARMUP_APP = """
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3, aws_lambda as lambda_, aws_iam as iam, aws_dynamodb as ddb
app = cdk.App()
stack = cdk.Stack(app, "Warmup")
bucket = s3.Bucket(stack, "B", versioned=True)
fn = lambda_.Function(stack, "F", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
                      code=lambda_.Code.from_inline("def handler(e, c): return 1"))
bucket.grant_read(fn)
ddb.Table(stack, "T", partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING))
app.synth()
"""


class _Job:
    """Per-job settings read by the aws_cdk hooks below."""

    active = False
    context: dict[str, Any] = {}
    outdir = f"{OUT}/cdk.out"
    dummy_env = False
    apps: list[Any] = []
    bundling: list[str] = []


def _install_hooks() -> None:
    import aws_cdk

    app_init = aws_cdk.App.__init__
    stack_init = aws_cdk.Stack.__init__
    bundling_init = aws_cdk.BundlingOptions.__init__

    @functools.wraps(app_init)
    def _app_init(self: Any, *args: Any, **kwargs: Any) -> None:
        if _Job.active:
            # Like the CLI: cdk.json context wins over App(context=...); outdir is ours.
            kwargs["context"] = {**(kwargs.get("context") or {}), **_Job.context}
            kwargs["outdir"] = _Job.outdir
            _Job.apps.append(self)
        app_init(self, *args, **kwargs)

    @functools.wraps(stack_init)
    def _stack_init(self: Any, *args: Any, **kwargs: Any) -> None:
        if _Job.active and _Job.dummy_env:
            kwargs["env"] = _fill_env(kwargs.get("env"))
        stack_init(self, *args, **kwargs)

    @functools.wraps(bundling_init)
    def _bundling_init(self: Any, *args: Any, **kwargs: Any) -> None:
        if _Job.active:
            image = kwargs.get("image")
            _Job.bundling.append(str(getattr(image, "image", None) or "docker bundling"))
        bundling_init(self, *args, **kwargs)

    aws_cdk.App.__init__ = _app_init  # type: ignore[method-assign]
    aws_cdk.Stack.__init__ = _stack_init  # type: ignore[method-assign]
    aws_cdk.BundlingOptions.__init__ = _bundling_init  # type: ignore[method-assign]


def _fill_env(env: Any) -> Any:
    """Dummy account/region only where the answer left them unset."""
    import aws_cdk

    if env is None:
        return aws_cdk.Environment(account=DUMMY_ACCOUNT, region=DUMMY_REGION)
    if isinstance(env, dict):
        return {
            **env,
            "account": env.get("account") or DUMMY_ACCOUNT,
            "region": env.get("region") or DUMMY_REGION,
        }
    account = getattr(env, "account", None) or DUMMY_ACCOUNT
    region = getattr(env, "region", None) or DUMMY_REGION
    return aws_cdk.Environment(account=account, region=region)


class Worker:
    """State of one sandboxed worker process."""

    def __init__(
        self, proto_in: io.RawIOBase, proto_out: io.RawIOBase, in_dir: str = "/in", private_tmp: bool = False
    ) -> None:
        self.proto_in = proto_in
        self.proto_out = proto_out
        self.in_dir = in_dir
        self.private_tmp = private_tmp
        self.jobs = 0
        self.linter: WarmLinter | None = None

    def warm_up(self, lint: bool) -> None:
        jsii_console.install()  # before aws_cdk starts jsii's Node process and its console thread
        import aws_cdk

        for name in _PRELOAD:
            try:
                importlib.import_module(f"aws_cdk.{name}")
            except ImportError:
                pass
        _Job.active = True
        _Job.outdir = "/tmp/warmup.out"
        try:
            exec(compile(_WARMUP_APP, "<warmup>", "exec"), {"__name__": "__warmup__"})
        finally:
            _Job.active = False
            _Job.apps = []
        if lint:
            self.linter = WarmLinter()
        _install_hooks()
        import iacgrade.graders.sandbox.driver_runtime  # noqa: F401 - part of the clean baseline
        from iacgrade.graders.locations import GRADERS_DIR, PACKAGE_DIR

        trusted = tuple(
            {
                sys.prefix,
                sys.base_prefix,
                os.path.realpath(sys.base_prefix),
                str(PACKAGE_DIR),
                str(GRADERS_DIR),
            }
        )
        integrity.set_trusted_prefixes(trusted)
        self.baseline_modules = set(sys.modules)
        self.env = dict(os.environ)
        self.path = list(sys.path)
        self.signals = {s: signal.getsignal(s) for s in _catchable_signals()}
        self.hooks = (sys.excepthook, sys.displayhook, sys.getrecursionlimit(), warnings.filters[:])
        self.log_state = (logging.root.level, list(logging.root.handlers))
        self.snapshot = integrity.Snapshot()
        self.node_pids = _node_pids()
        self.cdk_version = getattr(aws_cdk, "__version__", None)
        # Threads the kernel knows, including those started with _thread (threading never sees them).
        self.tasks = _tasks()
        self.tmp_used = _used("/tmp") if self.private_tmp else 0

    # -- one job ---------------------------------------------------------------------------

    def run(self, msg: dict[str, Any]) -> dict[str, Any]:
        import aws_cdk

        t0 = time.monotonic()
        spans: dict[str, float] = {}
        _empty(OUT, keep=_OUT_KEEP)
        _empty(JOB)
        _copy_in(self.in_dir, JOB)
        spans["copy_in"] = time.monotonic() - t0
        entry = os.path.join(JOB, msg["entry"])
        _Job.context = msg.get("context") or {}
        _Job.dummy_env = bool(msg.get("dummy_env"))
        _Job.apps = []
        _Job.bundling = []
        _Job.outdir = f"{OUT}/cdk.out"
        os.chdir(JOB)
        importlib.invalidate_caches()
        for key in [k for k in sys.path_importer_cache if k.startswith(JOB)]:
            del sys.path_importer_cache[key]
        sys.path[:] = [os.path.dirname(entry), JOB] + [p for p in self.path if p not in ("", JOB)]
        sys.argv[:] = [entry]
        os.environ.clear()
        os.environ.update(self.env)
        os.environ.update(msg.get("env") or {})
        cpu_used = int(
            resource.getrusage(resource.RUSAGE_SELF).ru_utime
            + resource.getrusage(resource.RUSAGE_SELF).ru_stime
        )
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        cpu_soft = cpu_used + int(msg.get("timeout", 60)) + 5
        if hard != resource.RLIM_INFINITY:
            cpu_soft = min(cpu_soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_soft, hard))

        error: dict[str, Any] | None = None
        exit_code: int | None = None
        implicit = False
        # The Node side caches asset hashes by source path; /job is the same path every job.
        aws_cdk.AssetStaging.clear_asset_hash_cache()
        saved = _redirect_output(f"{OUT}/synth.log")
        _Job.active = True
        # The answer's `random` draws the same numbers on every run, on a warm worker or a fresh one
        # (a bucket named with random.randint gets one name), as Math.random does in the Node worker.
        random.seed(_RANDOM_SEED)
        try:
            try:
                runpy.run_path(entry, run_name="__main__")
            except SystemExit as exc:
                exit_code = _exit_code(exc.code)
                if exit_code:
                    error = {
                        "type": "SystemExit",
                        "message": f"exit code {exit_code}",
                        "frames": error_frames(exc),
                    }
            if error is None and not os.path.exists(f"{_Job.outdir}/manifest.json") and _Job.apps:
                # The app built stacks but never called synth(): synthesize it ourselves.
                implicit = True
                for app in _Job.apps:
                    app.synth()
        except BaseException as exc:  # noqa: BLE001 - everything the answer raises is data
            error = _describe(exc)
        finally:
            _Job.active = False
            random.seed()  # the worker's own draws, if any, are not the answer's sequence
            apps = len(_Job.apps)
            _Job.apps = []
            jsii_console.drain()  # the job's console warnings, into its own log
            _restore_output(saved)
        self.jobs += 1
        t_run = time.monotonic()
        tampered = self._reset(spans)
        t_reset = time.monotonic()
        try:
            outputs = to_frame(collect_assembly(Path(OUT)))
        except Exception as exc:  # noqa: BLE001 - e.g. a manifest that is not JSON: no assembly
            outputs = {}
            error = error or {"type": "OutputError", "message": f"the cloud assembly cannot be read: {exc}"}
        result: dict[str, Any] = {
            "op": "result",
            "outputs": outputs,
            "error": error,
            "exit_code": exit_code,
            "implicit_synth": implicit,
            "apps": apps,
            "bundling": sorted(set(_Job.bundling)),
            "tampered": tampered,
            "jobs": self.jobs,
            "seconds": round(time.monotonic() - t0, 3),
            "lint": {},
        }
        spans["collect"] = time.monotonic() - t_reset
        if self.linter is not None and msg.get("lint") and not tampered:
            t_lint = time.monotonic()
            result["lint"] = self._lint_templates(outputs.get("templates") or {})
            t_rebase = time.monotonic()
            spans["cfn_lint"] = t_rebase - t_lint
            self.tasks = _tasks()  # threads the linter itself started are ours
            self.snapshot.rebase(integrity.GRADER_MUTATED)  # so are the caches it filled
            spans["rebase"] = time.monotonic() - t_rebase
        # Give the memory back now rather than at the next job.
        t_clean = time.monotonic()
        _empty(OUT, keep=_OUT_KEEP)
        _empty(JOB)
        spans["cleanup"] = time.monotonic() - t_clean
        # Where a warm job's time goes (run = the answer itself, copy in included; reset = the
        # checks after it; lint = everything after the reset), then the parts, for the benchmark.
        result["timing"] = {
            "run": round(t_run - t0, 3),
            "reset": round(t_reset - t_run, 3),
            "lint": round(time.monotonic() - t_reset, 3),
            **{k: round(v, 3) for k, v in spans.items()},
        }
        return result

    def _lint_templates(self, templates: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        """cfn-lint every collected template, keyed as the templates are (stack name, nested id)."""
        out: dict[str, list[dict[str, Any]]] = {}
        assert self.linter is not None
        for name, text in sorted(templates.items()):
            try:
                out[name] = self.linter.lint(text)
            except Exception as exc:  # noqa: BLE001 - a crashing linter is reported, not fatal
                out[name] = [
                    {
                        "rule": "E0002",
                        "level": "error",
                        "message": f"cfn-lint crashed: {exc}",
                        "path": "",
                        "resource": None,
                    }
                ]
        return out

    def _reset(self, spans: dict[str, float] | None = None) -> list[str]:
        """Undo what the job left behind; return what cannot be undone (worker must go).

        ``spans`` gets the seconds of its parts (modules, integrity, processes)."""
        spans = {} if spans is None else spans
        t0 = time.monotonic()
        problems: list[str] = []
        for name in [n for n in sys.modules if n not in self.baseline_modules]:
            mod = sys.modules.get(name)
            file = getattr(mod, "__file__", None) or ""
            # Library submodules (aws_cdk.aws_xxx) stay loaded: re-importing jsii types is slow.
            if file.startswith(tuple(p + "/" for p in (sys.prefix, sys.base_prefix))) and not file.startswith(
                JOB
            ):
                continue
            del sys.modules[name]
        missing = [n for n in self.baseline_modules if n not in sys.modules]
        if missing:
            problems.append(f"modules removed: {missing[:3]}")
        self.baseline_modules = set(sys.modules)
        os.chdir(JOB)
        os.environ.clear()
        os.environ.update(self.env)
        sys.path[:] = self.path
        sys.argv[:] = ["worker"]
        signal.alarm(0)
        for timer in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
            signal.setitimer(timer, 0)
        for sig, handler in self.signals.items():
            if signal.getsignal(sig) is not handler:
                try:
                    signal.signal(sig, handler)
                except (OSError, ValueError, TypeError):
                    problems.append(f"signal {sig} handler")
        sys.excepthook, sys.displayhook = self.hooks[0], self.hooks[1]
        sys.setrecursionlimit(self.hooks[2])
        warnings.filters[:] = self.hooks[3]  # type: ignore[index]
        logging.root.setLevel(self.log_state[0])
        logging.root.handlers[:] = self.log_state[1]
        t1 = time.monotonic()
        spans["reset_state"] = t1 - t0
        try:
            self.snapshot.refresh()
        except integrity.TamperedError as exc:
            problems.append(f"planted functions: {exc.args[0]}")
        problems += self.snapshot.compare()
        problems += jsii_console.problems()
        t2 = time.monotonic()
        spans["integrity"] = t2 - t1
        problems += _extra_processes(self.node_pids)
        problems += _extra_tasks(self.tasks)
        spans["processes"] = time.monotonic() - t2
        if self.private_tmp:
            grown = _used("/tmp") - self.tmp_used
            if grown > min(_TMP_SLACK, _size("/tmp") // 8):
                problems.append(f"/tmp holds {grown // 1024 // 1024} MB more than when the worker started")
        return problems


def _tasks() -> set[str]:
    return set(os.listdir("/proc/self/task"))


def _extra_tasks(baseline: set[str]) -> list[str]:
    """Threads of this process a job left running (a job may not leave any)."""
    deadline = time.monotonic() + _THREAD_GRACE
    while True:
        extra = _tasks() - baseline
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return [f"OS threads left running: {len(extra)}"] if extra else []


def _used(path: str) -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def _size(path: str) -> int:
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize


def _empty(folder: str, keep: tuple[str, ...] = ()) -> None:
    """Remove what is in ``folder`` (never following links), except the names in ``keep``."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name in keep:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    pass


def _copy_in(src: str, dest: str) -> None:
    """Copy the job's files into the job folder (whose own mode and owner are not ours to set)."""
    with os.scandir(src) as entries:
        for entry in entries:
            target = os.path.join(dest, entry.name)
            if entry.is_dir(follow_symlinks=False):
                shutil.copytree(entry.path, target, symlinks=True)
            else:
                shutil.copy2(entry.path, target, follow_symlinks=False)


def _catchable_signals() -> list[int]:
    skip = {signal.SIGKILL, signal.SIGSTOP}
    return [s for s in signal.valid_signals() if s not in skip and s < signal.SIGRTMIN]


def _node_pids() -> set[int]:
    """Our children right after warm-up: the jsii Node process (a job may not add any)."""
    me = os.getpid()
    pids: set[int] = set()
    # /proc lists in pid order, so a child's parent is seen before the child.
    for entry in sorted((e for e in os.listdir("/proc") if e.isdigit()), key=int):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == me or ppid in pids:
                pids.add(int(entry))
    return pids


def _extra_processes(node_pids: set[int]) -> list[str]:
    """Processes a job left behind (a job may not leave any): our children besides Node."""
    allowed = {1, os.getpid(), os.getppid(), *node_pids}
    own_namespace = os.getpid() < 10  # under bwrap's pid namespace we are pid 2 or so
    extra = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in allowed:
            continue
        try:
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        # Outside a pid namespace only our own children are ours to judge.
        if own_namespace or ppid == os.getpid() or ppid in node_pids:
            extra.append(entry)
    names = []
    for pid in extra[:5]:
        try:
            names.append(
                f"{pid}:" + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
            )
        except OSError:
            names.append(pid)
    return [f"processes left running: {names}"] if extra else []


def _redirect_output(path: str) -> tuple[int, int]:
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return saved


def _restore_output(saved: tuple[int, int]) -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    os.close(saved[0])
    os.close(saved[1])


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1


def error_frames(exc: BaseException, keep: int = 40) -> list[list[Any]]:
    """The last ``keep`` traceback frames, and the deepest one in the answer's own files: the
    ``frames`` of an error message, which the pool's `classify` reads for the answer's file:line.

    A RecursionError carries thousands of frames: walk them once without reading source lines
    (what makes ``traceback.extract_tb`` slow) and keep only what the message needs.
    """
    tail: deque[list[Any]] = deque(maxlen=keep)
    answer: list[Any] | None = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        code = frame.f_code
        item = [code.co_filename, lineno, code.co_name]
        tail.append(item)
        if code.co_filename.startswith(JOB + "/") and code.co_filename != f"{JOB}/{DRIVER_FILE}":
            answer = item
    frames = list(tail)
    if answer is not None and not any(f is answer for f in frames):
        frames[0] = answer  # further up than the tail: the answer's file:line still shows
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append([exc.filename, exc.lineno, "<module>"])
    return frames


def _describe(exc: BaseException) -> dict[str, Any]:
    cause = exc.__cause__
    js_name = None
    if cause is not None:
        found = re.search(r"«(\w+)»", str(cause))
        js_name = found.group(1) if found else None
    message = str(exc)
    if isinstance(exc, SyntaxError):
        message = exc.msg or message
    return {
        "type": type(exc).__name__,
        "module": type(exc).__module__,
        "message": message[:4000],
        "js_name": js_name,
        "frames": error_frames(exc),
        "errno": getattr(exc, "errno", None),
        "name": getattr(exc, "name", None),
    }


def main() -> None:
    """Entry point inside the sandbox: ``python -m graders.sandbox.worker``."""
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.makedirs(OUT, exist_ok=True)
    boot_log = os.open(f"{OUT}/worker.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(boot_log, 1)
    os.dup2(boot_log, 2)
    # Endless output must fail a write (EFBIG), not kill the worker with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    sys.dont_write_bytecode = True
    gc.set_threshold(*GC_THRESHOLDS)
    hello = read_frame(proto_in)
    worker = Worker(proto_in, proto_out, str(hello.get("in_dir") or "/in"), bool(hello.get("private_tmp")))
    try:
        worker.warm_up(bool(hello.get("lint")))
    except BaseException as exc:  # noqa: BLE001 - report why the worker could not start
        write_frame(proto_out, {"op": "error", "error": _describe(exc)})
        os._exit(3)
    write_frame(
        proto_out,
        {"op": "ready", "pid": os.getpid(), "cdk": worker.cdk_version, "python": sys.version.split()[0]},
    )
    while True:
        try:
            msg = read_frame(proto_in)
        except Exception:  # noqa: BLE001 - the grader went away
            os._exit(0)
        if msg.get("op") != "job":
            os._exit(0)
        result = worker.run(msg)
        result["nonce"] = msg.get("nonce")
        write_encoded(proto_out, _result_frame(result))
        if result["tampered"]:
            # Never run another job in a process a job has changed.
            os._exit(0)
        # The grader acknowledges a result with a fresh nonce; anything else means a job read
        # (stole) from our pipe: stop, the grader sees the worker end and starts another.
        ack = read_frame(proto_in)
        if ack.get("op") != "sync":
            os._exit(0)
        write_frame(proto_out, {"op": "synced", "nonce": ack.get("nonce")})


def _result_frame(result: dict[str, Any]) -> bytes:
    """The result as a frame; without the assembly when that would exceed the frame limit."""
    frame = encode_frame(result)
    if len(frame) > MAX_FRAME:
        result["outputs"] = {}
        result["error"] = result["error"] or {
            "type": "OutputError",
            "message": f"the cloud assembly is larger than {MAX_FRAME // 1024 // 1024} MB",
        }
        frame = encode_frame(result)
    return frame


if __name__ == "__main__":
    main()
