"""What a check sees: the answer, its build's outcome, and the two models built from them.

Checks read through two lenses. The source lens reads the source model of the answer's kind
(graders.analysis.source: Python's AST, TypeScript's syntax tree and compiler diagnostics, a
template's text; it works when the build fails and gives file:line). The template lens reads the
template model (graders.analysis.template: the CloudFormation the build gave, the same for every
kind; exact, sees CDK's defaults, gives stack + logical id + CDK path).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TypeVar

from iacgrade.graders.analysis.source import SourceModel
from iacgrade.graders.analysis.template import Resource, TemplateModel
from iacgrade.graders.models import Evidence, ExtractedFile, Lens, Sample, SynthResult, Workspace
from iacgrade.graders.rubric import CheckOptions, Rubric

_Options = TypeVar("_Options", bound=CheckOptions)


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

    @classmethod
    def on_resource(cls, message: str, res: Resource, value: str, severity: str | None = None) -> Hit:
        """A template-lens hit on one resource, keyed by it (one finding per resource)."""
        return cls(
            message,
            [res.evidence(value=value)],
            key=f"{res.stack}:{res.logical_id}",
            lens="template",
            severity=severity,
        )

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
    template: TemplateModel = field(default_factory=TemplateModel)
    # The kind's source model (graders.kinds.Kind.source_model); when not given, the kind's model
    # of ``files`` is made on first read (what a context built by hand, in a test, wants).
    _source: SourceModel | None = None
    prompt: str | None = None  # the task's PROMPT.md, when there is one (graders.prompt reads it)
    kind: str = "cdk-python"  # the kind of answer (graders.kinds), which decides the source model

    @property
    def source(self) -> SourceModel:
        """The source model of the answer's kind."""
        if self._source is None:
            from iacgrade.graders.kinds import KINDS  # the kinds build on this module

            self._source = KINDS[self.kind].source_model(self.files, self.synth)
        return self._source

    def without_sources(self) -> CheckContext:
        """This context with an empty source model: a check's template lens on a kind it cannot read."""
        return replace(self, _source=SourceModel())

    def wrote(self, literal: str) -> bool:
        """Whether the answer's own files contain ``literal``: a value in a template that the
        answer wrote, not one a tool filled in (a CDK context lookup, from cdk.context.json too)."""
        return any(literal in f.content for f in self.files if not f.path.endswith("cdk.context.json"))

    def options(self, model: type[_Options]) -> _Options:
        """The check's options, typed: the rubric's values over ``model``'s defaults."""
        return self.rubric.options(model)
