"""The template model: the CloudFormation an answer's build gave, the same for every kind.

A CDK answer's templates come from its synth; a CloudFormation answer's template is its own
text, parsed, with line marks (``marks``) that say where each resource, parameter and output is
written. The template-lens checks read this model alone, so they run unchanged on every kind
of answer; cfn-lint's matches on each template (``lint``) travel with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iacgrade.graders.models import Evidence, LintMatch, Marks, SynthResult
from iacgrade.graders.store import read_json_object


@dataclass
class Resource:
    """A resource of one of the answer's templates (synthesized, or written by hand)."""

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
class TemplateModel:
    """The answer's templates by stack, where a hand-written one says each entry, and cfn-lint's matches."""

    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    marks: Marks = field(default_factory=dict)
    lint: dict[str, list[LintMatch]] = field(default_factory=dict)

    @classmethod
    def of(cls, synth: SynthResult, base: Path) -> TemplateModel:
        """The model of a build: the template files ``synth`` names (relative to ``base``), read."""
        read = {stack: read_json_object(base / rel) for stack, rel in synth.templates.items()}
        return cls({stack: data for stack, data in read.items() if data is not None}, synth.marks, synth.lint)

    @property
    def present(self) -> bool:
        """Whether the build gave any template (a CDK synth that worked, a template that parsed)."""
        return bool(self.templates)

    def resources(self, *types: str, include_helpers: bool = False) -> Iterator[Resource]:
        """Resources of every stack, CDK's own helpers left out unless asked for."""
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
