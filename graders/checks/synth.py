"""Deployment and API checks: what synth says about the answer, and what its source predicts.

The synth lens reads the SynthResult the sandbox filled (status, classified cause, failed
attempts before a fallback, jsii deprecation warnings, context lookups, Docker bundling, stubbed
assets) and cfn-lint's matches. The source lens checks the answer's calls against the installed
aws-cdk-lib API (see ``_cdkapi``/``_cdkuse``), which also finds errors masked behind the first
one synth stops at.

Design decisions:
- ``synth-failed`` fires when the answer *as written* produces no template: synth failed or
  timed out, the answer has no Python code, or a template came only after a fallback that
  changed the answer's own setup (its cdk.json context, a stubbed asset, a generated driver).
  Fallbacks that emulate a credentialed ``cdk synth`` (a dummy account/region) or the CLI's
  implicit synth do not count.
- ``invalid-api`` reports each wrong API use once: synth's error and the source lens's finding
  for the same call merge; errors raised for the answer's own classes are not CDK API misuse.
"""

from __future__ import annotations

import ast
import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from graders.checks import check
from graders.checks._ast import call_name, construct_id, dotted, kwarg, parents, walk
from graders.checks._cdkuse import CdkUse
from graders.checks._inline import resource_matches, single_binding
from graders.checks.context import CheckContext, Hit, Resource, SourceFile, is_cdk_helper
from graders.models import Evidence

# Fallbacks that change the answer's own setup: a template after them is not the answer's.
_FAILING_FALLBACKS = ("scaffold-context", "drop-flag", "stub-asset", "driver")

_CAUSES = {
    "syntax": "a file does not parse",
    "undefined-name": "a name is used but never defined or imported",
    "invalid-api": "wrong use of the CDK API",
    "validation": "CDK rejected a construct's configuration",
    "missing-module": "a module the answer imports does not exist",
    "config": "the app's configuration (context, account/region) is unusable",
    "unsupported-feature-flag": "the answer's cdk.json sets a CDK v1 feature flag that CDK v2 rejects",
    "missing-asset": "an asset path the answer never provides",
    "timeout": "synth did not finish in time",
    "memory": "synth ran out of memory",
    "exited": "the app exited before synthesizing",
    "no-stacks": "the app ran but defined no stack",
    "no-entry": "there is no app to run",
    "other": "an unclassified error",
}

_LOCATION = re.compile(r"\(([^()\s]+\.py):(\d+)\)\s*$")


@dataclass
class _Failure:
    error_type: str
    message: str
    cause: str
    file: str | None
    line: int | None


def _current_failure(ctx: CheckContext) -> _Failure | None:
    s = ctx.synth
    if s.status not in ("failed", "timeout"):
        return None
    return _Failure(s.error_type or "Error", s.message or "", s.cause or "other", s.file, s.line)


def _attempt_failures(ctx: CheckContext) -> list[_Failure]:
    out: list[_Failure] = []
    for attempt in ctx.synth.attempts:
        message = str(attempt.get("message") or "")
        file, line = attempt.get("file"), attempt.get("line")
        if not file:
            found = _LOCATION.search(message)
            if found:
                file, line = found.group(1), int(found.group(2))
        out.append(
            _Failure(
                str(attempt.get("error_type") or "Error"),
                message,
                str(attempt.get("cause") or "other"),
                file if isinstance(file, str) else None,
                line if isinstance(line, int) else None,
            )
        )
    return out


def _one_line(message: str, error_type: str) -> str:
    """The error's first line, without the type prefix and location suffix the sandbox adds."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    text = _LOCATION.sub("", text).strip()
    prefix = f"{error_type}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _source(ctx: CheckContext, path: str | None) -> SourceFile | None:
    return next((s for s in ctx.sources if s.path == path), None) if path else None


def _where(ctx: CheckContext, file: str | None, line: int | None, value: str | None) -> Evidence:
    src = _source(ctx, file)
    md = src.md_line(line) if src is not None and line is not None else None
    return Evidence(file=file, line=line, md_line=md, value=value)


@lru_cache(maxsize=64)
def _cdk_use(path: str, text: str) -> CdkUse:
    """The API analysis of one file, shared by invalid-api and deprecated-api (keyed by content)."""
    return CdkUse(ast.parse(text, filename=path), text).analyse()


# ---- invalid-api ---------------------------------------------------------------------------------
@check("invalid-api", lenses=("source", "synth"))
def invalid_api(ctx: CheckContext) -> Iterator[Hit]:
    """Wrong use of the CDK API: attributes, members, keywords or types aws-cdk-lib v2 does not have.

    What it finds: through the source lens, every call and attribute that resolves (through the
    file's own `aws_cdk` imports) to the installed aws-cdk-lib and does not fit it: a member that
    does not exist (`logs.RetentionDays.THIRTY_DAYS`), a keyword the constructor does not take
    (`ec2.CfnPlacementGroup(group_name=...)`), a required argument left out or passed as None,
    a literal of the wrong type (`max_image_age=1` where a Duration is required), CDK v1 APIs
    (`from aws_cdk import core`, `node.apply_aspect`); variables assigned one CDK construct are
    followed, so `self.asg.metric_cpu_utilization()` is checked too. Through the synth lens, the
    error synth raised from such a use (also when a fallback got past it). The source lens
    finds the errors masked behind the first one synth stops at.

    Why it matters: each of these raises at synth time (TypeError, AttributeError, jsii
    "Unable to deserialize value"), so the app never produces a template.

    Bad example:

        logs.LogGroup(self, "Logs", retention=logs.RetentionDays.THIRTY_DAYS)   # no such member
        ecr.LifecycleRule(max_image_age=1)                                      # needs Duration.days(1)

    Fix: Use the members, keywords and types the aws-cdk-lib v2 API reference lists
    (`RetentionDays.ONE_MONTH`, `Duration.days(1)`, `Aspects.of(app).add(...)`).
    """
    spans: list[tuple[str, int, int, str]] = []  # file, first line, last line, key
    for src in ctx.parsed():
        for err in _cdk_use(src.path, src.text).errors:
            line = getattr(err.node, "lineno", 1)
            key = f"api:{err.code}:{err.message}"  # one mistake repeated on several lines is one finding
            whole = err.call or err.node  # synth reports the line the call starts on
            first = getattr(whole, "lineno", line)
            spans.append((src.path, first, getattr(whole, "end_lineno", first) or first, key))
            yield Hit(err.message, [ctx.at(src, err.node, value=err.code)], key=key, lens="source")
    answer_classes = _answer_classes(ctx)
    failures = _attempt_failures(ctx) + [f for f in [_current_failure(ctx)] if f is not None]
    for failure in failures:
        if failure.cause != "invalid-api" or not _answer_api_use(ctx, failure, answer_classes):
            continue
        text = _one_line(failure.message, failure.error_type)
        key = (
            _matching_span(spans, failure.file, failure.line) or f"synth:{failure.file}:{failure.line}:{text}"
        )
        where = f" at {failure.file}:{failure.line}" if failure.file else ""
        message = f"synth raised {failure.error_type}{where}: {text}"
        yield Hit(
            message,
            [_where(ctx, failure.file, failure.line, f"{failure.error_type}: {text}")],
            key=key,
            lens="synth",
        )


def _answer_classes(ctx: CheckContext) -> set[str]:
    return {n.name for src in ctx.parsed() for n in walk(src.tree) if isinstance(n, ast.ClassDef)}  # type: ignore[arg-type]


def _answer_api_use(ctx: CheckContext, failure: _Failure, classes: set[str]) -> bool:
    """Whether a synth error is the answer misusing CDK's API (not an entry/scaffold mismatch).

    Not when it names one of the answer's own classes (`TapStack.__init__() got an unexpected
    keyword 'props'`), when it was raised outside the answer's files (the scaffold's tap.py), or
    at a `super().__init__(..., **kwargs)` line that only forwards what its caller passed.
    """
    if re.search(r"\b\w+_alpha\b", failure.message):
        return False  # an alpha package the sandbox lacks (a separate pip package): not an API misuse
    names = re.findall(
        r"\b([A-Z]\w*)\.__init__\(\)|'([A-Z]\w*)' object|type object '([A-Z]\w*)'|"
        r"cannot import name '(\w+)'",
        failure.message,
    )
    if {n for group in names for n in group if n} & classes:
        return False
    src = _source(ctx, failure.file)
    if failure.file and src is None:
        return False
    if src is not None and src.tree is not None and failure.line is not None:
        for node in walk(src.tree):
            if (
                isinstance(node, ast.Call)
                and node.lineno <= failure.line <= (node.end_lineno or node.lineno)
                and _is_super_init(node)
                and any(k.arg is None for k in node.keywords)
            ):
                return False
    return True


def _is_super_init(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "__init__"
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "super"
    )


def _matching_span(spans: list[tuple[str, int, int, str]], file: str | None, line: int | None) -> str | None:
    """The source finding whose node covers synth's file:line (innermost first)."""
    if not file or line is None:
        return None
    covering = [s for s in spans if s[0] == file and s[1] <= line <= s[2]]
    if not covering:
        return None
    return min(covering, key=lambda s: s[2] - s[1])[3]


# ---- deprecated-api ------------------------------------------------------------------------------
_WARNING = re.compile(
    r"(?:aws-cdk-lib\.|constructs\.)?((?:[a-z_0-9]+\.)*)([A-Z]\w*)(?:#(\w+))?\s+is deprecated"
)


def _snake(name: str) -> str:
    if name.isupper() or "_" in name:
        return name  # enum members (PRIVATE_WITH_NAT) and already-snake names
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@check("deprecated-api", lenses=("source", "synth"))
def deprecated_api(ctx: CheckContext) -> Iterator[Hit]:
    """A deprecated CDK API, as jsii warns about it at synth time.

    What it finds: the deprecation warnings synth printed (`TableOptions#pointInTimeRecovery is
    deprecated`), and through the source lens the same uses read from the installed
    aws-cdk-lib's own deprecation marks: deprecated keywords (`point_in_time_recovery=`,
    `cidr=`, `log_retention=`, `container_insights=`), methods (`add_dependency` on L1
    resources, `HealthCheck.elb`), enum members (`SubnetType.PRIVATE_WITH_NAT`) and classes.
    One finding per deprecated API, with every line that uses it. Deprecated static properties
    that emit no warning (`Runtime.PYTHON_3_9`, engine versions) are not reported; nor are
    deprecated arguments of a call that fails anyway (reported as `invalid-api`).

    Why it matters: deprecated APIs are removed in the next major version and often have
    subtly different behaviour from their replacement; the warning is noise in every synth.

    Bad example:

        dynamodb.Table(self, "Table", partition_key=key, point_in_time_recovery=True)

    Fix: Use the replacement the warning names, e.g.
    `point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)`.
    """
    groups: dict[str, list[tuple[SourceFile, ast.AST, str, str]]] = {}
    for src in ctx.parsed():
        for dep in _cdk_use(src.path, src.text).deprecations:
            groups.setdefault(dep.key, []).append((src, dep.node, dep.fqn, dep.code))
    warnings: dict[str, str] = {}
    for text in ctx.synth.deprecations:
        found = _WARNING.search(text)
        if found:
            module, cls, member = found.group(1).rstrip("."), found.group(2), found.group(3)
            key = _snake(member) if member else cls
            if member and key not in groups and cls in groups:
                key = cls  # S3Origin#bind warns because the answer built a (deprecated) S3Origin
            api_name = f"{module + '.' if module else ''}{cls}{'#' + member if member else ''}"
            if f"{cls}#{member}" in _CDK_OWN_WARNINGS and key not in groups:
                continue  # CDK warns about its own internal use, not the answer's
            warnings.setdefault(key, api_name)
    also = _fold_same_lines(groups)
    for key in sorted(set(groups) | set(warnings), key=lambda k: (k not in groups, k)):
        if key in groups and key not in also:
            continue  # folded into the finding of another name used on the same lines
        uses = groups.get(key, [])
        jsii = warnings.get(key)
        lines = ", ".join(f"{src.path}:{getattr(node, 'lineno', '?')}" for src, node, _, _ in uses)
        what = f"`{uses[0][2]}`" if uses else f"`{jsii}`"
        message = f"{what} is deprecated"
        if also.get(key):
            message += " (and, in the same code, " + ", ".join(f"`{name}`" for name in also[key]) + ")"
        if jsii and uses:
            message += f" (jsii warned: {jsii} is deprecated)"
        elif jsii:
            message += " (jsii warning at synth)"
        if lines:
            message += f"; used at {lines}"
        for src, node, _, code in uses:
            yield Hit(message, [ctx.at(src, node, value=code)], key=f"dep:{key}", lens="source")
        if jsii:
            evidence = [Evidence(value=f"{jsii} is deprecated")]
            if not uses:  # the source lens could not follow the call: point at lines that name it
                evidence += [ctx.at(src, line, value=text) for src, line, text in _lines_naming(ctx, key)]
            yield Hit(message, evidence, key=f"dep:{key}", lens="synth")


# jsii deprecation warnings CDK prints for its own internal calls whatever the answer wrote:
# StepScalingPolicy passes `cooldown` to StepScalingAction on every scale_on_metric().
_CDK_OWN_WARNINGS = frozenset({"StepScalingActionProps#cooldown"})


def _fold_same_lines(groups: dict[str, list[tuple[SourceFile, ast.AST, str, str]]]) -> dict[str, list[str]]:
    """One finding per deprecated use: a name all of whose uses sit on lines of another name's
    uses (`HealthCheck.elb(grace=...)` is a deprecated class, method and keyword at once) is folded
    into the name with the most uses. Returns kept key -> the other names folded into it."""
    lines = {
        k: {(src.path, getattr(node, "lineno", None)) for src, node, _, _ in uses}
        for k, uses in groups.items()
    }
    order = sorted(groups, key=lambda k: (-len(groups[k]), -len(groups[k][0][2]), k))
    kept: dict[str, list[str]] = {}
    owner: dict[tuple[str, int | None], str] = {}
    for key in order:
        owners = {owner.get(line) for line in lines[key]}
        target = owners.pop() if len(owners) == 1 else None  # every use on lines of one kept name
        if target is None:
            kept[key] = []
            for line in lines[key]:
                owner[line] = key
        else:
            name = groups[key][0][2]
            if name not in kept[target]:
                kept[target].append(name)
    return kept


def _lines_naming(ctx: CheckContext, name: str, limit: int = 5) -> list[tuple[SourceFile, int, str]]:
    """Answer lines that pass `name=`, call `.name(` or mention the member `Name.MEMBER`."""
    pattern = re.compile(rf"\b{re.escape(name)}\s*=(?!=)|\.{re.escape(name)}\s*\(|\.{re.escape(name)}\b")
    out: list[tuple[SourceFile, int, str]] = []
    for src in ctx.parsed():
        for n, text in enumerate(src.text.splitlines(), 1):
            if pattern.search(text) and not text.lstrip().startswith("#"):
                out.append((src, n, text.strip()[:80]))
                if len(out) >= limit:
                    return out
    return out


# ---- synth-failed --------------------------------------------------------------------------------
@check("synth-failed", lenses=("synth",))
def synth_failed(ctx: CheckContext) -> Iterator[Hit]:
    """The app does not synthesize: no template from the answer as written; the cause is classified.

    What it finds: a synth that failed or timed out, with the classified cause (syntax, wrong
    API use, validation, missing module, configuration, CDK v1 feature flag, missing asset,
    ...), the error and the answer's file:line it came from; an answer with no Python code at
    all; and a template that came only after the grader changed the answer's own setup (its
    cdk.json context, a stub for a missing asset, a generated driver for stacks the scaffold
    could not build): the answer as written still fails, and the message names the fallback.

    Why it matters: nothing in an answer that does not synthesize can be deployed; every other
    finding about it is about code that never ran.

    Bad example:

        // cdk.json of the answer
        {"context": {"@aws-cdk/core:enableStackNameDuplicates": "true"}}   // CDK v1 flag: v2 refuses it

    Fix: Fix the error synth reports so that `cdk synth` produces a template.
    """
    s = ctx.synth
    if not ctx.sources and s.status != "ok":
        yield Hit(
            "the answer has no complete Python file (no code, or fragments only): there is no app to synthesize",
            [],
            key="synth",
            lens="synth",
        )
        return
    current = _current_failure(ctx)
    if current is not None:
        cause = _CAUSES.get(current.cause, current.cause)
        if re.search(r"\b\w+_alpha\b", current.message):
            cause = "an `_alpha` package the answer imports is not installed where it was synthesized"
        text = _one_line(current.message, current.error_type)
        where = f" at {current.file}:{current.line}" if current.file else ""
        entry = (
            " through a generated driver"
            if s.entry_kind == "driver"
            else f" running {s.entry}"
            if s.entry
            else ""
        )
        message = f"synth failed{entry} ({cause}): {current.error_type}{where}: {text}"
        earlier = [f for f in _attempt_failures(ctx) if f.message != current.message]
        if earlier:
            message += "; before that: " + "; ".join(
                f"{f.error_type}: {_one_line(f.message, f.error_type)}" for f in earlier[:3]
            )
        if s.entry_kind == "driver" and not _has_own_app(ctx):
            message += f"; and {_no_entry_reason(ctx)}"
        evidence = [_where(ctx, current.file, current.line, f"{current.error_type}: {text}")]
        evidence += [
            _where(ctx, f.file, f.line, f"{f.error_type}: {_one_line(f.message, f.error_type)}")
            for f in earlier
            if f.file
        ]
        yield Hit(message, evidence, key="synth", lens="synth")
        return
    if s.status != "ok":
        return  # skipped on purpose (--no-synth) or no entry: nothing to judge
    counted = [f for f in s.fallbacks if f.split(":", 1)[0] in _FAILING_FALLBACKS]
    failures = _attempt_failures(ctx)
    first = failures[0] if failures else None
    if s.entry_kind == "driver" and first is None and not _has_own_app(ctx):
        # the driver was chosen up front: the scaffold entry was seen not to fit the answer
        message = (
            f"the answer as written does not synthesize: {_no_entry_reason(ctx)}; a template was "
            "produced only by a driver the grader generated"
        )
        evidence = [ctx.at(src, node, value=f"class {node.name}") for src, node in _stack_classes(ctx)]
        yield Hit(message, evidence[:3], key="synth", lens="synth")
        return
    if not counted or first is None:
        return
    text = _one_line(first.message, first.error_type)
    where = f" at {first.file}:{first.line}" if first.file else ""
    cause = _CAUSES.get(first.cause, first.cause)
    message = (
        f"synth of the answer as written fails ({cause}): {first.error_type}{where}: {text}; "
        f"a template was produced only after the grader's fallback {', '.join(counted)}"
    )
    evidence = [
        _where(ctx, f.file, f.line, f"{f.error_type}: {_one_line(f.message, f.error_type)}") for f in failures
    ]
    yield Hit(message, evidence, key="synth", lens="synth")


# ---- no-entry-point ------------------------------------------------------------------------------
@check("no-entry-point", lenses=("synth",))
def no_entry_point(ctx: CheckContext) -> Iterator[Hit]:
    """The answer has no app that instantiates its stacks, and the scaffold's entry cannot either.

    What it finds: answers without an `App()` + `app.synth()` of their own whose stacks the task's
    scaffold entry (tap.py) could not build (it imports names such as `TapStackProps` the
    answer does not define, or passes arguments its stack does not take), so the grader had to
    generate a driver to instantiate them.

    Why it matters: `cdk synth` runs the entry cdk.json names; with neither the answer's own app
    nor a working scaffold, nothing is deployed at all.

    Bad example:

        # lib/tap_stack.py defines TradingStack(Stack) - and no file creates App() or calls synth();
        # the scaffold's tap.py does `from lib.tap_stack import TapStack, TapStackProps`

    Fix: Ship an app file that builds `App()`, instantiates the stacks and calls `app.synth()`, or
    match the class and props names the scaffold imports.
    """
    s = ctx.synth
    if _has_own_app(ctx):
        return
    if s.entry_kind == "driver":
        message = f"{_no_entry_reason(ctx)}; the grader generated a driver to synthesize them"
    elif (
        s.entry_kind == "scaffold"
        and s.status == "failed"
        and s.file == s.entry
        and s.file
        and s.error_type in ("ImportError", "TypeError", "AttributeError")
    ):
        failure = _current_failure(ctx)
        assert failure is not None
        message = (
            f"the answer has no App()/app.synth() of its own and the scaffold entry {s.entry} cannot "
            f"instantiate its stacks: {failure.error_type}: {_one_line(failure.message, failure.error_type)}"
        )
    else:
        return
    evidence = [ctx.at(src, node, value=f"class {node.name}") for src, node in _stack_classes(ctx)]
    yield Hit(
        message, evidence or [Evidence(file=s.entry, value="generated driver")], key="entry", lens="synth"
    )


def _no_entry_reason(ctx: CheckContext) -> str:
    """Why the scaffold entry cannot run the answer, read from the scaffold's own imports when it can be."""
    base = (
        "the answer has no App()/app.synth() of its own and the scaffold entry cannot instantiate its stacks"
    )
    attempts = [
        f for f in _attempt_failures(ctx) if f.error_type in ("ImportError", "TypeError", "AttributeError")
    ]
    if attempts:
        return f"{base} ({attempts[0].error_type}: {_one_line(attempts[0].message, attempts[0].error_type)})"
    detail = _scaffold_import_mismatch(ctx)
    return f"{base}: {detail}" if detail else base


def _scaffold_import_mismatch(ctx: CheckContext) -> str | None:
    sample = ctx.sample
    if not sample.task_root or not sample.entry_file:
        return None
    entry = Path(sample.task_root) / sample.entry_file
    try:
        tree = ast.parse(entry.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None
    answer = {src.path: src for src in ctx.sources}
    for node in walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
            continue
        base = node.module.replace(".", "/")
        src = answer.get(f"{base}.py") or answer.get(f"{base}/__init__.py")
        if src is None:
            if node.module.split(".")[0] == "lib":
                return f"{sample.entry_file} imports `{node.module}`, which the answer does not provide"
            continue
        if src.tree is None:
            return None
        defined = _top_level_names(src.tree)
        missing = [a.name for a in node.names if a.name != "*" and a.name not in defined]
        if missing:
            names = ", ".join(f"`{n}`" for n in missing)
            return (
                f"{sample.entry_file} imports {names} from `{node.module}`, which the answer does not define"
            )
    return None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _has_own_app(ctx: CheckContext) -> bool:
    """The answer builds an App (cdk.App or its own subclass of it) and calls `.synth()`."""
    app_classes = {"App"}
    for src in ctx.parsed():
        for node in walk(src.tree):  # type: ignore[arg-type]
            if isinstance(node, ast.ClassDef) and any(
                dotted(b).rsplit(".", 1)[-1] == "App" for b in node.bases
            ):
                app_classes.add(node.name)
    app = synth = False
    for src in ctx.parsed():
        for call in walk(src.tree):  # type: ignore[arg-type]
            if isinstance(call, ast.Call):
                name = call_name(call)
                app = app or name in app_classes
                synth = synth or (name == "synth" and isinstance(call.func, ast.Attribute))
    return app and synth


def _stack_classes(ctx: CheckContext) -> Iterator[tuple[SourceFile, ast.ClassDef]]:
    for src in ctx.parsed():
        for node in walk(src.tree):  # type: ignore[arg-type]
            if isinstance(node, ast.ClassDef) and any(dotted(b).endswith("Stack") for b in node.bases):
                yield src, node


# ---- missing-asset -------------------------------------------------------------------------------
# call name -> where the path is: positional index or keyword
_ASSET_CALLS: dict[str, tuple[int | None, str | None]] = {
    "from_asset": (0, "path"),
    "asset": (0, "path"),  # s3deploy.Source.asset / v1 Code.asset
    "AssetCode": (0, "path"),
    "from_image_asset": (0, "directory"),
    "from_docker_build": (0, "path"),
    "AssetImage": (0, "directory"),
    "DockerImageAsset": (None, "directory"),
    "Asset": (None, "path"),
    "PythonFunction": (None, "entry"),
    "PythonLayerVersion": (None, "entry"),
    "NodejsFunction": (None, "entry"),
    "GoFunction": (None, "entry"),
}


@check("missing-asset", lenses=("source", "synth"))
def missing_asset(ctx: CheckContext) -> Iterator[Hit]:
    """An asset path the answer never provides (`Code.from_asset("lambda")` with no lambda/ folder).

    What it finds: asset paths (`Code.from_asset`, `Source.asset`, `DockerImageCode.from_image_asset`,
    `ContainerImage.from_asset`, `DockerImageAsset(directory=...)`, `Asset(path=...)`,
    `PythonFunction(entry=...)`, ...) that resolve (literals, `os.path.join(os.path.dirname(__file__), ...)`,
    `Path(__file__).parent / ...`) to a path under which the answer gives no file, relative to
    the app's directory; and the assets synth could not find (the grader stubbed them to go on).

    Why it matters: `cdk synth` fails with "Cannot find asset"; the code the function should run
    is not part of the answer.

    Bad example:

        lambda_.Function(self, "Fn", code=lambda_.Code.from_asset("lambda"), ...)   # no lambda/ in the answer

    Fix: Include the files the asset points at (or point at the folder the answer does give), or
    use inline code.
    """
    have = _answer_paths(ctx)
    seen: set[str] = set()
    for src in ctx.parsed():
        for call in walk(src.tree):  # type: ignore[arg-type]
            if not isinstance(call, ast.Call) or call_name(call) not in _ASSET_CALLS:
                continue
            if not _is_cdk_call(call, src):
                continue
            node = _asset_arg(call)
            path = _resolve_path(node, src) if node is not None else None
            if path is None or _provided(path, have):
                continue
            seen.add(path)
            code = _short_code(src, call)
            yield Hit(
                f"`{code}` points at `{path}`, but the answer gives no file there",
                [ctx.at(src, call, value=code)],
                key=f"asset:{path}",
                lens="source",
            )
    for stub in ctx.synth.missing_assets:
        path = _normal(stub)
        if path is None:
            continue
        yield Hit(
            f"synth could not find the asset `{path}` (the grader stubbed it to go on); the answer never gives it",
            [Evidence(value=f"Cannot find asset at {path}")],
            key=f"asset:{path}",
            lens="synth",
        )


def _is_cdk_call(call: ast.Call, src: SourceFile) -> bool:
    """The call's head name comes from an aws_cdk/constructs import (or is not imported at all)."""
    head = dotted(call.func).split(".")[0]
    module = _imported_module(head, src)
    return module is None or module.split(".")[0] in ("aws_cdk", "constructs")


def _imported_module(name: str, src: SourceFile) -> str | None:
    for node in walk(src.tree):  # type: ignore[arg-type]
        if isinstance(node, ast.ImportFrom) and node.module:
            if any((a.asname or a.name) == name for a in node.names):
                return node.module
        elif isinstance(node, ast.Import):
            for a in node.names:
                if (a.asname or a.name.split(".")[0]) == name:
                    return a.name
    return None


def _asset_arg(call: ast.Call) -> ast.expr | None:
    index, keyword = _ASSET_CALLS[call_name(call)]
    if keyword and kwarg(call, keyword) is not None:
        return kwarg(call, keyword)
    if index is not None and len(call.args) > index:
        return call.args[index]
    return None


def _resolve_path(node: ast.expr, src: SourceFile) -> str | None:
    """A project-relative path for a path expression, or None when it is not a simple one."""
    file_dir = posixpath.dirname(src.path)
    parts = _path_parts(node, file_dir, 0, src)
    if parts is None:
        return None
    return _normal(posixpath.join(*parts) if parts else ".")


def _path_parts(node: ast.expr, file_dir: str, depth: int, src: SourceFile | None = None) -> list[str] | None:
    if depth > 8:
        return None
    if isinstance(node, ast.Name) and src is not None and src.tree is not None:
        value = single_binding(node, src.tree, parents(src.tree))  # ASSETS = os.path.join(...)
        return _path_parts(value, file_dir, depth + 1, src) if value is not None else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        if all(isinstance(v, ast.Constant) for v in node.values):
            return ["".join(str(v.value) for v in node.values)]  # type: ignore[attr-defined]
        return None
    if isinstance(node, ast.Call):
        name = dotted(node.func)
        if name in ("os.path.join", "path.join", "posixpath.join") and node.args:
            out: list[str] = []
            for arg in node.args:
                sub = _path_parts(arg, file_dir, depth + 1, src)
                if sub is None:
                    return None
                out.extend(sub)
            return out
        if name in ("os.path.dirname", "path.dirname") and len(node.args) == 1 and _is_file_ref(node.args[0]):
            return [file_dir or "."]
        if (
            name in ("os.path.abspath", "os.path.realpath", "str", "Path", "pathlib.Path")
            and len(node.args) == 1
        ):
            if _is_file_ref(node.args[0]):
                return None  # the file itself is not an asset folder
            return _path_parts(node.args[0], file_dir, depth + 1, src)
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("joinpath", "resolve", "absolute"):
            base = _path_parts(node.func.value, file_dir, depth + 1, src)
            if base is None:
                return None
            for arg in node.args:
                sub = _path_parts(arg, file_dir, depth + 1, src)
                if sub is None:
                    return None
                base = base + sub
            return base
        return None
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = node.value
        if (
            isinstance(inner, ast.Call)
            and dotted(inner.func) in ("Path", "pathlib.Path")
            and inner.args
            and _is_file_ref(inner.args[0])
        ):
            return [file_dir or "."]
        if (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Attribute)
            and inner.func.attr == "resolve"
            and isinstance(inner.func.value, ast.Call)
            and dotted(inner.func.value.func) in ("Path", "pathlib.Path")
            and inner.func.value.args
            and _is_file_ref(inner.func.value.args[0])
        ):
            return [file_dir or "."]
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left = _path_parts(node.left, file_dir, depth + 1, src)
        right = _path_parts(node.right, file_dir, depth + 1, src)
        return left + right if left is not None and right is not None else None
    return None


def _is_file_ref(node: ast.expr) -> bool:
    if isinstance(node, ast.Name) and node.id == "__file__":
        return True
    if (
        isinstance(node, ast.Call)
        and dotted(node.func) in ("os.path.abspath", "os.path.realpath")
        and node.args
    ):
        return _is_file_ref(node.args[0])
    return False


def _normal(path: str) -> str | None:
    if not path or path.startswith("/") or "${" in path:
        return None
    norm = posixpath.normpath(path)
    if norm.startswith(".."):
        return None
    return norm


def _answer_paths(ctx: CheckContext) -> set[str]:
    paths = {posixpath.normpath(f.path) for f in ctx.files}
    paths |= {posixpath.normpath(f.moved_from) for f in ctx.files if f.moved_from}
    if ctx.workspace is not None:
        paths |= {posixpath.normpath(p) for p in ctx.workspace.files}
    return paths


def _provided(path: str, have: set[str]) -> bool:
    if path == ".":
        return True
    return path in have or any(p.startswith(path + "/") for p in have)


def _short_code(src: SourceFile, call: ast.Call) -> str:
    func = dotted(call.func) or call_name(call)
    arg = _asset_arg(call)
    seg = ast.get_source_segment(src.text, arg) if arg is not None else None
    seg = " ".join((seg or "").split())
    return f"{func}({seg[:60]})"


# ---- context-lookup ------------------------------------------------------------------------------
_LOOKUP_CALLS = {
    "from_lookup",
    "from_lookup_by_name",
    "from_lookup_by_id",
    "from_lookup_by_filters",
    "value_from_lookup",
    "LookupMachineImage",
}
# context provider (manifest "missing" entries) -> calls that use it
_PROVIDERS = {
    "vpc-provider": "Vpc.from_lookup",
    "hosted-zone": "HostedZone.from_lookup",
    "ssm": "value_from_lookup",
    "ami": "MachineImage.lookup",
    "security-group": "SecurityGroup.from_lookup",
    "load-balancer": "from_lookup",
    "load-balancer-listener": "from_lookup",
    "key-provider": "Key.from_lookup",
    "cc-api-provider": "from_lookup",
}


@check("context-lookup", lenses=("source", "synth"))
def context_lookup(ctx: CheckContext) -> Iterator[Hit]:
    """Context lookups (`from_lookup` and friends) that need an AWS account and a real AWS call at synth.

    What it finds: `ec2.Vpc.from_lookup`, `route53.HostedZone.from_lookup`,
    `ssm.StringParameter.value_from_lookup`, `ec2.MachineImage.lookup`, security-group,
    load-balancer and KMS-key lookups, and the lookups synth recorded as missing context. The
    availability-zones lookup any VPC in an account-bound stack makes is not counted.

    Why it matters: the stack cannot be synthesized offline or in CI without credentials and a
    committed cdk.context.json; the first synth silently bakes the looked-up values in, and a
    stack needs an explicit account/region to use them at all.

    Bad example:

        vpc = ec2.Vpc.from_lookup(self, "Vpc", vpc_id="vpc-0abc123")

    Fix: Pass concrete values (or create the resource), or document the account/region and commit
    cdk.context.json.
    """
    keys: list[tuple[str, str]] = []  # (call text, key)
    for src in ctx.parsed():
        for call in walk(src.tree):  # type: ignore[arg-type]
            if not isinstance(call, ast.Call):
                continue
            name = call_name(call)
            func = dotted(call.func)
            if not (name in _LOOKUP_CALLS or func.endswith("MachineImage.lookup")):
                continue
            if not _is_cdk_call(call, src) or _imported_module(func.split(".")[0], src) is None:
                continue
            code = " ".join((ast.get_source_segment(src.text, call) or func).split())
            code = code if len(code) <= 100 else code[:99] + "…"
            key = f"lookup:{src.path}:{call.lineno}"
            keys.append((func, key))
            yield Hit(
                f"`{code}` is a context lookup: synth needs AWS credentials and an explicit account/region "
                "(or a committed cdk.context.json)",
                [ctx.at(src, call, value=code)],
                key=key,
                lens="source",
            )
    for entry in ctx.synth.lookups:
        provider = entry.split(":", 1)[0].strip()
        if provider in ("availability-zones", "endpoint-service-availability-zones"):
            continue
        wanted = _PROVIDERS.get(provider, "")
        match = next(
            (
                k
                for func, k in keys
                if wanted
                and func.endswith(wanted.split(".")[-1])
                and (("." not in wanted) or wanted.split(".")[0] in func)
            ),
            None,
        )
        key = match or f"lookup:{provider}"
        yield Hit(
            f"synth needed the context provider `{provider}` (a lookup against a real AWS account)",
            [Evidence(value=entry[:200])],
            key=key,
            lens="synth",
        )


# ---- docker-bundling -----------------------------------------------------------------------------
_DOCKER_CALLS = {
    "from_image_asset": "builds a Docker image",
    "DockerImageAsset": "builds a Docker image",
    "AssetImage": "builds a Docker image",
    "from_docker_build": "builds in Docker",
    "from_build": "builds a Docker image",
    "PythonFunction": "bundles its dependencies in Docker",
    "PythonLayerVersion": "bundles its dependencies in Docker",
    "NodejsFunction": "bundles with esbuild (in Docker unless esbuild is installed locally)",
    "GoFunction": "bundles in Docker unless Go is installed locally",
}


@check("docker-bundling", lenses=("source", "synth"))
def docker_bundling(ctx: CheckContext) -> Iterator[Hit]:
    """Assets that need Docker (or a local bundler) to build at synth time.

    What it finds: `bundling=BundlingOptions(...)` on assets, Docker image assets
    (`DockerImageCode.from_image_asset`, `ecs.ContainerImage.from_asset`, `DockerImageAsset`),
    `Code.from_docker_build`, `DockerImage.from_build`, and the alpha constructs that bundle
    (`PythonFunction`, `PythonLayerVersion`, `NodejsFunction`, `GoFunction`); and what synth
    recorded as bundled or built. One finding per answer, with every such call as evidence.

    Why it matters: synth (and every CI run) needs a Docker daemon and network access to build
    the asset; it fails or is slow where Docker is not available.

    Bad example:

        lambda_.Code.from_asset("lambda", bundling=cdk.BundlingOptions(
            image=lambda_.Runtime.PYTHON_3_12.bundling_image,
            command=["bash", "-c", "pip install -r requirements.txt -t /asset-output && cp -r . /asset-output"]))

    Fix: Pre-build the asset (or vendor its dependencies) or make sure Docker is available where
    the app is synthesized.
    """
    # one finding per answer: "needs Docker" is one requirement, every call that causes it is evidence
    uses: list[tuple[str, str, Evidence]] = []  # (call, reason, where)
    for src in ctx.parsed():
        for call in walk(src.tree):  # type: ignore[arg-type]
            if isinstance(call, ast.Call):
                reason = _docker_reason(call)
                if reason is not None and _is_cdk_call(call, src):
                    func = dotted(call.func) or call_name(call)
                    uses.append((func, reason, ctx.at(src, call, value=func)))
    entries = list(ctx.synth.docker_bundling)
    if uses:
        kinds = list(dict.fromkeys(f"`{func}(...)` {reason}" for func, reason, _ in uses))
        count = f"{len(uses)} assets need Docker at synth: " if len(uses) > 1 else "synth needs Docker: "
        message = count + "; ".join(kinds[:4]) + ("; ..." if len(kinds) > 4 else "")
        yield Hit(message, [ev for _, _, ev in uses], key="docker", lens="source")
        if entries:
            yield Hit(message, [Evidence(value=e) for e in entries[:5]], key="docker", lens="synth")
    elif entries:
        yield Hit(
            f"synth built {len(entries)} asset(s) with Docker: {', '.join(entries[:4])}",
            [Evidence(value=e) for e in entries[:5]],
            key="docker",
            lens="synth",
        )


def _docker_reason(call: ast.Call) -> str | None:
    name = call_name(call)
    func = dotted(call.func)
    if name in _DOCKER_CALLS and (name != "from_build" or func.endswith("DockerImage.from_build")):
        return _DOCKER_CALLS[name]
    if name == "from_asset" and func.endswith("ContainerImage.from_asset"):
        return "builds a Docker image"
    if kwarg(call, "bundling") is not None and name in ("from_asset", "Asset", "asset", "AssetCode"):
        return "bundles in Docker (`bundling=`)"
    return None


# ---- cfn-lint-error ------------------------------------------------------------------------------
@check("cfn-lint-error", lenses=("template",))
def cfn_lint_error(ctx: CheckContext) -> Iterator[Hit]:
    """cfn-lint errors in the synthesized template.

    What it finds: cfn-lint's error-level matches (rule ids starting with E) on the answer's
    resources, one finding per rule and resource, with the rule id, cfn-lint's message and the
    construct's file:line. Warnings and informational matches, matches on CDK's own helper
    resources and rules that fire on CDK's boilerplate regardless of the answer (see the rubric
    option `ignore_rules`) are left out.

    Why it matters: CloudFormation rejects most of these at deploy time (invalid property
    values, conflicting properties, duplicate physical names) after synth reported success.

    Bad example:

        rds.DatabaseInstanceReadReplica(self, "Replica", storage_encrypted=True, ...)   # E3020

    Fix: Correct the properties cfn-lint rejects.
    """
    ignore = set(ctx.option("cfn-lint-error", "ignore_rules", []) or [])
    for stack, matches in sorted(_lint_by_stack(ctx).items()):
        by_id = {r.logical_id: r for r in ctx.resources(include_helpers=True) if r.stack == stack}
        for (rule, text), located in sorted(_lint_groups(ctx, stack, matches, ignore).items()):
            targets = [
                _lint_target(ctx, by_id.get(lid), lid) for lid in dict.fromkeys(lid for lid, _ in located)
            ]
            message = f"cfn-lint {rule} on {', '.join(targets)}: {text}"
            key = f"lint:{stack}:{rule}:{text}"
            for lid, match in located:
                res = by_id.get(lid)
                value = f"{rule} {'/'.join(_path_parts_of(match.get('path')))}"
                evidence = (
                    res.evidence(value=value)
                    if res
                    else Evidence(stack=stack, resource=lid or None, value=value)
                )
                yield Hit(message, [evidence], key=key, lens="template")
                for src, call in _construct_calls(ctx, res) if res is not None else []:
                    yield Hit(message, [ctx.at(src, call, value=construct_id(call))], key=key, lens="source")


def _lint_by_stack(ctx: CheckContext) -> dict[str, list[dict[str, Any]]]:
    """The sandbox's lint results per template, and a lint of our own for any template it did not lint."""
    lint: dict[str, list[dict[str, Any]]] = {}
    for key, matches in ctx.lint.items():
        lint.setdefault(_stack_of_lint(ctx, key, matches), []).extend(matches)
    for stack, template in ctx.templates.items():
        if stack not in lint:  # lint switched off in the sandbox, or an older worker
            lint[stack] = _lint(json.dumps(template, sort_keys=True))
    return lint


def _lint_groups(
    ctx: CheckContext, stack: str, matches: list[dict[str, Any]], ignore: set[str]
) -> dict[tuple[str, str], list[tuple[str, dict[str, Any]]]]:
    """Error matches on the answer's resources by (rule, message): E3019 names both resources of one
    conflict with the same text, and one mistake on several resources reads best as one finding."""
    template = ctx.templates.get(stack, {})
    resources = template.get("Resources") if isinstance(template, dict) else None
    resources = resources if isinstance(resources, dict) else {}
    grouped: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
    for m in matches:
        rule, text = str(m.get("rule") or ""), str(m.get("message") or "")
        if not rule.startswith("E") or m.get("level", "error") != "error" or rule in ignore:
            continue
        logical = str(m.get("resource") or _resource_of(m.get("path")) or "")
        raw = resources.get(logical) if logical else None
        if isinstance(raw, dict) and is_cdk_helper(logical, raw):
            continue
        if _lint_noise(rule, text, resources):
            continue
        grouped.setdefault((rule, text), []).append((logical, m))
    return grouped


_QUOTED = re.compile(r"'([^']*)'")


def _lint_noise(rule: str, message: str, resources: dict[str, Any]) -> bool:
    """Errors cfn-lint reports on templates CloudFormation deploys fine.

    E3691 on a major-version engine alias (`'8.0' is not one of ['8.0.11', ...]`, what
    `MysqlEngineVersion.VER_8_0` writes): RDS accepts a major version and picks its default minor.
    E1001 "'Resources' is a required property" on a stack with no resources: the CDK CLI skips it.
    """
    if rule == "E3691":
        quoted = _QUOTED.findall(message)
        return bool(quoted) and any(v.startswith(quoted[0] + ".") for v in quoted[1:])
    if rule == "E1001" and "'Resources'" in message:
        return not resources
    return False


def _lint_target(ctx: CheckContext, res: Resource | None, logical: str) -> str:
    """How a report names a resource: its construct path below the stack, else the source id, else the logical id."""
    if res is None:
        return logical or "the template"
    if res.construct_ids:
        return "/".join(res.construct_ids)
    return _source_construct(ctx, res) or logical


@lru_cache(maxsize=32)
def _lint(template_json: str) -> list[dict[str, Any]]:
    from graders.lint import lint_template

    return lint_template(json.loads(template_json))


def _source_construct(ctx: CheckContext, res: Resource) -> str | None:
    found = list(_construct_calls(ctx, res))
    return construct_id(found[0][1]) if found else None


def _path_parts_of(path: object) -> list[str]:
    """A match's path as a list (the sandbox may send "Resources/X/Properties" as one string)."""
    if isinstance(path, str):
        return [p for p in path.split("/") if p]
    if isinstance(path, list):
        return [str(p) for p in path]
    return []


def _resource_of(path: object) -> str | None:
    parts = _path_parts_of(path)
    return parts[1] if len(parts) >= 2 and parts[0] == "Resources" else None


def _stack_of_lint(ctx: CheckContext, key: str, matches: list[dict]) -> str:
    """The template a lint result belongs to: by name, else the one template holding all its resources
    (lint may be keyed by the cloud-assembly artifact id where templates are keyed by stack name)."""
    if key in ctx.templates:
        return key
    ids = {str(m.get("resource") or _resource_of(m.get("path")) or "") for m in matches} - {""}
    owners = [
        stack
        for stack, template in ctx.templates.items()
        if ids and isinstance(template.get("Resources"), dict) and ids <= set(template["Resources"])
    ]
    return owners[0] if len(owners) == 1 else key


def _construct_calls(ctx: CheckContext, res: Resource) -> Iterator[tuple[SourceFile, ast.Call]]:
    """The one call that creates the resource's construct (none when several could)."""
    found = [
        (src, call)
        for src in ctx.parsed()
        for call in walk(src.tree)  # type: ignore[arg-type]
        if isinstance(call, ast.Call) and len(call.args) >= 2 and resource_matches(construct_id(call), res)
    ]
    if len(found) == 1:
        yield found[0]
