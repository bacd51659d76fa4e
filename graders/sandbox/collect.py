"""Read what a job left in the worker's out/ folder, safely, and write the sample's outputs.

Everything under out/ was written by untrusted code: links are never followed and sizes are
capped, so a job cannot make the grader copy a host file into a report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_TEMPLATE = 64 * 1024 * 1024
_DEPRECATION = re.compile(r"\[WARNING\] aws-cdk-lib\.(\S+?) is deprecated")


@dataclass
class Outputs:
    """One attempt's outputs, held in memory so the worker's folder can be reused."""

    templates: dict[str, bytes] = field(default_factory=dict)
    manifest: bytes | None = None
    log: bytes = b""
    log_size: int = 0
    missing: list[str] = field(default_factory=list)
    docker_images: list[str] = field(default_factory=list)


def _read(path: Path, limit: int) -> bytes | None:
    if path.is_symlink() or not path.is_file():
        return None
    with open(path, "rb") as fh:
        return fh.read(limit)


def read_log(path: Path, cap: int) -> tuple[bytes, int]:
    """Head and tail of the job's output, at most ``cap`` bytes, and its full size."""
    if path.is_symlink() or not path.is_file():
        return b"", 0
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if size <= cap:
            return fh.read(), size
        head = fh.read(cap // 2)
        fh.seek(size - cap // 2)
        tail = fh.read()
    return head + f"\n... [{size - cap} bytes cut] ...\n".encode() + tail, size


def _assembly(directory: Path, out: Outputs, depth: int = 0) -> None:
    raw = _read(directory / "manifest.json", MAX_TEMPLATE)
    if raw is None:
        return
    if depth == 0:
        out.manifest = raw
    try:
        manifest = json.loads(raw)
    except ValueError:
        return
    for item in manifest.get("missing") or []:
        out.missing.append(f"{item.get('provider')}: {item.get('key')}")
    for art_id, art in (manifest.get("artifacts") or {}).items():
        props = art.get("properties") or {}
        if art.get("type") == "aws:cloudformation:stack":
            name = str(props.get("stackName") or art_id)
            tpl = props.get("templateFile")
            if tpl and "/" not in tpl:
                data = _read(directory / tpl, MAX_TEMPLATE)
                if data is not None:
                    out.templates[name] = data
        elif art.get("type") == "cdk:asset-manifest":
            data = _read(directory / str(props.get("file", "")), MAX_TEMPLATE)
            try:
                assets = json.loads(data or b"{}")
            except ValueError:
                continue
            for key in assets.get("dockerImages") or {}:
                out.docker_images.append(f"docker image asset {key[:12]}")
        elif art.get("type") == "cdk:cloud-assembly" and depth < 3:
            sub = str(props.get("directoryName", ""))
            if sub and "/" not in sub and ".." not in sub:
                _assembly(directory / sub, out, depth + 1)
    _nested_stacks(directory, out)


def _nested_stacks(directory: Path, out: Outputs) -> None:
    """NestedStack templates: CDK writes them as file assets (``<id>.nested.template.json``),
    not as stack artifacts, yet their resources are the answer's as much as any stack's."""
    for path in sorted(directory.glob("*.nested.template.json")):
        name = path.name[: -len(".template.json")]
        if path.is_symlink() or name in out.templates:
            continue
        data = _read(path, MAX_TEMPLATE)
        if data is not None:
            out.templates[name] = data


def collect(out_dir: Path, log_cap: int) -> Outputs:
    """Templates, manifest, lookups and the log from a worker's out/ folder."""
    out = collect_assembly(out_dir)
    out.log, out.log_size = read_log(out_dir / "synth.log", log_cap)
    return out


def collect_assembly(out_dir: Path) -> Outputs:
    """Templates, manifest and lookups of the cloud assembly in ``out_dir/cdk.out`` (no log).

    The worker calls this inside the sandbox, where /out is a private tmpfs: links an answer
    planted there can only lead to the sandbox's own files.
    """
    out = Outputs()
    cdk_out = out_dir / "cdk.out"
    if cdk_out.is_dir() and not cdk_out.is_symlink():
        _assembly(cdk_out, out)
    return out


def to_frame(out: Outputs) -> dict[str, Any]:
    """The assembly part of ``out`` as JSON-able data for the worker's result frame."""
    return {
        "templates": {k: v.decode("utf-8", "surrogateescape") for k, v in out.templates.items()},
        "manifest": None if out.manifest is None else out.manifest.decode("utf-8", "surrogateescape"),
        "missing": out.missing,
        "docker_images": out.docker_images,
    }


def from_frame(data: Any) -> Outputs:
    """Outputs from a result frame's ``outputs`` (written by untrusted code: types are checked)."""
    out = Outputs()
    if not isinstance(data, dict):
        return out

    def raw(text: str) -> bytes:
        return text.encode("utf-8", "surrogateescape")

    templates = data.get("templates")
    if isinstance(templates, dict):
        out.templates = {
            k: raw(v)[:MAX_TEMPLATE]
            for k, v in templates.items()
            if isinstance(k, str) and isinstance(v, str)
        }
    if isinstance(data.get("manifest"), str):
        out.manifest = raw(data["manifest"])[:MAX_TEMPLATE]
    for name in ("missing", "docker_images"):
        items = data.get(name)
        if isinstance(items, list):
            setattr(out, name, [str(i)[:500] for i in items[:1000]])
    return out


def deprecations(log: bytes) -> list[str]:
    """jsii deprecation warnings printed during synth, e.g. ``aws_dynamodb.TableOptions#pointInTimeRecovery``."""
    seen: list[str] = []
    for found in _DEPRECATION.finditer(log.decode(errors="replace")):
        text = f"{found.group(1).rstrip(',.')} is deprecated"
        if text not in seen:
            seen.append(text)
    return seen


def write_outputs(
    dest: Path, outputs: Outputs, lint: dict[str, list[dict[str, Any]]] | None
) -> dict[str, str]:
    """Write templates/, manifest.json, synth.log (and lint.json) into the sample's folder."""
    dest.mkdir(parents=True, exist_ok=True)
    templates: dict[str, str] = {}
    if outputs.templates:
        (dest / "templates").mkdir(exist_ok=True)
    for name, data in sorted(outputs.templates.items()):
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        rel = f"templates/{safe}.template.json"
        (dest / rel).write_bytes(data)
        templates[name] = rel
    if outputs.manifest is not None:
        (dest / "manifest.json").write_bytes(outputs.manifest)
    (dest / "synth.log").write_bytes(outputs.log)
    if lint is not None:
        (dest / "lint.json").write_text(json.dumps(lint, indent=2, sort_keys=True) + "\n")
    return templates
