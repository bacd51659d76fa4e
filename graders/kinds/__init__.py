"""Kinds of answer: what differs between CDK Python, CDK TypeScript and CloudFormation answers.

``KINDS`` is the one list of the kinds iacgrade grades; ``resolve_kind`` tells which one an
answer is: ``--kind`` first, then the task's metadata.json (platform, language), then the
answer's own blocks. Each kind implements :class:`iacgrade.graders.kinds.base.Kind` in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iacgrade.graders.kinds.base import BuildSettings, Built, Kind, Services
from iacgrade.graders.kinds.cdk_python import CdkPython
from iacgrade.graders.kinds.cdk_typescript import CdkJavaScript, CdkTypeScript
from iacgrade.graders.kinds.cloudformation import CloudFormationJson, CloudFormationYaml
from iacgrade.graders.models import Extraction, Sample

# Every kind the design names, graded or not yet: metadata that names one of the others is told
# apart from metadata that names nothing iacgrade knows.
KIND_NAMES: tuple[str, ...] = (
    "cdk-python",
    "cdk-typescript",
    "cdk-javascript",
    "cloudformation-yaml",
    "cloudformation-json",
)
_METADATA_NAMES: dict[tuple[str, str], str] = {
    ("cdk", "py"): "cdk-python",
    ("cdk", "python"): "cdk-python",
    ("cdk", "ts"): "cdk-typescript",
    ("cdk", "typescript"): "cdk-typescript",
    ("cdk", "js"): "cdk-javascript",
    ("cdk", "javascript"): "cdk-javascript",
    ("cfn", "yaml"): "cloudformation-yaml",
    ("cfn", "yml"): "cloudformation-yaml",
    ("cfn", "json"): "cloudformation-json",
    ("cloudformation", "yaml"): "cloudformation-yaml",
    ("cloudformation", "yml"): "cloudformation-yaml",
    ("cloudformation", "json"): "cloudformation-json",
}
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (CdkPython(), CdkTypeScript(), CdkJavaScript(), CloudFormationYaml(), CloudFormationJson())
}
DEFAULT_KIND = "cdk-python"


@dataclass
class Resolved:
    """The kind an answer is graded as, or why it cannot be graded, and what was noticed on the way."""

    kind: Kind | None
    name: str | None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def kind_of_metadata(metadata: dict[str, object]) -> str | None:
    """The kind a task's metadata.json names (``platform`` and ``language``), if any."""
    platform, language = metadata.get("platform"), metadata.get("language")
    if not isinstance(platform, str) or not isinstance(language, str):
        return None
    return _METADATA_NAMES.get((platform.strip().lower(), language.strip().lower()))


def resolve_kind(sample: Sample, extraction: Extraction, override: str | None = None) -> Resolved:
    """Which kind ``sample`` is: ``override`` (``--kind``), its task's metadata, else its blocks."""
    name = override or sample.kind or kind_of_metadata(sample.metadata)
    notes: list[str] = []
    if name is None:
        seen = [k.name for k in KINDS.values() if k.recognises(extraction)]
        if len(seen) > 1:
            notes.append(f"the answer mixes kinds ({', '.join(seen)}); graded as {seen[0]}")
        elif not seen and (extraction.files or extraction.skipped):  # no blocks at all: "no code"
            notes.append(f"the answer's kind could not be told from its blocks; graded as {DEFAULT_KIND}")
        name = seen[0] if seen else DEFAULT_KIND
    kind = KINDS.get(name)
    if kind is None:
        known = "a kind iacgrade does not grade yet" if name in KIND_NAMES else "not a kind iacgrade knows"
        return Resolved(None, name, f"{name} answers cannot be graded: {known} (graded: {', '.join(KINDS)})")
    return Resolved(kind, name, notes=notes)


__all__ = [
    "DEFAULT_KIND",
    "KINDS",
    "KIND_NAMES",
    "BuildSettings",
    "Built",
    "Kind",
    "Resolved",
    "Services",
    "kind_of_metadata",
    "resolve_kind",
]
