"""Helpers for reading CloudFormation values that may hold intrinsics or CDK tokens."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

INTRINSICS = (
    "Ref",
    "Fn::GetAtt",
    "Fn::Join",
    "Fn::Sub",
    "Fn::If",
    "Fn::Select",
    "Fn::ImportValue",
    "Fn::FindInMap",
    "Fn::GetAZs",
    "Fn::Split",
    "Fn::Base64",
    "Fn::Cidr",
)


# Resource Metadata key listing the resource attributes iacgrade added with CloudFormation's
# default value (graders.kinds.cloudformation.with_defaults), as opposed to what the answer wrote.
DEFAULTED = "iacgrade:defaulted"


def written_attribute(raw: dict[str, Any], attribute: str) -> Any:
    """The resource attribute (``DeletionPolicy``, ...) as the template's author wrote it; None
    when it is absent or is a default iacgrade made explicit."""
    meta = raw.get("Metadata")
    if isinstance(meta, dict) and attribute in as_list(meta.get(DEFAULTED)):
        return None
    return raw.get(attribute)


def is_intrinsic(value: Any) -> bool:
    """True for `{"Ref": ...}`, `{"Fn::...": ...}` and unresolved `${Token[...]}` strings."""
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key in INTRINSICS or key.startswith("Fn::")
    return isinstance(value, str) and "${Token[" in value


def as_list(value: Any) -> list[Any]:
    """A CloudFormation 'string or list' value as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def plain_strings(value: Any) -> Iterator[str]:
    """Literal strings inside a value (walking into Fn::Join parts), skipping intrinsics."""
    if isinstance(value, str):
        if "${Token[" not in value:
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from plain_strings(item)
    elif isinstance(value, dict) and len(value) == 1 and "Fn::Join" in value:
        parts = value["Fn::Join"]
        if isinstance(parts, list) and len(parts) == 2:
            yield from plain_strings(parts[1])


def policy_statements(document: Any) -> Iterator[dict[str, Any]]:
    """Statements of an IAM policy document (tolerates a single statement object)."""
    if not isinstance(document, dict):
        return
    for stmt in as_list(document.get("Statement")):
        if isinstance(stmt, dict):
            yield stmt


def ref_target(value: Any) -> str | None:
    """The logical id a `{"Ref": X}` or `{"Fn::GetAtt": [X, ...]}` points at."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        att = value.get("Fn::GetAtt")
        if isinstance(att, list) and att and isinstance(att[0], str):
            return att[0]
        if isinstance(att, str):
            return att.split(".", 1)[0]
    return None


_SUB_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)(?:\.[A-Za-z0-9_.]+)?\}")


def sub_refs(value: Any) -> set[str]:
    """The names an ``Fn::Sub`` string reads as ``${Name}`` or ``${Name.Attribute}`` (a Ref or a
    GetAtt), less the variables its own map defines; ``${!Literal}`` and pseudo parameters
    (``${AWS::Region}``) are not references."""
    text = sub_text(value)
    if text is None:
        return set()
    body = value["Fn::Sub"]
    local = body[1] if isinstance(body, list) and len(body) > 1 and isinstance(body[1], dict) else {}
    return {name for name in _SUB_VARIABLE.findall(text) if name not in local}


def refs_within(value: Any, conditional: bool = True) -> set[str]:
    """Every logical id referenced (Ref, GetAtt, ``${X}`` in an Fn::Sub) anywhere inside a value;
    with ``conditional=False``, none inside an ``Fn::If`` (references a branch may not make)."""
    out: set[str] = set()
    if not conditional and isinstance(value, dict) and "Fn::If" in value:
        return out
    target = ref_target(value)
    if target:
        out.add(target)
    out |= sub_refs(value)
    if isinstance(value, dict):
        for v in value.values():
            out |= refs_within(v, conditional)
    elif isinstance(value, list):
        for v in value:
            out |= refs_within(v, conditional)
    return out


def values_at_key(value: Any, key: str, depth: int = 0) -> Iterator[Any]:
    """Every value held under ``key`` anywhere inside ``value`` (nested properties, lists)."""
    if depth > 30:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            else:
                yield from values_at_key(v, key, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from values_at_key(item, key, depth + 1)


def literal_choices(value: Any, depth: int = 0) -> Iterator[str]:
    """The literal strings a value can take: itself, list items, both branches of ``Fn::If``."""
    if depth > 12:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from literal_choices(item, depth + 1)
    elif isinstance(value, dict) and len(value) == 1 and "Fn::If" in value:
        branches = value["Fn::If"]
        if isinstance(branches, list) and len(branches) == 3:
            yield from literal_choices(branches[1:], depth + 1)


def sub_text(value: Any) -> str | None:
    """The template string of an ``Fn::Sub`` (short or long form), else None."""
    if not isinstance(value, dict) or len(value) != 1 or "Fn::Sub" not in value:
        return None
    body = value["Fn::Sub"]
    if isinstance(body, list) and body and isinstance(body[0], str):
        return body[0]
    return body if isinstance(body, str) else None


def intrinsic_calls(value: Any, name: str, depth: int = 0) -> Iterator[Any]:
    """The arguments of every call of intrinsic ``name`` (``Fn::FindInMap``, ...) inside ``value``."""
    if depth > 40:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if k == name:
                yield v
            yield from intrinsic_calls(v, name, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from intrinsic_calls(item, name, depth + 1)


# What ``Ref`` gives for resource types whose Ref is not an ARN (an IAM policy needs the ARN).
REF_NOT_ARN: dict[str, str] = {
    "AWS::S3::Bucket": "the bucket name",
    "AWS::DynamoDB::Table": "the table name",
    "AWS::SQS::Queue": "the queue URL",
    "AWS::Lambda::Function": "the function name",
    "AWS::Kinesis::Stream": "the stream name",
    "AWS::KinesisFirehose::DeliveryStream": "the delivery stream name",
    "AWS::Logs::LogGroup": "the log group name",
    "AWS::KMS::Key": "the key id",
    "AWS::IAM::Role": "the role name",
    "AWS::IAM::User": "the user name",
    "AWS::ECR::Repository": "the repository name",
    "AWS::Events::EventBus": "the event bus name",
    "AWS::SSM::Parameter": "the parameter name",
    "AWS::EFS::FileSystem": "the file system id",
}


def schema_taggable(rtype: str) -> bool:
    """Whether CloudFormation lets ``rtype`` carry tags, by cfn-lint's schema of it (us-east-1):
    a ``Tags`` property and no ``tagging.taggable: false``. False for a type it has no schema of.

    The answer comes from a file that lists, per cfn-lint version, the types it has schemas of
    and the taggable ones (`_schema_facts`); a type not in it is looked up in cfn-lint itself."""
    facts = _schema_facts()
    if facts is not None and rtype in facts[0]:
        return rtype in facts[1]
    return _taggable_here(rtype)


def _taggable_here(rtype: str) -> bool:
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", rtype).schema
    except Exception:  # noqa: BLE001 - unknown type or schema trouble: not taggable as far as we know
        return False
    tagging = schema.get("tagging") or {}
    return bool(tagging.get("taggable", True)) and "Tags" in (schema.get("properties") or {})


_FACTS_FORMAT = 1
_FACTS_LOCK = threading.Lock()  # grading threads ask at once: one child builds the file


@lru_cache(maxsize=1)
def _schema_facts() -> tuple[frozenset[str], frozenset[str]] | None:
    with _FACTS_LOCK:
        return _read_facts()


def _read_facts() -> tuple[frozenset[str], frozenset[str]] | None:
    """(types cfn-lint has a us-east-1 schema of, the taggable ones), from a file under the grader's
    cache folder made once per cfn-lint version by a child process (~1.5 s: every schema read). The
    grading process never imports cfn-lint for it: that import alone is ~0.45 s of every run."""
    import importlib.metadata

    from iacgrade.graders.cache import build_in_child, default_cache_dir

    try:
        version = importlib.metadata.version("cfn-lint")
    except importlib.metadata.PackageNotFoundError:
        return None
    target = default_cache_dir() / "cfn-schemas" / f"{version}-f{_FACTS_FORMAT}.json"
    if not target.is_file():
        build_in_child("iacgrade.graders.analysis.cfn", str(target), timeout=120.0)
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
        return frozenset(data["types"]), frozenset(data["taggable"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_facts(target: Path) -> int:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    from iacgrade.graders.store import write_json_atomic

    types = sorted(set(PROVIDER_SCHEMA_MANAGER.get_resource_types("us-east-1")))
    write_json_atomic(target, {"types": types, "taggable": [t for t in types if _taggable_here(t)]})
    return 0


@lru_cache(maxsize=1)
def stateful_types() -> frozenset[str]:
    """Resource types whose replacement or deletion loses data: cfn-lint's own list (I3011).

    Read from cfn-lint's data folder without importing the package (whose __init__ loads its
    whole API, ~0.45 s of a grading process that needs only this file)."""
    spec = find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = (
        Path(next(iter(spec.submodule_search_locations)))
        / "data"
        / "AdditionalSpecs"
        / "StatefulResources.json"
    )
    return frozenset(json.loads(path.read_text(encoding="utf-8")).get("ResourceTypes", {}))


if __name__ == "__main__":  # python -m iacgrade.graders.analysis.cfn TARGET (see _schema_facts)
    sys.exit(_write_facts(Path(sys.argv[1])))
