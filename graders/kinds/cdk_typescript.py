"""CDK TypeScript and JavaScript answers: synthesized on warm Node workers in the sandbox.

The answer's files are laid over the task's scaffold (``bin/tap.ts``, ``cdk.json``); a file the
answer names without a folder goes under ``lib/`` (where ``bin/tap.ts`` imports from), or under
``bin/`` when it is an app. The answer's own ``package.json`` and ``tsconfig.json`` are kept in
the workspace but not used: the harness's toolchain (``toolchain/node``: aws-cdk-lib at the
version of the Python aws-cdk-lib, constructs, typescript) is what runs.

Each job runs in a Node worker (``cdk_node_worker.js``) inside the same bubblewrap sandbox as
the Python pool, with the same limits: the worker transpiles the answer to CommonJS with
TypeScript's ``transpileModule`` (no type check), runs the app with the CDK CLI's context and
synthesizes the Apps it made. The entries tried, in order: ``bin/tap.ts`` (the answer's or the
scaffold's), the answer's own app files, then a driver that instantiates the answer's exported
Stack classes. A missing account/region gets the dummy environment, a missing asset a stub.

The type check is the one the task's ``npx ts-node --prefer-ts-exts bin/tap.ts`` does before it
runs anything (cdk init's strict compiler options), on the files the entry imports; its errors
become ``SynthResult.diagnostics`` (see :data:`DIAGNOSTIC_CATEGORIES` for what is reported)
and the template from the transpile-only run still feeds the template lens.
"""

from __future__ import annotations

import posixpath
import queue
import re
import shutil
import threading
import time
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from iacgrade.graders.analysis.source import SourceFile, SourceModel
from iacgrade.graders.extract import default_node_path
from iacgrade.graders.kinds.base import BuildSettings, Built, Kind, Services
from iacgrade.graders.models import (
    Attempt,
    Diagnostic,
    ExtractedFile,
    Extraction,
    FileMove,
    Sample,
    SynthResult,
    WorkerInfo,
    Workspace,
    typed_list,
)
from iacgrade.graders.sandbox.classify import without_token_numbers
from iacgrade.graders.workspace import assemble

NODE_LANGS = ("typescript", "javascript")
WORKER_JS = Path(__file__).with_name("cdk_node_worker.js")
_CDK_IMPORT = re.compile(r"""(?:from\s+|require\(\s*)['"](aws-cdk-lib|constructs)(?:/[\w-]+)?['"]""")
_APP = re.compile(r"\bnew\s+(?:\w+\.)?App\s*\(")
# What `cdk synth` adds to the context; bundling-stacks=[] skips bundling (esbuild, Docker) entirely.
CLI_CONTEXT: dict[str, Any] = {
    "aws:cdk:bundling-stacks": [],
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": False,
}
# Context providers' cached answers (`vpc-provider:account=...:region=...`, `availability-zones:...`)
# hold one account's lookups: a real deploy from another account never reads them, and the
# harness's dummy account is nobody's, so they are left out (a lookup then gets the dummy value
# and is listed as one; an answer's hand-written `vpc-provider` value of the wrong shape broke synth).
_LOOKUP_CACHE = re.compile(r"^[a-z0-9-]+:account=")
# A new worker costs ~6 s to warm (aws-cdk-lib loaded, the compiler's first program): replaced every
# 100 jobs that was ~19% of a warm job's time; live heap grows slowly (the heap check still guards it).
MAX_JOBS_PER_WORKER = 400
NODE_HEAP_MB = 2048

# TypeScript diagnostics that are a finding, by what they say about the answer. A code that is not
# listed is reported as a plain type error. Implicit `any` (7005-7053) and unused names
# (6133, 6138, 6192, 6196, 6198) are not reported: a project that never asked for
# noImplicitAny/noUnusedLocals compiles with them.
DIAGNOSTIC_CATEGORIES: dict[int, str] = {
    **dict.fromkeys((2304, 2552, 2503, 2584, 2580, 2663), "undefined-name"),
    **dict.fromkeys((2307, 2792), "missing-module"),
    **dict.fromkeys(
        (
            2339, 2551, 2353, 2561, 2741, 2739, 2740, 2322, 2345, 2554, 2555, 2556, 2559,
            2305, 2724, 2694, 2614, 2351, 2349, 2769, 2740, 2820, 2515, 2511, 2673, 2674,
            2576, 2540, 2341, 2445,
        ),
        "invalid-api",
    ),
}  # fmt: skip
IGNORED_DIAGNOSTICS = frozenset(
    {7005, 7006, 7008, 7010, 7011, 7015, 7016, 7019, 7022, 7023, 7024, 7031, 7034, 7041, 7053}
    | {6133, 6138, 6192, 6196, 6198, 6205}
)


def diagnostic_category(code: int) -> str | None:
    """What a TypeScript diagnostic code says about the answer (None: not a finding)."""
    if code in IGNORED_DIAGNOSTICS:
        return None
    if 1000 <= code < 2000:
        return "syntax"
    return DIAGNOSTIC_CATEGORIES.get(code, "type")


class CdkTypeScript(Kind):
    name: ClassVar[str] = "cdk-typescript"
    metadata: ClassVar[tuple[tuple[str, str], ...]] = (("cdk", "ts"), ("cdk", "typescript"))
    no_code: ClassVar[str] = "the answer has no TypeScript code"
    language: ClassVar[str] = "typescript"
    entry_names: ClassVar[tuple[str, ...]] = ("bin/tap.ts",)
    typecheck: ClassVar[bool] = True
    # The source lens reads few checks of these categories in TypeScript/JavaScript (secrets,
    # DESTROY, names, tags, inline code, region): a category none of them hit is left unscored.
    unreadable_note: ClassVar[str] = (
        "no template was synthesized, and most of these checks read only the template of a "
        "TypeScript/JavaScript answer"
    )

    def recognises(self, extraction: Extraction) -> bool:
        return any(f.language == self.language and _CDK_IMPORT.search(f.content) for f in extraction.files)

    def code_files(self, extraction: Extraction) -> list[ExtractedFile]:
        return [f for f in extraction.files if f.language in NODE_LANGS]

    def build(
        self, sample: Sample, extraction: Extraction, workdir: Path, out_dir: Path, services: Services
    ) -> Built:
        moves = place_files(self.code_files(extraction))
        workspace = assemble(sample, extraction, workdir)
        workspace.moves = [*moves, *workspace.moves]
        if not self.code_files(extraction):
            return Built(SynthResult(status="skipped", cause="no-code", message=self.no_code), workspace)
        if not services.settings.enabled:
            return Built(
                SynthResult(status="skipped", message="synthesis switched off (--no-synth)"), workspace
            )
        pool: NodePool = services.get("node-synth", start_node_pool)
        job = self.job(workspace, extraction)
        if not job["entries"] and not job["driver_files"]:
            return Built(
                SynthResult(status="skipped", cause="no-entry", message="nothing to synthesize: no app "
                            "and no module the driver could load"),
                workspace,
            )  # fmt: skip
        synth = pool.synthesize(Path(workspace.root), job, out_dir)
        notes: list[str] = []
        if synth.templates and synth.status == "ok":
            lint_templates(synth, out_dir, sample, services, notes)
        return Built(synth, workspace, notes)

    def job(self, workspace: Workspace, extraction: Extraction) -> dict[str, Any]:
        """What the worker runs: entries in order, the files the driver may load, the context."""
        answer = [f for f in self.code_files(extraction) if not _is_test(f.path)]
        entries = [p for p in self.entry_names if p in workspace.files]
        entries += [f.path for f in answer if _APP.search(f.content) and f.path not in entries]
        driver = [
            f.path
            for f in answer
            if not f.path.endswith(".d.ts") and "lambda" not in PurePosixPath(f.path).parts[:-1]
        ]
        context = {k: v for k, v in workspace.context.items() if not _LOOKUP_CACHE.match(k)}
        # The task's pipeline passes `-c environmentSuffix=...` (the scaffold's bin/tap.ts: "from
        # context (set by CI/CD pipeline) or use 'dev' as default"): an app that requires it gets it.
        context.setdefault("environmentSuffix", "dev")
        return {
            "entries": entries,
            "driver_files": driver,
            "context": {**context, **CLI_CONTEXT},
            "typecheck": self.typecheck,
        }

    def source_model(self, files: list[ExtractedFile], synth: SynthResult) -> SourceModel:
        """The answer's TypeScript/JavaScript text and the compiler's errors on it; the source-lens
        checks read the files' syntax trees (graders.analysis.tsast), parsed on first use."""
        return SourceModel(
            [SourceFile(f.path, f.content, None, None, f) for f in files if f.language in NODE_LANGS],
            diagnostics=synth.diagnostics,
        )


class CdkJavaScript(CdkTypeScript):
    name: ClassVar[str] = "cdk-javascript"
    metadata: ClassVar[tuple[tuple[str, str], ...]] = (("cdk", "js"), ("cdk", "javascript"))
    no_code: ClassVar[str] = "the answer has no JavaScript code"
    language: ClassVar[str] = "javascript"
    entry_names: ClassVar[tuple[str, ...]] = ("bin/tap.mjs", "bin/tap.js", "bin/tap.cjs")
    typecheck: ClassVar[bool] = False  # `node bin/tap.mjs` checks nothing


def _is_test(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return (
        "test" in parts[:-1]
        or "tests" in parts[:-1]
        or bool(re.search(r"\.(test|spec)\.[cm]?[jt]sx?$", path))
    )


def place_files(files: list[ExtractedFile]) -> list[FileMove]:
    """A file named without a folder goes where the scaffold's app imports from (``lib/``), or
    to ``bin/`` when it is an app; then a file a relative import of the answer looks for under
    ``lib/`` (``./constructs/vpc`` from ``lib/tap-stack.ts``) and that the answer gave without the
    ``lib/`` (``constructs/vpc.ts``) moves there. Recorded as moves (``moved_from`` on the file).
    A shebang below the line that names the file (``// bin/tap.ts`` then ``#!/usr/bin/env node``)
    is commented out: it is the file's first line in the answer's project."""
    taken = {f.path for f in files}
    moves: list[FileMove] = []

    def move(f: ExtractedFile, dest: str, reason: str) -> None:
        moves.append(FileMove(src=f.path, dst=dest, reason=reason))
        taken.discard(f.path)
        taken.add(dest)
        f.moved_from, f.path = f.moved_from or f.path, dest

    # A folderless module that a folderless app imports as a sibling (`import ... from './stack'`
    # in main.ts) stays beside the app, in bin/; except the scaffold's own `tap-stack`, which its
    # bin/tap.ts imports from lib/.
    folderless = {f.path for f in files if f.path and "/" not in f.path}
    beside_app = {
        found
        for f in files
        if f.path in folderless and _APP.search(f.content)
        for spec in _RELATIVE_IMPORT.findall(f.content)
        if spec.startswith("./") and "/" not in spec[2:]
        for found in _module_files(spec[2:])
        if found in folderless and not found.startswith("tap-stack.")
    }
    for f in files:
        _comment_out_shebang(f)
        if f.path.startswith("bin/tap.") and not _APP.search(f.content):
            # The app's name on a block that holds no app but the stack: the scaffold's app is the app.
            dest, _ = default_node_path(f.content, f.language)
            if dest and dest.startswith("lib/") and dest not in taken:
                move(
                    f, dest, "named as the app, but holds no App(): a stack module, where the app imports it"
                )
            continue
        if "/" in f.path or not f.path:
            continue
        if f.path in beside_app and f"bin/{f.path}" not in taken:
            move(f, f"bin/{f.path}", "named without a folder; the answer's app beside it imports it as ./")
            continue
        folder = "bin" if _APP.search(f.content) else "lib"
        if f"{folder}/{f.path}" not in taken:
            move(f, f"{folder}/{f.path}", f"named without a folder; the app imports from {folder}/")
    by_path = {f.path: f for f in files}
    for _round in range(3):
        moved = False
        for f in list(by_path.values()):
            for spec in _RELATIVE_IMPORT.findall(f.content):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(f.path), spec))
                if not target.startswith("lib/") or _resolves(target, taken):
                    continue
                found = next((p for p in _module_files(target[4:]) if p in by_path), None)
                if found is None or found.startswith(("lib/", "bin/")):
                    continue
                mover = by_path.pop(found)
                move(mover, "lib/" + found, f"{f.path} imports it from {target}")
                by_path[mover.path] = mover
                moved = True
        if not moved:
            break
    return moves


_RELATIVE_IMPORT = re.compile(r"""(?:from\s+|require\(\s*|import\s+)['"](\.{1,2}/[^'"]+)['"]""")
_EXTS = (".ts", ".tsx", ".js", ".mjs", ".cjs")


def _module_files(base: str) -> list[str]:
    return [base, *(base + e for e in _EXTS), *(f"{base}/index{e}" for e in _EXTS)]


def _resolves(target: str, taken: set[str]) -> bool:
    return any(p in taken for p in _module_files(target))


def _comment_out_shebang(f: ExtractedFile) -> None:
    lines = f.content.split("\n")
    for i, line in enumerate(lines[:4]):
        stripped = line.strip()
        if line.startswith("#!"):
            if i > 0:
                lines[i] = "//" + line
                f.content = "\n".join(lines)
            return
        if stripped and not stripped.startswith("//"):
            return


def lint_templates(
    synth: SynthResult, out_dir: Path, sample: Sample, services: Services, notes: list[str]
) -> None:
    """cfn-lint each synthesized template in the bounded parse workers of the CloudFormation kind."""
    from iacgrade.graders.kinds.cloudformation import start_parse_pool, task_region

    pool = services.get("cfn-parse", start_parse_pool)
    region = task_region(sample)
    for stack, rel in synth.templates.items():
        outcome = pool.parse((out_dir / rel).read_text(encoding="utf-8"), region)
        if outcome.lint is not None:
            synth.lint[stack] = outcome.lint
        elif outcome.lint_note:
            notes.append(f"{stack}: {outcome.lint_note}")


def start_node_pool(settings: BuildSettings) -> NodePool:
    from iacgrade.graders.kinds.cdk_python import check_node

    check_node()
    if not (NODE_TOOLCHAIN / "node_modules" / "aws-cdk-lib").is_dir():
        from iacgrade.graders.sandbox import SandboxUnavailable

        raise SandboxUnavailable(
            f"the Node toolchain is not installed in {NODE_TOOLCHAIN}: run `iacgrade setup-node` "
            "(in a checkout, `make install`), or grade with --no-synth"
        )
    return NodePool(settings).__enter__()


from iacgrade.graders.sandbox.launcher import NODE_TOOLCHAIN  # noqa: E402 - after the kind, which needs none of it
from iacgrade.graders.sandbox.options import SandboxBroken  # noqa: E402
from iacgrade.graders.sandbox.process import (  # noqa: E402
    WorkerDied,
    WorkerProcess,
    WorkerTimeout,
    sandbox_fault,
    start_or_broken,
)

# What runs on a fresh worker after an answer's job died twice, to tell the answer's fault from the sandbox's.
_PROBE_APP = "const cdk = require('aws-cdk-lib');\nconst app = new cdk.App();\nnew cdk.Stack(app, 'Probe');\napp.synth();\n"
_PROBE_JOB: dict[str, Any] = {
    "entries": ["bin/probe.js"],
    "driver_files": [],
    "context": CLI_CONTEXT,
    "typecheck": False,
}


class NodeWorker(WorkerProcess):
    """A sandboxed Node worker speaking the Python worker's protocol."""

    def command(self) -> list[str]:
        node = shutil.which("node", path=_sandbox_path()) or "node"
        return [node, f"--max-old-space-size={NODE_HEAP_MB}", "--stack-size=2000", str(WORKER_JS)]

    def extra_env(self) -> dict[str, str]:
        # NODE_PATH: the answer's `import 'aws-cdk-lib'` finds the toolchain's, as from a project's node_modules.
        return {
            "IACGRADE_NODE_TOOLCHAIN": str(NODE_TOOLCHAIN),
            "NODE_PATH": str(NODE_TOOLCHAIN / "node_modules"),
        }


def _sandbox_path() -> str:
    from iacgrade.graders.sandbox.launcher import sandbox_env

    return sandbox_env(None)["PATH"]


class NodePool:
    """Warm Node workers, one per grading thread; each replaced after a crash, a timeout, tampering,
    a large heap or ``MAX_JOBS_PER_WORKER`` jobs (aws-cdk-lib's token registry only grows)."""

    def __init__(self, settings: BuildSettings) -> None:
        import tempfile

        from iacgrade.graders.sandbox import SandboxOptions, SandboxUnavailable, launcher

        self.opts = SandboxOptions(
            workers=settings.workers,
            timeout=settings.timeout,
            scratch_mb=settings.scratch_mb,
            isolation=settings.isolation,  # type: ignore[arg-type]
            require_sandbox=settings.require_sandbox,
            max_jobs_per_worker=MAX_JOBS_PER_WORKER,
        )
        self.iso = launcher.detect_isolation()
        if self.iso.kind != "bwrap" and self.opts.require_sandbox:
            raise SandboxUnavailable("bubblewrap (bwrap) is not usable on this machine")
        self._tmp = Path(tempfile.mkdtemp(prefix="iacgrade-node-"))
        self._tmp.chmod(0o755)
        cpu = int(self.opts.timeout * (self.opts.max_jobs_per_worker + 2)) + 120
        self._workers = [
            NodeWorker(slot, self.opts, self.iso, None, self._tmp / f"w{slot}", cpu)
            for slot in range(max(1, self.opts.workers))
        ]
        self._slots: queue.Queue[NodeWorker] = queue.Queue()
        for w in self._workers:
            self._slots.put(w)
        self._closed = False
        self._lock = threading.Lock()

    def __enter__(self) -> NodePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        for w in self._workers:
            w.kill()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def synthesize(self, root: Path, job: dict[str, Any], out_dir: Path) -> SynthResult:
        """Run one job; never raises for what the answer does."""
        from iacgrade.graders.sandbox.collect import from_frame, read_log, write_outputs

        t0 = time.monotonic()
        result = SynthResult(isolation=self.iso.kind)
        raw: dict[str, Any] | None = None
        failure: dict[str, Any] | None = None
        log = b""
        deaths: list[str] = []
        for _try in range(2):
            # A worker that dies under the job is replaced and the job run once more: a death from
            # outside (the kernel's OOM killer, an operator's kill) is not the answer's. A second
            # death is the answer's own, unless a benign app then dies too (infra_error).
            if self._closed:
                raise RuntimeError("the Node synth pool is closed")
            w = self._slots.get()
            try:
                if not w.alive():
                    start_or_broken(w)
                warm = w.jobs > 0
                w.clear()
                shutil.copytree(root, w.in_dir, dirs_exist_ok=True, symlinks=False,
                                ignore=shutil.ignore_patterns("cdk.out", "node_modules", ".git"))  # fmt: skip
                w.own_tree(w.in_dir)
                result.worker = WorkerInfo(id=w.slot, jobs=w.jobs + 1, warm=warm, uid=w.uid)
                if deaths:
                    result.worker.retried = f"the worker died under the first run: {deaths[0]}"
                try:
                    raw = w.run(job, self.opts.timeout)
                except WorkerTimeout:
                    failure = {"cause": "timeout", "type": "Timeout",
                               "message": f"synth ran longer than {self.opts.timeout:g} s"}  # fmt: skip
                except WorkerDied as exc:
                    deaths.append(str(exc))
                    w.kill()
                    failure = {"cause": _died_cause(str(exc)), "type": "WorkerDied",
                               "message": f"the synth process ended abruptly ({exc})"}  # fmt: skip
                log, _ = read_log(w.out_dir / "synth.log", self.opts.log_cap_bytes)
                if raw is not None:
                    failure = None
                    recycle = raw.get("tampered") or raw.get("recycle") or (
                        w.jobs >= self.opts.max_jobs_per_worker and "job limit"
                    ) or (self.opts.isolation == "process" and "process isolation")  # fmt: skip
                    if recycle:
                        result.worker.recycled = WorkerInfo.reason(recycle)
                        w.kill()
                    break
                if not deaths or failure is None or failure["type"] != "WorkerDied":
                    break  # a timeout is the answer's: not retried on a fresh worker
                if len(deaths) == 2:
                    fault = sandbox_fault(w, {"bin/probe.js": _PROBE_APP}, _PROBE_JOB)
                    if fault is not None:
                        raise SandboxBroken(
                            f"the Node worker died twice under this answer ({'; '.join(deaths)}) and {fault}"
                        )
            finally:
                self._slots.put(w)
        outputs = from_frame((raw or {}).get("outputs"))
        outputs.log = log
        result.templates = write_outputs(out_dir, outputs, None)
        result.stacks = sorted(outputs.templates)
        result.lookups = outputs.missing
        result.docker_bundling = outputs.docker_images
        result.seconds = round(time.monotonic() - t0, 3)
        if raw is not None:
            _read_raw(result, raw, job)
        if failure is not None:
            result.status = "timeout" if failure["cause"] == "timeout" else "failed"
            result.cause, result.error_type, result.message = (
                failure["cause"],
                failure["type"],
                failure["message"],
            )
        return result


def _died_cause(text: str) -> str:
    return "memory" if re.search(r"SIGABRT|SIGKILL|SIGSEGV|SIGTRAP|exit code 134", text) else "exited"


def _read_raw(result: SynthResult, raw: dict[str, Any], job: dict[str, Any]) -> None:
    entry = raw.get("entry")
    entries = job["entries"]
    if entry is None and result.templates:
        result.entry, result.entry_kind = "(driver)", "driver"
    elif isinstance(entry, str):
        result.entry = entry
        result.entry_kind = (
            "scaffold" if entry == entries[:1] == [entry] and entry.startswith("bin/") else "answer"
        )
    result.fallbacks = [str(f) for f in raw.get("fallbacks") or []][:10]
    result.dummy_env = bool(raw.get("dummy_env"))
    result.missing_assets = [str(s) for s in raw.get("stubs") or []][:5]
    result.attempts = [
        Attempt(
            error_type=str(a["type"]) if a.get("type") is not None else None,
            message=without_token_numbers(str(a.get("message")))[:500],
            cause=cause,
            file=file,
            line=line,
        )
        for a in (raw.get("attempts") or [])[:6]
        if isinstance(a, dict)
        for cause, file, line in [classify(a)]
    ]
    result.worker.note_reply(raw)
    result.diagnostics = typed_list(Diagnostic, raw.get("diagnostics"))[:200]
    error = raw.get("error")
    if result.templates and not error:
        result.status = "ok"
        return
    if not isinstance(error, dict):
        result.status, result.cause = "failed", "no-stacks"
        result.error_type, result.message = "NoStacks", "NoStacks: the app ran but synthesized no stack"
        return
    cause, file, line = classify(error)
    result.status = "failed"
    result.cause = cause
    result.error_type = str(error.get("type") or "Error")
    message = without_token_numbers(str(error.get("message") or "")).strip()
    result.message = f"{result.error_type}: {message.splitlines()[0] if message else ''}"[:1000]
    result.file, result.line = file, line
    if re.search(r"\bdocker\b", message, re.I):  # DockerImage.fromBuild() or forced bundling runs docker
        result.docker_bundling.append("docker run at synth")


_MODULE = re.compile(r"Cannot find module '([^']+)'")


def classify(error: dict[str, Any]) -> tuple[str, str | None, int | None]:
    """The cause of a Node synth error and the answer's file:line it was raised from."""
    message = without_token_numbers(str(error.get("message") or ""))
    etype = str(error.get("type") or "")
    code = error.get("code")
    file = line = None
    for frame in error.get("frames") or []:
        if isinstance(frame, list) and len(frame) == 3 and frame[2]:
            file, line = str(frame[0]), int(frame[1])
            break
    # A file that does not parse fails ts-node (and node) before anything runs, whatever the
    # recovered transpile did next; the transpiler's diagnostic has the line.
    syntax = error.get("syntax") or []
    if syntax and isinstance(syntax[0], dict):
        return "syntax", syntax[0].get("file") or file, syntax[0].get("line") or line
    if etype == "SyntaxError":
        return "syntax", file, line
    if code == "MODULE_NOT_FOUND" or _MODULE.search(message):
        return "missing-module", file, line
    if code == "NO_STACKS" or code == "NO_STACK_CLASS":
        return "no-stacks", file, line
    if etype == "ProcessExit":
        return "exited", file, line
    if etype == "RangeError" and re.search(
        r"Invalid (string|array|typed array) length|Array buffer allocation failed", message
    ):
        return "memory", file, line  # a string or buffer beyond what V8 allocates
    if etype == "RangeError" and "Maximum call stack size exceeded" in message:
        return "other", file, line  # as Python's RecursionError
    if etype == "ReferenceError":
        return "undefined-name", file, line
    if re.search(r"Cannot find asset|ENOENT", message):
        return "missing-asset", file, line
    if re.search(r"account/region|Unable to resolve AWS account|context provider", message, re.I):
        return "config", file, line
    if etype.endswith("ValidationError"):
        return "validation", file, line
    if etype in ("TypeError", "CfnSynthesisError") or re.search(
        r"is not a (constructor|function)|Cannot read propert|Supplied properties not correct", message
    ):
        return "invalid-api", file, line
    if re.search(
        r"Validation failed|must be|cannot be|is not a valid|Invalid|already a Construct with name|must have",
        message,
    ):
        return "validation", file, line
    return "other", file, line
