"""SynthPool: synthesize workspaces on warm sandboxed workers, degrading through fallbacks."""

from __future__ import annotations

import ast
import json
import logging
import queue
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iacgrade.graders.analysis.pyast import walk
from iacgrade.graders.models import Attempt, LintMatch, Sample, SynthResult, WorkerInfo, Workspace, typed_list
from iacgrade.graders.sandbox import classify as cls_
from iacgrade.graders.sandbox import launcher
from iacgrade.graders.sandbox.collect import Outputs, deprecations, from_frame, read_log, write_outputs
from iacgrade.graders.sandbox.entry import (
    DRIVER_FILE,
    EntryPlan,
    make_driver_plan,
    parse_file,
    parse_scope,
    plan_entry,
    scaffold_entry,
    scaffold_mismatch,
)
from iacgrade.graders.sandbox.jsii_cache import prepare_jsii_cache
from iacgrade.graders.sandbox.options import SandboxBroken, SandboxOptions, SandboxUnavailable
from iacgrade.graders.sandbox.process import (
    PROBE_TIMEOUT,
    WorkerDied,
    WorkerProcess,
    WorkerTimeout,
    sandbox_fault,
    start_or_broken,
)

log = logging.getLogger(__name__)

# What `cdk synth` adds to the context; bundling-stacks=[] skips Docker bundling entirely.
CLI_CONTEXT: dict[str, Any] = {
    "aws:cdk:bundling-stacks": [],
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": False,
}
DUMMY_ENV = {"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "us-east-1"}
# What runs on a fresh worker after an answer's job died twice, to tell the answer's fault from the sandbox's.
_PROBE_APP = 'import aws_cdk as cdk\n\napp = cdk.App()\ncdk.Stack(app, "Probe")\napp.synth()\n'
_STUB_FILE_SUFFIXES = (".zip", ".jar", ".py", ".js", ".json", ".txt", ".yaml", ".yml", ".sh", ".html", ".tgz")


@dataclass
class _Plan:
    """Inputs of one attempt; fallbacks change them between attempts."""

    entry: EntryPlan
    context: dict[str, Any]
    dummy_env: bool = False
    stubs: list[str] = field(default_factory=list)
    scaffold_context: bool = False
    tried: list[str] = field(default_factory=list)


@dataclass
class _Run:
    """Outcome of one attempt on a worker."""

    raw: dict[str, Any] | None
    outputs: Outputs
    timeout: bool = False
    died: str | None = None
    worker: WorkerInfo = field(default_factory=WorkerInfo)
    job_dir: str = launcher.JOB_DIR


class SynthPool:
    """A pool of sandboxed synth workers; ``synthesize`` is safe to call from many threads."""

    def __init__(self, opts: SandboxOptions | None = None) -> None:
        self.opts = opts or SandboxOptions()
        self.iso = launcher.detect_isolation()
        if self.iso.kind != "bwrap":
            if self.opts.require_sandbox:
                raise SandboxUnavailable("bubblewrap (bwrap) is not usable on this machine")
            log.warning(
                "\n%s\nbubblewrap not found: answers will run as PLAIN PROCESSES with no sandbox.\n"
                "Install the 'bubblewrap' package, or use --require-sandbox to refuse.\n%s",
                "!" * 78,
                "!" * 78,
            )
        self._tmp = Path(tempfile.mkdtemp(prefix="iacgrade-sandbox-"))
        self._tmp.chmod(0o755)
        self._jsii_cache = prepare_jsii_cache()
        self._slots: queue.Queue[WorkerProcess] = queue.Queue()
        self._workers: list[WorkerProcess] = []
        self._lock = threading.Lock()
        self._closed = False
        cpu = int(self.opts.timeout * (self.opts.max_jobs_per_worker + 2)) + 60
        for slot in range(max(1, self.opts.workers)):
            w = WorkerProcess(slot, self.opts, self.iso, self._jsii_cache, self._tmp / f"w{slot}", cpu)
            self._workers.append(w)
            self._slots.put(w)
        if self.opts.isolation == "warm":
            # Warm up all workers at once, in the background; the first job waits for its worker.
            self._starting = [
                threading.Thread(target=self._safe_start, args=(w,), daemon=True) for w in self._workers
            ]
            for t in self._starting:
                t.start()

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> SynthPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill every worker and remove the scratch folders."""
        self._closed = True
        for w in self._workers:
            w.kill()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _safe_start(self, w: WorkerProcess) -> None:
        with self._lock_for(w):
            try:
                if not w.alive():
                    w.start()
            except Exception as exc:  # noqa: BLE001 - the job that takes this worker retries the start
                log.warning("worker %s failed to start: %s", w.slot, exc)

    def _lock_for(self, w: WorkerProcess) -> threading.Lock:
        with self._lock:
            if not hasattr(w, "_start_lock"):
                w._start_lock = threading.Lock()  # type: ignore[attr-defined]
            return w._start_lock  # type: ignore[attr-defined,no-any-return]

    # -- public API ------------------------------------------------------------------------

    def synthesize(self, workspace: Workspace, sample: Sample, out_dir: str | Path) -> SynthResult:
        """Synthesize one workspace; write templates/, manifest.json, synth.log (and lint.json)."""
        t0 = time.monotonic()
        root = Path(workspace.root)
        dest = Path(out_dir)
        with parse_scope():  # the answer's files are parsed once for all of the entry's questions
            entry = plan_entry(root, workspace.answer_files, sample.entry_file)
            answer_classes = _answer_classes(root, workspace.answer_files)
        result = SynthResult(
            isolation=self.iso.kind,
            entry=entry.path,
            entry_kind=entry.kind,
        )
        if entry.kind == "none":
            result.status = "skipped"
            result.cause = "no-entry"
            result.message = f"nothing to synthesize: {entry.reason}"
            write_outputs(dest, Outputs(log=result.message.encode() + b"\n"), None)
            return result
        plan = _Plan(entry=entry, context={**workspace.context, **CLI_CONTEXT})
        run: _Run | None = None
        for _ in range(self.opts.max_attempts):
            run = self._attempt(root, plan)
            result.worker = run.worker
            failure = self._failure(run, plan, answer_classes)
            if failure is None:
                break
            nxt = self._fallback(failure, run, plan, workspace, sample, root)
            if nxt is None:
                break
            result.attempts.append(
                Attempt(error_type=failure.error_type, message=failure.message, cause=failure.cause)
            )
            result.fallbacks.append(nxt)
        assert run is not None
        self._finish(result, run, plan, answer_classes, dest)
        result.seconds = round(time.monotonic() - t0, 3)
        return result

    # -- attempts --------------------------------------------------------------------------

    def _attempt(self, root: Path, plan: _Plan) -> _Run:
        """Run the plan on a worker. A worker that dies under the job is replaced and the job run
        once more: a death from outside (the kernel's OOM killer under another program's memory,
        an operator's kill) is not the answer's. A second death is the answer's own, unless a
        benign app then dies too (`SandboxBroken`: the answer's result is infra_error)."""
        deaths: list[str] = []
        info = WorkerInfo()
        outputs = Outputs()
        job_dir = launcher.JOB_DIR
        for _try in range(2):
            w = self._acquire()
            info = WorkerInfo(id=w.slot, jobs=0, warm=False)
            job_dir = w.job_dir_inside
            try:
                # Always under the start lock: a warm-up thread may be inside ``start`` (its
                # process is alive, its "ready" not read yet); two readers on one pipe steal each
                # other's frames.
                with self._lock_for(w):
                    if not w.alive():
                        start_or_broken(w)
                warm = w.jobs > 0
                self._prepare(w, root, plan)
                job = {
                    "entry": plan.entry.path,
                    "context": plan.context,
                    "dummy_env": plan.dummy_env,
                    "env": DUMMY_ENV if plan.dummy_env else {},
                    "timeout": self.opts.timeout,
                    "lint": self.opts.lint,
                }
                info = WorkerInfo(id=w.slot, jobs=w.jobs + 1, warm=warm, uid=w.uid)
                if deaths:
                    info.retried = f"the worker died under the first run: {deaths[0]}"
                try:
                    raw = w.run(job, self.opts.timeout)
                except WorkerTimeout:
                    outputs = self._log_only(w)
                    return _Run(None, outputs, timeout=True, worker=info, job_dir=job_dir)
                except WorkerDied as exc:
                    deaths.append(str(exc))
                    outputs = self._log_only(w)
                    w.kill()
                    if len(deaths) == 2:
                        self._check_sandbox(w, deaths)
                    continue
                outputs = from_frame(raw.get("outputs"))
                outputs.log, outputs.log_size = read_log(w.out_dir / "synth.log", self.opts.log_cap_bytes)
                if (
                    raw.get("tampered")
                    or w.jobs >= self.opts.max_jobs_per_worker
                    or self.opts.isolation == "process"
                ):
                    info.recycled = WorkerInfo.reason(raw.get("tampered") or "job limit")
                    w.kill()
                return _Run(raw, outputs, worker=info, job_dir=job_dir)
            finally:
                self._release(w)
        return _Run(None, outputs, died=deaths[-1], worker=info, job_dir=job_dir)

    def _check_sandbox(self, w: WorkerProcess, deaths: list[str]) -> None:
        """An answer killed its worker twice: it did, unless a benign app fails on a fresh one."""
        job = {
            "entry": "app.py",
            "context": dict(CLI_CONTEXT),
            "env": {},
            "timeout": PROBE_TIMEOUT,
            "lint": False,
        }
        with self._lock_for(w):
            fault = sandbox_fault(w, {"app.py": _PROBE_APP}, job)
        if fault is not None:
            raise SandboxBroken(
                f"the synth worker died twice under this answer ({'; '.join(deaths)}) and {fault}"
            )

    def _log_only(self, w: WorkerProcess) -> Outputs:
        """What is left of a job whose worker did not answer: its log (a host file)."""
        outputs = Outputs()
        outputs.log, outputs.log_size = read_log(w.out_dir / "synth.log", self.opts.log_cap_bytes)
        return outputs

    def _acquire(self) -> WorkerProcess:
        if self._closed:
            raise RuntimeError("SynthPool is closed")
        return self._slots.get()

    def _release(self, w: WorkerProcess) -> None:
        self._slots.put(w)

    def _prepare(self, w: WorkerProcess, root: Path, plan: _Plan) -> None:
        """Fill the worker's inbox with a fresh copy of the workspace (+ driver, stubs)."""
        w.clear()
        shutil.copytree(
            root,
            w.in_dir,
            dirs_exist_ok=True,
            symlinks=False,
            ignore=shutil.ignore_patterns("cdk.out", "__pycache__", ".git"),
        )
        if plan.entry.kind == "driver" and plan.entry.driver_source:
            (w.in_dir / DRIVER_FILE).write_text(plan.entry.driver_source)
        for stub in plan.stubs:
            target = w.in_dir / stub
            if target.suffix in _STUB_FILE_SUFFIXES:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("# placeholder created by iacgrade: the answer never provides this asset\n")
            else:
                target.mkdir(parents=True, exist_ok=True)
                (target / "README.iacgrade-stub").write_text(
                    "placeholder: the answer never provides this asset\n"
                )
        w.own_tree(w.in_dir)

    def _failure(self, run: _Run, plan: _Plan, answer_classes: set[str]) -> cls_.Classified | None:
        """Classify an attempt; None when it produced templates without error."""
        if run.timeout:
            return cls_.Classified(
                "timeout",
                "Timeout",
                f"Timeout: synth ran longer than {self.opts.timeout:g} s",
                None,
                None,
                "",
            )
        if run.died is not None:
            return cls_.Classified(
                "exited",
                "WorkerDied",
                f"WorkerDied: the synth process ended abruptly ({run.died})",
                None,
                None,
                "",
            )
        assert run.raw is not None
        error = run.raw.get("error")
        if error:
            driver = DRIVER_FILE if plan.entry.kind == "driver" else None
            return cls_.classify(error, answer_classes, run.job_dir, driver)
        if not run.outputs.templates:
            return cls_.Classified(
                "no-stacks", "NoStacks", "NoStacks: the app ran but synthesized no stack", None, None, ""
            )
        return None

    def _fallback(
        self,
        failure: cls_.Classified,
        run: _Run,
        plan: _Plan,
        workspace: Workspace,
        sample: Sample,
        root: Path,
    ) -> str | None:
        """Change the plan to get past this failure; return the fallback's name, or None."""
        text = failure.detail
        flag = cls_.unsupported_flag(text)
        if flag:
            scaffold_ctx = _scaffold_context(sample)
            if (
                workspace.context_source == "answer"
                and scaffold_ctx is not None
                and not plan.scaffold_context
            ):
                plan.context = {**scaffold_ctx, **CLI_CONTEXT}
                plan.scaffold_context = True
                return "scaffold-context"
            if flag in plan.context:
                plan.context = {k: v for k, v in plan.context.items() if k != flag}
                return f"drop-flag:{flag}"
        asset = cls_.missing_asset(text)
        if asset:
            rel = _relative_asset(asset, run.job_dir)
            if rel and rel not in plan.stubs and len(plan.stubs) < 5:
                plan.stubs.append(rel)
                return f"stub-asset:{rel}"
        if cls_.env_required(text) and not plan.dummy_env:
            plan.dummy_env = True
            return "dummy-env"
        frames = ((run.raw or {}).get("error") or {}).get("frames") or []
        in_entry = any(str(f[0]).endswith("/" + str(plan.entry.path)) for f in frames)
        entry_mismatch = (
            plan.entry.kind == "answer"
            and in_entry
            and failure.error_type in ("TypeError", "ImportError")
            and re.search(
                r"unexpected keyword|required positional|positional argument|cannot import", failure.detail
            )
            is not None
        )
        if entry_mismatch and "scaffold-entry" not in plan.tried:
            # The answer's own app does not match its own stack (e.g. passes a keyword the stack
            # does not take): the scaffold's entry may still build the stack.
            plan.tried.append("scaffold-entry")
            scaffold = scaffold_entry(root, sample.entry_file)
            if scaffold and scaffold != plan.entry.path and scaffold_mismatch(root, scaffold) is None:
                plan.entry = EntryPlan("scaffold", scaffold, f"answer entry failed: {failure.message}")
                return "scaffold-entry"
        scaffold_broke = plan.entry.kind == "scaffold" and (
            failure.cause == "no-stacks"
            or (
                failure.file == plan.entry.path
                and failure.error_type in ("TypeError", "ImportError", "AttributeError")
            )
        )
        if scaffold_broke or (plan.entry.kind == "answer" and failure.cause == "no-stacks"):
            driver = make_driver_plan(
                root, workspace.answer_files, f"{plan.entry.kind} entry failed: {failure.message}"
            )
            if driver.kind == "driver":
                plan.entry = driver
                return "driver"
        return None

    def _finish(
        self, result: SynthResult, run: _Run, plan: _Plan, answer_classes: set[str], dest: Path
    ) -> None:
        failure = self._failure(run, plan, answer_classes)
        raw = run.raw or {}
        lint = raw.get("lint") if self.opts.lint and run.raw else None
        result.templates = write_outputs(dest, run.outputs, lint if lint is not None else None)
        result.stacks = sorted(run.outputs.templates)
        result.entry = plan.entry.path
        result.entry_kind = plan.entry.kind
        result.dummy_env = plan.dummy_env
        result.missing_assets = list(plan.stubs)
        result.lookups = run.outputs.missing
        result.docker_bundling = sorted(set(raw.get("bundling") or []) | set(run.outputs.docker_images))
        result.deprecations = deprecations(run.outputs.log)
        if lint:
            result.lint = {stack: typed_list(LintMatch, matches) for stack, matches in lint.items()}
        if raw.get("implicit_synth"):
            result.fallbacks.append("implicit-synth")
        result.worker.note_reply(raw)
        if failure is None:
            result.status = "ok"
            return
        result.status = "timeout" if failure.cause == "timeout" else "failed"
        result.error_type = failure.error_type
        result.message = failure.message
        result.cause = failure.cause
        result.file = failure.file
        result.line = failure.line


def _answer_classes(root: Path, files: list[str]) -> set[str]:
    names: set[str] = set()
    for rel in files:
        tree = parse_file(root / rel) if rel.endswith(".py") else None
        if tree is not None:
            names |= {n.name for n in walk(tree) if isinstance(n, ast.ClassDef)}
    return names


def _scaffold_context(sample: Sample) -> dict[str, Any] | None:
    if not sample.task_root:
        return None
    path = Path(sample.task_root) / "cdk.json"
    try:
        ctx = json.loads(path.read_text()).get("context")
    except (OSError, ValueError, AttributeError):
        return None
    return ctx if isinstance(ctx, dict) else None


def _relative_asset(asset: str, job_dir: str) -> str | None:
    """The missing asset as a path inside the job folder, or None when it points elsewhere."""
    prefix = job_dir.rstrip("/") + "/"
    if not asset.startswith(prefix):
        return None
    rel = asset[len(prefix) :].strip("/")
    if not rel or ".." in rel.split("/"):
        return None
    return rel
