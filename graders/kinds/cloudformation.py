"""CloudFormation answers (YAML or JSON): the template is the answer; building it is parsing it.

There is no scaffold and nothing runs: each template the answer gives is parsed with cfn-lint's
decoder in a bounded worker (graders/kinds/cfn_parse.py), written as long-form JSON under
``templates/`` and linted there with the task's region. The decoder's line marks travel with the
result (``SynthResult.marks``), so the template lens's evidence carries the answer's file:line.
Parsing runs with ``--no-synth`` too: it reads data, it runs no code.

When an answer gives several templates, the main one is the one that nests the others
(``AWS::CloudFormation::Stack``), else the one with the most resources (the later on a tie: the
final draft). The others are graded beside it as stacks of their own unless they are drafts of it
(most of their logical ids are in it too); a parameter file or a CLI snippet is not a template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import ClassVar

from iacgrade.graders.analysis.cfn import DEFAULTED
from iacgrade.graders.analysis.source import SourceFile, SourceModel
from iacgrade.graders.extract import template_format
from iacgrade.graders.kinds.base import BuildSettings, Built, Kind, Services
from iacgrade.graders.kinds.cfn_parse import ParseOutcome, ParsePool
from iacgrade.graders.models import ExtractedFile, Extraction, Sample, SynthResult, Workspace

_RESOURCE_TYPE = re.compile(r"[\"']?Type[\"']?\s*:\s*[\"']?AWS::\w+::\w+")
_NESTED = re.compile(r"AWS::CloudFormation::Stack\b")
# An entry whose body is elided: ``"VPC": {...}``, ``ParameterGroups: [...]`` (or the ellipsis character).
_ELIDED = re.compile(r":\s*(?:\{\s*(?:\.\.\.|\u2026)\s*\}|\[\s*(?:\.\.\.|\u2026)\s*\])")
# A resource written as nothing but its type: ``"VPC": { "Type": "AWS::EC2::VPC" }``.
_TYPE_ONLY = re.compile(r"\{\s*[\"']?Type[\"']?\s*:\s*[\"']?AWS::\w+::\w+[\"']?\s*\}")
_PROPERTIES = re.compile(r"[\"']?Properties[\"']?\s*:")
# This many elided entries make a block an outline of a template (a summary), not a template.
OUTLINE_ELISIONS = 3
DEFAULT_REGION = "us-east-1"


class CloudFormation(Kind):
    """A CloudFormation answer; ``format`` is the language its task names (both formats are read)."""

    format: ClassVar[str]
    build_name: ClassVar[str] = "Template parse"
    entry_name: ClassVar[str] = "the main template"

    def recognises(self, extraction: Extraction) -> bool:
        return any(f.language == self.format for f in self.code_files(extraction))

    def code_files(self, extraction: Extraction) -> list[ExtractedFile]:
        return [
            f
            for f in extraction.files
            if f.language in ("yaml", "json") and template_format(f.content) and not is_outline(f.content)
        ]

    def build(
        self, sample: Sample, extraction: Extraction, workdir: Path, out_dir: Path, services: Services
    ) -> Built:
        files = self.code_files(extraction)
        workspace = Workspace(
            root=str(workdir), files=sorted(f.path for f in files), answer_files=sorted(f.path for f in files)
        )
        if not files:
            outlines = [
                f"{f.path} is an outline of a template (its entries are elided as {{...}} or give a type alone), not a template"
                for f in extraction.files
                if f.language in ("yaml", "json") and template_format(f.content) and is_outline(f.content)
            ]
            return Built(
                SynthResult(status="skipped", cause="no-code", message=self.no_code), workspace, outlines
            )
        pool: ParsePool = services.get("cfn-parse", start_parse_pool)
        region = task_region(sample)
        outcomes = {f.path: pool.parse(f.content, region) for f in files}
        main, graded, notes = choose_templates(files, outcomes, self.format)
        seconds = round(sum(o.seconds for o in outcomes.values()), 3)
        failed = outcomes[main.path]
        if failed.status != "ok":
            return Built(_failure(main, failed, seconds), workspace, notes)
        synth = SynthResult(status="ok", seconds=seconds, entry=main.path, entry_kind="answer")
        (out_dir / "templates").mkdir(parents=True, exist_ok=True)
        for f in graded:
            outcome = outcomes[f.path]
            stack = _add_stack(synth, out_dir, _stack_name(f.path, synth.stacks), outcome, f, lambda n: n)
            if outcome.lint is not None:
                synth.lint[stack] = outcome.lint
            if outcome.note:
                notes.append(f"{f.path}: {outcome.note}")
            if outcome.lint_note:
                notes.append(f"{f.path}: {outcome.lint_note}")
            for logical_id, body, offset in inline_templates(f.content, outcome):
                inner = pool.parse(body, region)
                if inner.status != "ok":
                    notes.append(
                        f"{f.path}: the TemplateBody of {logical_id} does not parse ({inner.message})"
                    )
                    continue
                nested = _stack_name(f"{stack}-{logical_id}", synth.stacks)
                _add_stack(synth, out_dir, nested, inner, f, offset)
                if inner.lint is not None:
                    synth.lint[nested] = inner.lint
                notes.append(
                    f"{f.path}: the template {logical_id} gives inline (TemplateBody) is graded as {nested}"
                )
        return Built(synth, workspace, notes)

    def source_model(self, files: list[ExtractedFile], synth: SynthResult) -> SourceModel:
        """The text of each template file (no syntax tree: its parse is the build's). A template that
        does not parse carries the parser's error as its syntax error (parse-error reads it).

        Nothing but the parsed template can be judged (``readable`` stays False): a template that does
        not parse leaves the security, performance and best-practice categories unscored."""
        failed = synth.status == "failed" and synth.cause == "syntax"
        model = SourceModel()
        for f in files:
            if f.language not in ("yaml", "json") or not template_format(f.content) or is_outline(f.content):
                continue
            error = None
            if failed and f.path == synth.file:
                error = SyntaxError(synth.message or "the template does not parse")
                error.lineno = synth.line or 1
            model.files.append(SourceFile(f.path, f.content, None, error, f))
        return model


class CloudFormationYaml(CloudFormation):
    name: ClassVar[str] = "cloudformation-yaml"
    format: ClassVar[str] = "yaml"
    metadata: ClassVar[tuple[tuple[str, str], ...]] = (
        ("cfn", "yaml"),
        ("cfn", "yml"),
        ("cloudformation", "yaml"),
        ("cloudformation", "yml"),
    )
    no_code: ClassVar[str] = "the answer has no CloudFormation template"


class CloudFormationJson(CloudFormation):
    name: ClassVar[str] = "cloudformation-json"
    format: ClassVar[str] = "json"
    metadata: ClassVar[tuple[tuple[str, str], ...]] = (("cfn", "json"), ("cloudformation", "json"))
    no_code: ClassVar[str] = "the answer has no CloudFormation template"


# Resources CloudFormation snapshots rather than deletes when no DeletionPolicy is given.
_SNAPSHOT_BY_DEFAULT = ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance")


def with_defaults(template_json: str) -> str:
    """The template with the defaults CloudFormation applies made explicit, as CDK's templates have them.

    A resource with no ``DeletionPolicy`` is deleted with its stack (an RDS cluster, or an RDS
    instance outside a cluster, is snapshotted first): the template lens reads the policy that
    will apply, not the key the author left out. The resource's ``Metadata`` records the keys
    added here (:data:`~graders.analysis.cfn.DEFAULTED`), so a check that asks what the answer
    wrote (``written_attribute``) can tell them apart. cfn-lint has already read the answer's own text.
    """
    template = json.loads(template_json)
    resources = template.get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        return json.dumps(template, indent=1)
    for raw in resources.values():
        if not isinstance(raw, dict) or "DeletionPolicy" in raw or not isinstance(raw.get("Type"), str):
            continue
        props = raw.get("Properties")
        props = props if isinstance(props, dict) else {}
        snapshot = raw["Type"] in _SNAPSHOT_BY_DEFAULT and not (
            raw["Type"] == "AWS::RDS::DBInstance" and "DBClusterIdentifier" in props
        )
        raw["DeletionPolicy"] = "Snapshot" if snapshot else "Delete"
        meta = raw.setdefault("Metadata", {})
        if isinstance(meta, dict):
            meta[DEFAULTED] = ["DeletionPolicy"]
    return json.dumps(template, indent=1)


_BLOCK_KEY = re.compile(r"^\s*[\"']?TemplateBody[\"']?\s*:\s*[|>]")


def _add_stack(
    synth: SynthResult,
    out_dir: Path,
    stack: str,
    outcome: ParseOutcome,
    f: ExtractedFile,
    line_of: Callable[[int], int],
) -> str:
    """Write a parsed template as the stack ``stack`` and keep its marks: resources by logical id,
    parameters, mappings and outputs as "Section/Name", each at its line in ``f`` (``line_of`` maps
    a line of the parsed text to the file's: the identity for a file, a shift for an inline body)."""
    rel = f"templates/{stack}.template.json"
    (out_dir / rel).write_text(with_defaults(outcome.template_json or "{}"), encoding="utf-8")
    synth.stacks.append(stack)
    synth.templates[stack] = rel
    written = {**outcome.entries, **outcome.marks}
    synth.marks[stack] = {
        key: (f.path, line_of(line), f.md_line(line_of(line))) for key, line in sorted(written.items())
    }
    return stack


def inline_templates(text: str, outcome: ParseOutcome) -> list[tuple[str, str, Callable[[int], int]]]:
    """Templates a nested stack (or stack set) writes inline as a ``TemplateBody`` string: (its
    logical id, the body, a map from the body's lines to the file's). A YAML block scalar keeps
    its lines, so they map one to one below its key; any other form maps to the resource's line."""
    try:
        template = json.loads(outcome.template_json or "{}")
    except ValueError:
        return []
    resources = template.get("Resources") if isinstance(template, dict) else None
    lines = text.splitlines()
    found: list[tuple[str, str, Callable[[int], int]]] = []
    for logical_id, raw in (resources or {}).items() if isinstance(resources, dict) else []:
        if not isinstance(raw, dict) or raw.get("Type") not in _INLINE_TYPES:
            continue
        props = raw.get("Properties")
        body = props.get("TemplateBody") if isinstance(props, dict) else None
        if not isinstance(body, str) or not _RESOURCE_TYPE.search(body):
            continue
        start = outcome.marks.get(logical_id, 1)
        key_line = next(
            (n for n in range(start, min(len(lines), start + 200) + 1) if _BLOCK_KEY.match(lines[n - 1])),
            None,
        )
        found.append((logical_id, body, _shift(key_line) if key_line else _fixed(start)))
    return found


_INLINE_TYPES = ("AWS::CloudFormation::Stack", "AWS::CloudFormation::StackSet")


def _shift(key_line: int) -> Callable[[int], int]:
    return lambda line: key_line + line


def _fixed(line: int) -> Callable[[int], int]:
    return lambda _: line


def is_outline(content: str) -> bool:
    """A template-shaped block whose entries are elided (``"VPC": {...}``), or whose resources are
    all listed by type alone with no properties anywhere (``"VPC": { "Type": "AWS::EC2::VPC" }``,
    "the template's structure"): a summary, not a template.

    YAML reads ``{...}`` as a mapping with the key ``...``, so an outline would parse and be linted
    as a template full of nonsense (every required property missing); it is left out like a prose
    answer (no template)."""
    if len(_ELIDED.findall(content, 0, 200_000)) >= OUTLINE_ELISIONS:
        return True
    head = content[:200_000]
    typed = len(_RESOURCE_TYPE.findall(head))
    return (
        typed >= OUTLINE_ELISIONS
        and len(_TYPE_ONLY.findall(head)) == typed
        and _PROPERTIES.search(head) is None
    )


def start_parse_pool(settings: BuildSettings) -> ParsePool:
    return ParsePool(workers=settings.workers, timeout=settings.timeout).__enter__()


def task_region(sample: Sample) -> str:
    """The region the task fixed (``lib/AWS_REGION`` beside the answer or in the task), else us-east-1."""
    candidates = [Path(sample.source).parent / "AWS_REGION"]
    if sample.task_root:
        candidates.append(Path(sample.task_root) / "lib" / "AWS_REGION")
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")[:100].strip()
        except OSError:
            continue
        if re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", text):
            return text
    return DEFAULT_REGION


def choose_templates(
    files: list[ExtractedFile], outcomes: dict[str, ParseOutcome], language: str | None = None
) -> tuple[ExtractedFile, list[ExtractedFile], list[str]]:
    """The main template, every template graded (main first) and notes on those left out.

    Among templates with as many resources, the one in the task's language (a YAML task's
    answer may add a JSON rendering of it), then the fuller text (the same resources with the
    parameters and properties a revision adds), then the later (the final draft)."""
    nesting = [f for f in files if _NESTED.search(f.content)]
    pool = nesting or files
    # max() keeps the first of equals: walk backwards so a full tie goes to the later (final) draft.
    main = max(
        reversed(pool),
        key=lambda f: (len(_RESOURCE_TYPE.findall(f.content)), f.language == language, len(f.content)),
    )
    graded, notes = [main], []
    if len(files) > 1:
        notes.append(f"{len(files)} templates in the answer; {main.path} is the main one")
    for f in files:
        if f is main:
            continue
        outcome = outcomes[f.path]
        if outcome.status != "ok":
            notes.append(f"{f.path} does not parse ({outcome.message}); not graded")
            continue
        draft_of = next((g for g in graded if _is_draft(outcome, outcomes[g.path])), None)
        if draft_of is not None and not nesting:
            notes.append(
                f"{f.path} is a draft of {draft_of.path} (most of its resources are there); not graded"
            )
            continue
        graded.append(f)
    return main, graded, notes


def _is_draft(outcome: ParseOutcome, of: ParseOutcome) -> bool:
    mine, theirs = set(outcome.marks), set(of.marks)
    return bool(mine) and len(mine & theirs) * 2 >= len(mine)


def _failure(main: ExtractedFile, outcome: ParseOutcome, seconds: float) -> SynthResult:
    cause = {"timeout": "timeout", "memory": "memory", "exited": "exited", "error": "other"}.get(
        outcome.status, "syntax"
    )
    message = outcome.message or "the template could not be read"
    return SynthResult(
        status="timeout" if cause == "timeout" else "failed",
        cause=cause,
        error_type="TemplateError" if cause == "syntax" else "ParserError",
        message=message,
        file=main.path,
        line=outcome.line,
        seconds=seconds,
    )


def _stack_name(path: str, taken: list[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9-]", "-", PurePosixPath(path).stem) or "template"
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    return name
