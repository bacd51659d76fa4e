"""What a check sees: the answer's source files and, when synth worked, its templates.

Checks read through two lenses. The source lens walks the Python AST of the files the answer
gave (it works when synth fails and gives file:line). The template lens walks the synthesized
CloudFormation (exact, sees CDK's defaults, gives stack + logical id + CDK path).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from iacgrade.graders.analysis.pyast import parse_module
from iacgrade.graders.models import Evidence, ExtractedFile, Lens, Sample, SynthResult, Workspace
from iacgrade.graders.rubric import CheckOptions, Rubric

_Options = TypeVar("_Options", bound=CheckOptions)


@dataclass
class SourceFile:
    """One Python file of the answer (or an inline Lambda body) with its parse."""

    path: str
    text: str
    tree: ast.Module | None
    syntax_error: SyntaxError | None
    extracted: ExtractedFile | None = None
    # For inline code: the file and line of the call that holds it.
    inline_of: tuple[str, int] | None = None

    def md_line(self, line: int | None) -> int | None:
        if line is None or self.extracted is None:
            return None
        return self.extracted.md_line(line)


@dataclass
class Resource:
    """A resource of a synthesized template."""

    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]
    raw: dict[str, Any]
    template: dict[str, Any]
    # Where the resource is written, when the template is the answer's own text (CloudFormation).
    file: str | None = None
    line: int | None = None
    md_line: int | None = None

    @property
    def cdk_path(self) -> str | None:
        meta = self.raw.get("Metadata")
        if isinstance(meta, dict):
            path = meta.get("aws:cdk:path")
            return path if isinstance(path, str) else None
        return None

    @property
    def construct_ids(self) -> list[str]:
        """Path components below the stack, without CDK's 'Resource'/'Default' leaves."""
        path = self.cdk_path
        if not path:
            return []
        parts = path.split("/")[1:]
        while parts and parts[-1] in ("Resource", "Default"):
            parts.pop()
        return parts

    @property
    def construct_id(self) -> str | None:
        ids = self.construct_ids
        return ids[-1] if ids else None

    def evidence(self, value: str | None = None) -> Evidence:
        return Evidence(
            file=self.file,
            line=self.line,
            md_line=self.md_line,
            stack=self.stack,
            resource=self.logical_id,
            cdk_path=self.cdk_path,
            value=value,
        )


# Logical-id prefixes and path fragments of resources CDK adds on its own.
_HELPER_ID = re.compile(
    r"^(CDKMetadata|LogRetention[0-9a-f]{32}|AWS679f53fac002430cb0da5b7982bd2287|"
    r"CustomS3AutoDeleteObjectsCustomResourceProvider|CustomVpcRestrictDefaultSGCustomResourceProvider|"
    r"CustomCDKBucketDeployment|BucketNotificationsHandler|CustomResourceProvider|"
    r"Custom[A-Za-z]*CustomResourceProvider|SingletonLambda|AwsCliLayer|"
    r"CustomCrossRegion|CustomAWSCDKOpenIdConnectProvider|CustomDeleteExistingRecordSet|"
    r"CustomRoute53|CustomEcrDeleteImages|CustomAWSCDKCfnJson)"
)
_HELPER_PATH = re.compile(
    r"(/Custom::|/LogRetention[0-9a-f]{32}|/AWS679f53fac002430cb0da5b7982bd2287|/Provider/framework-|"
    r"/CustomResourceProvider|/BucketNotificationsHandler|/SingletonLambda|/AwsCliLayer|/CDKMetadata|"
    # CDK's own provider scopes and nested stacks: "@aws-cdk--aws-dynamodb.ReplicaProvider", "...eks.KubectlProvider"
    r"/@aws-cdk--)"
)


def is_cdk_helper(logical_id: str, resource: dict[str, Any]) -> bool:
    """True for resources CDK adds itself (providers, log retention, metadata, ...)."""
    if _HELPER_ID.match(logical_id):
        return True
    meta = resource.get("Metadata")
    path = meta.get("aws:cdk:path") if isinstance(meta, dict) else None
    if isinstance(path, str) and _HELPER_PATH.search(path):
        return True
    rtype = resource.get("Type", "")
    return rtype.startswith("Custom::") and rtype in (
        "Custom::S3AutoDeleteObjects",
        "Custom::VpcRestrictDefaultSG",
        "Custom::CDKBucketDeployment",
        "Custom::LogRetention",
        "AWS::CDK::Metadata",
    )


# Parameters CDK writes into every template it synthesizes (the bootstrap version check, asset
# locations of CDK v1, values of SSM parameters read at deploy time), not the answer's own.
_CDK_PARAMETER = re.compile(r"^(BootstrapVersion|AssetParameters[0-9a-fA-F]{8,}\w*|SsmParameterValue\w+)$")


def is_cdk_parameter(name: str, entry: dict[str, Any]) -> bool:
    """True for parameters CDK synthesizes on its own (see _CDK_PARAMETER)."""
    description = entry.get("Description")
    return bool(_CDK_PARAMETER.match(name)) or (
        isinstance(description, str)
        and description.startswith(("[cdk:skip]", "Version of the CDK Bootstrap"))
    )


@dataclass
class Hit:
    """What a check found: a message and where. Category, severity and fix come from the rubric.

    Hits of one check with the same ``key`` are merged into one finding (that is how a problem
    seen by both lenses becomes one finding with both pieces of evidence); the first message wins.
    Findings that repeat word for word in several stacks (one stack class deployed twice) are
    then merged too, their evidence naming every stack (graders.checks._merge_across_stacks).
    """

    message: str
    evidence: list[Evidence] = field(default_factory=list)
    key: str | None = None
    lens: Lens = "source"
    # Overrides the rubric's severity for this finding, e.g. "info" when the prompt asked for it.
    severity: str | None = None

    def as_note(self, why: str) -> Hit:
        """Keep the finding but unscored (severity info), ``why`` appended to its message."""
        self.severity = "info"
        self.message += why
        return self


@dataclass
class CheckContext:
    sample: Sample
    files: list[ExtractedFile]
    workspace: Workspace | None
    synth: SynthResult
    rubric: Rubric
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    lint: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    prompt: str | None = None  # the task's PROMPT.md, when there is one (graders.prompt reads it)
    kind: str = "cdk-python"  # the kind of answer (graders.kinds), which decides the source model
    # stack -> logical id -> (file, line, markdown line): where a template written by hand says it
    marks: dict[str, dict[str, tuple[str, int, int | None]]] = field(default_factory=dict)
    _sources: list[SourceFile] | None = None  # the kind's source model; tests may leave it to the default
    # The analysis model of this answer (graders.analysis.model.AnswerModel), built on first use.
    model: Any = field(default=None, repr=False, compare=False)

    # ---- source lens -------------------------------------------------------------------
    @property
    def sources(self) -> list[SourceFile]:
        """The source model of the answer's kind (given by the pipeline; else its Python files, parsed once)."""
        if self._sources is None:
            self._sources = [parse_source(f.path, f.content, f) for f in self.files if f.language == "python"]
        return self._sources

    def without_sources(self) -> CheckContext:
        """This context with an empty source model: a check's template lens on a kind it cannot read."""
        return replace(self, _sources=[], model=None)

    def parsed(self) -> Iterator[SourceFile]:
        for src in self.sources:
            if src.tree is not None:
                yield src

    def at(self, src: SourceFile, node: ast.AST | int, value: str | None = None) -> Evidence:
        """Evidence for a node (or line) of a source file: file:line plus the markdown line."""
        line = node if isinstance(node, int) else getattr(node, "lineno", None)
        if src.inline_of is not None:
            file, call_line = src.inline_of
            outer = next((s for s in self.sources if s.path == file), None)
            return Evidence(
                file=f"{file} (inline code, line {line})",
                line=call_line,
                md_line=outer.md_line(call_line) if outer else None,
                value=value,
            )
        return Evidence(file=src.path, line=line, md_line=src.md_line(line), value=value)

    # ---- template lens -----------------------------------------------------------------
    @property
    def has_template(self) -> bool:
        return bool(self.templates)

    def resources(self, *types: str, include_helpers: bool = False) -> Iterator[Resource]:
        """Resources of every synthesized stack, CDK's own helpers left out unless asked for."""
        for stack, template in sorted(self.templates.items()):
            section = template.get("Resources")
            if not isinstance(section, dict):
                continue
            for logical_id, raw in section.items():
                if not isinstance(raw, dict):
                    continue
                rtype = raw.get("Type", "")
                if types and rtype not in types:
                    continue
                if not include_helpers and is_cdk_helper(logical_id, raw):
                    continue
                props = raw.get("Properties")
                file, line, md_line = self.marks.get(stack, {}).get(logical_id, (None, None, None))
                yield Resource(
                    stack,
                    logical_id,
                    rtype,
                    props if isinstance(props, dict) else {},
                    raw,
                    template,
                    file,
                    line,
                    md_line,
                )

    def wrote(self, literal: str) -> bool:
        """Whether the answer's own files contain ``literal``: a value in a template that the
        answer wrote, not one a tool filled in (a CDK context lookup, from cdk.context.json too)."""
        return any(literal in f.content for f in self.files if not f.path.endswith("cdk.context.json"))

    def entries(self, section: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(stack, name, entry) for every entry of a template section: Parameters, Mappings, Outputs."""
        for stack, template in sorted(self.templates.items()):
            found = template.get(section)
            if not isinstance(found, dict):
                continue
            for name, entry in found.items():
                if isinstance(entry, dict):
                    yield stack, str(name), entry

    def entry_evidence(self, stack: str, section: str, name: str, value: str | None = None) -> Evidence:
        """Evidence for a parameter, mapping or output: file:line when the template is the answer's text."""
        file, line, md_line = self.marks.get(stack, {}).get(f"{section}/{name}", (None, None, None))
        return Evidence(file=file, line=line, md_line=md_line, stack=stack, resource=name, value=value)

    def options(self, model: type[_Options]) -> _Options:
        """The check's options, typed: the rubric's values over ``model``'s defaults."""
        return self.rubric.options(model)


def parse_source(path: str, text: str, extracted: ExtractedFile | None = None) -> SourceFile:
    try:
        tree = parse_module(text, filename=path)
        return SourceFile(path, text, tree, None, extracted)
    except SyntaxError as exc:
        return SourceFile(path, text, None, exc, extracted)
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        err = SyntaxError(str(exc) or type(exc).__name__)
        err.lineno = 1
        return SourceFile(path, text, None, err, extracted)


def load_templates(paths: dict[str, str], base: Path) -> dict[str, dict[str, Any]]:
    """Read the template files a SynthResult names (paths relative to ``base``)."""
    out: dict[str, dict[str, Any]] = {}
    for stack, rel in paths.items():
        try:
            data = json.loads((base / rel).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            out[stack] = data
    return out
