"""The check registry and runner.

A check is one function registered with ``@check("id")``. It takes a CheckContext and yields
Hits; the runner turns them into Findings with the rubric's category, severity, title and fix.
The registry is the only list of checks: the runner never names one. A check with options
declares a CheckOptions model beside it, registers it with ``@check("id", options=Model)`` and
reads them with ``ctx.options(Model)``.
"""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.pyast import memo_scope
from iacgrade.graders.analysis.source import SourceFile, parse_source
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.models import Evidence, Finding, Lens
from iacgrade.graders.rubric import CheckOptions, Rubric, load_rubric

CheckFn = Callable[[CheckContext], Iterable[Hit]]

GRADER_ERROR = "grader-error"


@dataclass(frozen=True)
class CheckInfo:
    id: str
    fn: CheckFn
    lenses: tuple[Lens, ...]
    doc: str
    # The kinds of answer whose source model the check's source lens reads (graders.kinds);
    # None: every kind. On another kind its other lenses still run, with no sources to read.
    kinds: tuple[str, ...] | None = None
    options: type[CheckOptions] | None = None
    path: str = ""  # the check's module file, relative to the project: graders/checks/<category>/<id>.py

    def runs_on(self, kind: str) -> bool:
        """Whether the check has anything to read on an answer of ``kind``."""
        return self.kinds is None or kind in self.kinds or set(self.lenses) != {"source"}

    def reads_sources_of(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


_REGISTRY: dict[str, CheckInfo] = {}
_loaded = False


def check(
    check_id: str,
    *,
    lenses: tuple[Lens, ...] = ("source",),
    kinds: tuple[str, ...] | None = None,
    options: type[CheckOptions] | None = None,
) -> Callable[[CheckFn], CheckFn]:
    """Register a check function under a stable id, with its options model if it has options.

    ``kinds`` names the kinds of answer whose source model a source-lens check reads; a check
    that reads only templates and build outcomes leaves it out and runs on every kind.
    """

    def register(fn: CheckFn) -> CheckFn:
        if check_id in _REGISTRY and _REGISTRY[check_id].fn is not fn:
            raise ValueError(f"check id {check_id!r} registered twice")
        if "source" in lenses and kinds is None:
            raise ValueError(f"check {check_id!r} reads the source lens: name the kinds it reads")
        if options is not None:
            if options.check_id not in ("", check_id):
                raise ValueError(f"{options.__name__} already belongs to check {options.check_id!r}")
            options.check_id = check_id
        # The file in the repository's layout (graders/checks/...), the same on every machine, for docs.
        path = fn.__module__.removeprefix("iacgrade.").replace(".", "/") + ".py"
        doc = (fn.__doc__ or "").strip()
        _REGISTRY[check_id] = CheckInfo(check_id, fn, lenses, doc, kinds, options, path)
        return fn

    return register


def registry() -> dict[str, CheckInfo]:
    """Every registered check by id (imports the check modules on first use)."""
    global _loaded
    if not _loaded:
        # graders/checks/<category>/<check_id>.py: importing a module registers its one check
        for mod in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
            if not mod.ispkg:
                importlib.import_module(mod.name)
        _loaded = True
    return dict(sorted(_REGISTRY.items()))


def known_ids() -> set[str]:
    """Ids a rubric may name: the registered checks plus the runner's own grader-error."""
    return set(registry()) | {GRADER_ERROR}


def option_models() -> dict[str, type[CheckOptions]]:
    """Each check's options model, by id, for ``load_rubric`` (checks without options are left out)."""
    return {cid: info.options for cid, info in registry().items() if info.options is not None}


def load_checked_rubric(path: str | Path | None = None) -> Rubric:
    """``load_rubric`` against the registry: unknown check ids, options and option types are errors."""
    return load_rubric(path, known_checks=known_ids(), option_models=option_models())


def run_checks(ctx: CheckContext) -> list[Finding]:
    """Run every enabled check; a check that raises becomes a grader-error finding."""
    findings: list[Finding] = []
    with memo_scope():  # the checks share memoised walks of this answer's trees
        for check_id, info in registry().items():
            spec = ctx.rubric.checks.get(check_id)
            if spec is None or not spec.enabled or not info.runs_on(ctx.kind):
                continue
            try:
                hits = list(info.fn(ctx if info.reads_sources_of(ctx.kind) else ctx.without_sources()))
            except Exception as exc:  # a check bug must not sink the sample or the batch
                findings.append(_grader_error(ctx, check_id, exc))
                continue
            findings.extend(_to_findings(ctx, check_id, hits))
    return findings


def _to_findings(ctx: CheckContext, check_id: str, hits: list[Hit]) -> list[Finding]:
    spec = ctx.rubric.checks[check_id]
    merged: dict[str, tuple[Hit, list[Evidence], list[Lens]]] = {}
    order: list[str] = []
    for n, hit in enumerate(hits):
        key = hit.key if hit.key is not None else f"#{n}"
        if key not in merged:
            merged[key] = (hit, [], [])
            order.append(key)
        _, evidence, lenses = merged[key]
        for ev in hit.evidence:
            if ev not in evidence:
                evidence.append(ev)
        if hit.lens not in lenses:
            lenses.append(hit.lens)
    return _merge_across_stacks(
        [
            Finding(
                check=check_id,
                category=spec.category,
                severity=_severity(ctx, merged[key][0], spec.severity),
                title=spec.title,
                message=merged[key][0].message,
                evidence=merged[key][1],
                fix=spec.fix,
                lenses=sorted(merged[key][2]),
            )
            for key in order
        ]
    )


def _merge_across_stacks(findings: list[Finding]) -> list[Finding]:
    """One finding for a problem that several stacks repeat word for word.

    An app that deploys one stack class twice (dev and prod, a primary and a secondary region)
    synthesizes the same resources twice; a check keyed by stack then reports each problem once per
    stack. Findings of one check with the same message, severity and evidence but for the stack
    become one, whose evidence names every stack: a reviewer reads one problem, and the score
    counts it once. A resource that differs between the stacks (another value, another line)
    keeps its own finding.
    """
    out: list[Finding] = []
    first: dict[tuple[object, ...], int] = {}
    for finding in findings:
        stacks = {ev.stack for ev in finding.evidence if ev.stack}
        shape = (finding.message, finding.severity, frozenset(_stackless(ev) for ev in finding.evidence))
        at = first.get(shape)
        if at is None or not stacks:
            first.setdefault(shape, len(out))
            out.append(finding)
            continue
        kept = out[at]
        if stacks & {ev.stack for ev in kept.evidence if ev.stack}:
            out.append(finding)  # the same stack twice: two resources, not one repeated
            continue
        evidence = kept.evidence + [ev for ev in finding.evidence if ev not in kept.evidence]
        lenses = sorted(set(kept.lenses) | set(finding.lenses))
        out[at] = kept.model_copy(update={"evidence": evidence, "lenses": lenses})
    return out


def _stackless(ev: Evidence) -> tuple[object, ...]:
    """An evidence item without the stack it was found in (a CDK path loses its stack part)."""
    path = ev.cdk_path.split("/", 1)[-1] if ev.cdk_path else None
    return (ev.file, ev.line, ev.md_line, ev.resource, path, ev.value)


def _severity(ctx: CheckContext, hit: Hit, default: str) -> str:
    """The hit's own severity when it names one the rubric knows, else the rubric's for the check."""
    return hit.severity if hit.severity and hit.severity in ctx.rubric.severities else default


def _grader_error(ctx: CheckContext, check_id: str, exc: BaseException) -> Finding:
    spec = ctx.rubric.checks.get(GRADER_ERROR)
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else ""
    return Finding(
        check=GRADER_ERROR,
        category=spec.category if spec else "best_practices",
        severity=spec.severity if spec else "info",
        title=spec.title if spec else "A check crashed on this answer",
        message=f"check {check_id} raised {type(exc).__name__}: {exc}{where}",
        fix=spec.fix if spec else "",
        lenses=[],
    )


__all__ = [
    "CheckContext",
    "CheckInfo",
    "CheckOptions",
    "Hit",
    "Resource",
    "SourceFile",
    "check",
    "known_ids",
    "load_checked_rubric",
    "option_models",
    "parse_source",
    "registry",
    "run_checks",
]
