"""Data passed between the pipeline's stages.

Every stage takes and returns these pydantic models; nothing travels as a loose dict.
Fields that downstream tools read (see DESIGN.md, "Contracts") are only ever added to.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CATEGORIES: tuple[str, ...] = ("syntax", "deployment", "security", "performance", "best_practices")

# infra_error: the grader itself broke on the answer (a worker node died twice under it, say):
# kept out of every score and mean, counted apart, graded again by the next run in the folder.
SampleStatus = Literal["graded", "error", "infra_error"]
Role = Literal["model", "ideal", "other"]
ROLES: tuple[str, ...] = ("model", "ideal", "other")
SynthStatus = Literal["ok", "failed", "timeout", "skipped"]
Lens = Literal["source", "template", "synth"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


_M = TypeVar("_M", bound=_Model)


class Sample(_Model):
    """One answer to grade, as found on disk, with what the task folder around it tells."""

    sample_id: str
    source: str = Field(description="the path as given or found")
    role: Role = Field(default="other", description="a task's MODEL or IDEAL answer, or another")
    kind: str | None = Field(
        default=None, description="kind of answer (graders/kinds): from --kind or the task's metadata"
    )
    task_id: str | None = None
    task_root: str | None = Field(default=None, description="folder laid out like a corpus task")
    scaffold_files: list[str] = Field(default_factory=list, description="paths relative to task_root")
    entry_file: str | None = Field(default=None, description="scaffold entry named by cdk.json's app")
    reference_id: str | None = Field(default=None, description="sample_id of the reference (IDEAL) answer")
    reference_path: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    size_bytes: int = 0
    follow_link: bool = Field(
        default=True,
        description="False for an answer found by searching a folder that was a plain file then: "
        "reading it refuses a symlink swapped in since",
    )
    row_id: str | int | None = Field(
        default=None, description="a dataset row's id (its --id-field value, else its row number)"
    )
    row_fields: dict[str, Any] = Field(
        default_factory=dict, description="a dataset row's --keep-field values"
    )
    text: str | None = Field(
        default=None, exclude=True, description="the answer's text when it came in a dataset row, not a file"
    )
    prompt: str | None = Field(
        default=None, exclude=True, description="the prompt's text when the row (or caller) gave one"
    )
    status: Literal["ok", "error"] = "ok"
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)


class ExtractedFile(_Model):
    """A code block written out as a file.

    ``line`` is the markdown line of the block's opening fence, so line ``k`` of the file is
    markdown line ``line + k``.
    """

    path: str
    language: str
    line: int
    path_source: str = Field(description="how the path was found: heading, bold, sentence, comment, ...")
    content: str = Field(default="", exclude=True)
    end_line: int | None = None
    overrides: list[int] = Field(
        default_factory=list, description="fence lines of earlier blocks it replaced"
    )
    moved_from: str | None = Field(
        default=None, description="the path the answer gave, when the workspace moved it"
    )

    def md_line(self, file_line: int) -> int:
        """Markdown line of ``file_line`` (1-based) of this file."""
        return self.line + file_line


class SkippedBlock(_Model):
    line: int
    language: str
    reason: str


class Extraction(_Model):
    files: list[ExtractedFile] = Field(default_factory=list)
    skipped: list[SkippedBlock] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class FileMove(_Model):
    src: str
    dst: str
    reason: str


class Workspace(_Model):
    """A folder with the scaffold laid first and the answer's files over it."""

    root: str = Field(exclude=True)
    files: list[str] = Field(default_factory=list, description="every file in it, relative, sorted")
    answer_files: list[str] = Field(default_factory=list)
    scaffold_files: list[str] = Field(default_factory=list)
    moves: list[FileMove] = Field(default_factory=list)
    context_source: Literal["answer", "scaffold", "none"] = "none"
    context: dict[str, Any] = Field(default_factory=dict, exclude=True)


# Every cause a build outcome can name, with what it means in a report: the one list (the
# sandbox's classifier, the kinds' builds and the synth-failed check read it).
SYNTH_CAUSES: dict[str, str] = {
    "syntax": "a file does not parse",
    "undefined-name": "a name is used but never defined or imported",
    "invalid-api": "wrong use of the CDK API",
    "validation": "CDK rejected a construct's configuration",
    "missing-module": "a module the answer imports does not exist",
    "missing-asset": "an asset path the answer never provides",
    "unsupported-feature-flag": "the answer's cdk.json sets a CDK v1 feature flag that CDK v2 rejects",
    "config": "the app's configuration (context, account/region) is unusable",
    "no-stacks": "the app ran but defined no stack",
    "no-entry": "there is no app to run",
    "no-code": "the answer holds no code of its kind",
    "timeout": "synth did not finish in time",
    "memory": "synth ran out of memory",
    "exited": "the app exited before synthesizing",
    "other": "an unclassified error",
}


class LintMatch(_Model):
    """One cfn-lint match on a template (graders.lint makes them; cfn-lint-error reads them)."""

    rule: str = ""
    level: str = "error"
    message: str = ""
    path: list[str | int] = Field(
        default_factory=list, description="where in the template: Resources, X, ..."
    )
    resource: str | None = Field(default=None, description="logical id, for a match in Resources")
    line: int | None = Field(default=None, description="1-based, in the text that was linted")

    @property
    def logical_id(self) -> str | None:
        """The resource the match is on: its ``resource``, else the one its path names."""
        if self.resource:
            return self.resource
        path = self.path
        return str(path[1]) if len(path) >= 2 and path[0] == "Resources" else None

    @field_validator("path", mode="before")
    @classmethod
    def _path_list(cls, value: object) -> object:
        """A path sent as one string (``"Resources/X/Properties"``) becomes its parts."""
        return [p for p in value.split("/") if p] if isinstance(value, str) else value


class Diagnostic(_Model):
    """One compiler error on a typed answer's file (CDK TypeScript), as the build's type check reports it."""

    code: int | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    message: str = ""


class Attempt(_Model):
    """A build attempt that failed before a fallback got past it (graders.sandbox: stub an asset,
    a dummy environment, the scaffold's entry ...)."""

    # Runs written before this model existed may carry other keys (a "seconds"): read, not kept.
    model_config = ConfigDict(extra="ignore")

    error_type: str | None = None
    message: str | None = None
    cause: str | None = Field(default=None, description=" | ".join(SYNTH_CAUSES))
    file: str | None = Field(default=None, description="the answer's file the error points at, when known")
    line: int | None = None


def _unset(value: object) -> bool:
    return value is None


class WorkerInfo(_Model):
    """The sandbox worker that built an answer and what became of it (result.json ``synth.worker``).
    Only what is known is written: an answer built without a worker has ``{}``."""

    # Runs written before this model existed may carry other keys: read, not kept.
    model_config = ConfigDict(extra="ignore")

    id: int | None = Field(default=None, exclude_if=_unset, description="the worker's slot in its pool")
    jobs: int | None = Field(
        default=None, exclude_if=_unset, description="jobs the worker has run, this one included"
    )
    warm: bool | None = Field(default=None, exclude_if=_unset, description="whether it had run a job before")
    uid: int | None = Field(default=None, exclude_if=_unset, description="the user id the sandbox ran as")
    retried: str | None = Field(
        default=None, exclude_if=_unset, description="why the job ran again on a fresh worker"
    )
    recycled: str | list[str] | None = Field(
        default=None, exclude_if=_unset, description="why the worker was replaced after the job"
    )
    tampered: list[str] | None = Field(
        default=None, exclude_if=_unset, description="what the job changed in the worker (it is replaced)"
    )
    timing: dict[str, float | int] | None = Field(
        default=None, exclude_if=_unset, description="seconds by phase of the job"
    )

    @staticmethod
    def reason(value: object) -> str | list[str]:
        """A reason a worker's reply gives (text, or a list of texts), as text: a reply comes out of the sandbox."""
        return [str(v) for v in value] if isinstance(value, list) else str(value)

    def note_reply(self, raw: dict[str, Any]) -> None:
        """Keep what a worker's reply says of its job: what it tampered with and its time by phase."""
        if raw.get("tampered"):
            reason = self.reason(raw["tampered"])
            self.tampered = reason if isinstance(reason, list) else [reason]
        timing = raw.get("timing")
        if isinstance(timing, dict) and timing:
            self.timing = {
                str(k): v for k, v in timing.items() if isinstance(v, int | float) and not isinstance(v, bool)
            }


def typed_list(model: type[_M], raw: object) -> list[_M]:
    """``raw`` (a list a worker sent as JSON) as ``model``s; an item that is not one is left out."""
    out: list[_M] = []
    for item in raw if isinstance(raw, list) else []:
        try:
            out.append(model.model_validate(item))
        except ValidationError:
            continue
    return out


# stack -> logical id (or "Parameters/Name", ...) -> (answer file, line, markdown line): where a
# template that is the answer's own text writes each entry
Marks = dict[str, dict[str, tuple[str, int, int | None]]]


class SynthResult(_Model):
    status: SynthStatus = "skipped"
    error_type: str | None = None
    message: str | None = None
    cause: str | None = Field(default=None, description=" | ".join(SYNTH_CAUSES))
    file: str | None = None
    line: int | None = None
    seconds: float = 0.0
    stacks: list[str] = Field(default_factory=list)
    templates: dict[str, str] = Field(
        default_factory=dict, description="stack name -> template path in the output folder"
    )
    entry: str | None = None
    entry_kind: Literal["answer", "scaffold", "driver", "none"] | None = None
    fallbacks: list[str] = Field(default_factory=list)
    attempts: list[Attempt] = Field(default_factory=list, description="failed attempts before a fallback")
    dummy_env: bool = False
    deprecations: list[str] = Field(default_factory=list)
    lookups: list[str] = Field(default_factory=list)
    docker_bundling: list[str] = Field(default_factory=list)
    missing_assets: list[str] = Field(default_factory=list)
    isolation: str | None = None
    worker: WorkerInfo = Field(default_factory=WorkerInfo)
    lint: dict[str, list[LintMatch]] = Field(
        default_factory=dict,
        exclude=True,
        description="stack -> cfn-lint matches (rule, level, message, path, resource, line)",
    )
    diagnostics: list[Diagnostic] = Field(
        default_factory=list,
        exclude=True,
        description="compiler diagnostics of a typed answer (CDK TypeScript): code, file, line, column, message",
    )
    marks: Marks = Field(
        default_factory=dict,
        exclude=True,
        description="stack -> logical id -> (answer file, line, markdown line) where the template "
        "is the answer's own text (CloudFormation answers)",
    )


class Evidence(_Model):
    file: str | None = None
    line: int | None = None
    md_line: int | None = None
    stack: str | None = None
    resource: str | None = Field(default=None, description="logical id")
    cdk_path: str | None = None
    value: str | None = None


class Finding(_Model):
    check: str
    category: str
    severity: str
    title: str
    message: str
    evidence: list[Evidence] = Field(default_factory=list)
    fix: str = ""
    lenses: list[Lens] = Field(default_factory=list)


class ReviewerClaim(_Model):
    """One topic a task's human reviewer raised (``lib/MODEL_FAILURES.md``), judged against the
    answer's findings (graders/reviewer.py)."""

    topic: str = Field(description="the topic, a key of graders.reviewer.TOPICS")
    checks: list[str] = Field(description="the checks whose finding would confirm it, sorted")
    confirmed_by: list[str] = Field(
        default_factory=list, description="those of ``checks`` that found something here; empty: unconfirmed"
    )
    seen: list[Evidence] = Field(
        default_factory=list,
        description="an unconfirmed topic's lines in the answer's code (file, line, md_line, the code as "
        "value; at most 3), so a reader can check the claim by hand",
    )

    @property
    def confirmed(self) -> bool:
        return bool(self.confirmed_by)


class CategoryScore(_Model):
    category: str
    score: float | None = Field(description="None when the category could not be assessed")
    assessed: bool
    basis: Literal["source+template", "source", "none"]
    findings: int = 0
    note: str = ""


class SampleResult(_Model):
    sample_id: str
    source: str
    status: SampleStatus
    error: str | None = None
    task_id: str | None = None
    role: str = "other"
    kind: str | None = Field(default=None, description="kind of answer: cdk-python, cloudformation-yaml, ...")
    reference_id: str | None = None
    files: list[ExtractedFile] = Field(default_factory=list)
    skipped_blocks: list[SkippedBlock] = Field(default_factory=list)
    moves: list[FileMove] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    synth: SynthResult = Field(default_factory=SynthResult)
    findings: list[Finding] = Field(default_factory=list)
    scores: dict[str, float | None] = Field(default_factory=dict)
    categories: list[CategoryScore] = Field(default_factory=list)
    total: float | None = None
    reward: float | None = Field(
        default=None,
        description="the total as a reward in [0, 1] by the rubric's reward rule (its floor for an "
        "answer with no code, one not graded, or one whose build failed); None in results from "
        "before rewards were recorded",
    )
    grader_version: str = ""
    rubric_version: str = ""
    content_hash: str | None = Field(
        default=None,
        description="hash of everything that decides this result (graders/cache.py); keys the cache",
    )
    prompt_digest: str | None = Field(
        default=None, description="short hash of the task's prompt text; `compare` pairs answers by it"
    )
    row_id: str | int | None = Field(default=None, description="the dataset row's id, to join grades back")
    row_fields: dict[str, Any] = Field(default_factory=dict, description="the row's --keep-field values")
    reviewer_claims: list[ReviewerClaim] = Field(
        default_factory=list,
        description="a MODEL answer's task reviewer's topics and which findings confirm each; the report "
        "renders them (empty without a lib/MODEL_FAILURES.md)",
    )

    @model_validator(mode="before")
    @classmethod
    def _role_was_kind(cls, data: Any) -> Any:
        """Results from before kinds of answer said the role in ``kind``; they were all CDK Python."""
        if isinstance(data, dict) and "role" not in data and data.get("kind") in ROLES:
            data = {**data, "role": data["kind"], "kind": "cdk-python"}
        return data


class RunManifest(_Model):
    run_id: str
    label: str | None = None
    started: str
    finished: str | None = None
    grader_version: str
    rubric_version: str
    cdk_version: str | None = None
    inputs: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    cache_dir: str | None = Field(default=None, description="the result cache used, None with --no-cache")
    check_severities: dict[str, str] = Field(
        default_factory=dict, description="the rubric's severity of each enabled check, for `compare`"
    )
