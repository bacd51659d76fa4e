"""Find the answers to grade and read them safely.

``discover`` turns the PATH arguments into :class:`Sample` objects (one per answer file) and
understands the corpus task layout (``<task>/lib/MODEL_RESPONSE.md`` beside ``cdk.json``,
``tap.py`` and ``metadata.json``). ``read_answer`` reads one answer's text. Neither raises on
bad input: a path that cannot be used becomes a Sample with ``status="error"`` and a message.
"""

from __future__ import annotations

import json
import os
import shlex
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Literal

from graders.extract import safe_relpath
from graders.models import Sample

__all__ = ["discover", "read_answer", "scaffold_of"]

_SKIP_DIRS = frozenset({".venv", "venv", "node_modules", ".git", "__pycache__", "cdk.out"})
_TASK_MARKERS = ("cdk.json", "tap.py", "metadata.json")
# Entry files a scaffold may carry even when cdk.json names another one.
_ENTRY_NAMES = ("tap.py", "app.py", "main.py")
_BINARY_SAMPLE = 8192


def discover(paths: list[Path], *, pattern: str = "*RESPONSE*.md") -> list[Sample]:
    """Return one Sample per answer file found under ``paths``.

    A file is one sample; a folder is searched recursively (sorted, skipping .venv,
    node_modules and .git) for files whose name matches ``pattern``. Missing paths and
    folders without matches become error Samples instead of raising.
    """
    found: list[tuple[Path, Path, str]] = []  # (file, PATH argument, id relative to it)
    errors: list[Sample] = []
    for arg in paths:
        arg = Path(arg)
        if arg.is_dir():
            files = _walk(arg, pattern)
            if not files:
                errors.append(_error_sample(arg, f"no files matching {pattern!r} under {arg}"))
            found.extend((f, arg, _strip_md(f.relative_to(arg).as_posix())) for f in files)
        elif arg.is_file():
            found.append((arg, arg, _strip_md(arg.name)))
        else:
            reason = "no such file or directory" if not arg.exists() else "not a regular file"
            errors.append(_error_sample(arg, f"{reason}: {arg}"))
    ids = _unique_ids(found)
    by_path = {_key(f): sid for (f, _, _), sid in zip(found, ids, strict=True)}
    samples = [_build_sample(f, sid, by_path) for (f, _, _), sid in zip(found, ids, strict=True)]
    return samples + errors


def read_answer(sample: Sample, *, max_bytes: int = 5_000_000) -> str | None:
    """Return the answer's text with line endings normalised to ``\\n``, or None on error.

    On a problem (unreadable, empty, binary, larger than ``max_bytes``) ``sample.status`` is
    set to ``"error"`` with a clear ``sample.error``. Invalid UTF-8 is decoded with
    replacement characters and noted in ``sample.warnings``.
    """
    if sample.status == "error":
        return None
    data = _read_bytes(sample, max_bytes)
    if data is None:
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data[:_BINARY_SAMPLE] or _mostly_binary(data[:_BINARY_SAMPLE]):
        _fail(sample, f"binary file, not markdown: {sample.source}")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        sample.warnings.append(
            f"invalid UTF-8 (first bad byte at offset {exc.start}); decoded with replacement characters"
        )
    if "\x00" in text:
        _fail(sample, f"binary file, not markdown (NUL bytes): {sample.source}")
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        _fail(sample, f"empty answer: {sample.source}")
        return None
    return text


# --- discovery helpers -------------------------------------------------------------------


def _walk(root: Path, pattern: str) -> list[Path]:
    """Files under ``root`` matching ``pattern``, sorted, pruning tool and VCS folders."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda _e: None):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        out.extend(Path(dirpath) / n for n in filenames if fnmatch(n, pattern))
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def _strip_md(name: str) -> str:
    return name[:-3] if name.lower().endswith(".md") else name


def _key(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path.absolute())


def _unique_ids(found: list[tuple[Path, Path, str]]) -> list[str]:
    """Ids as found; on a clash between PATH arguments, prefix the argument's name."""
    counts: dict[str, int] = {}
    for _, _, sid in found:
        counts[sid] = counts.get(sid, 0) + 1
    ids: list[str] = []
    seen: set[str] = set()
    for _, arg, sid in found:
        if counts[sid] > 1:
            prefix = arg.resolve().name if arg.is_dir() else arg.resolve().parent.name
            sid = f"{prefix or 'input'}/{sid}"
        base, n = sid, 2
        while sid in seen:  # same argument name twice: number the later ones
            sid, n = f"{base}~{n}", n + 1
        seen.add(sid)
        ids.append(sid)
    return ids


def _error_sample(path: Path, message: str) -> Sample:
    return Sample(
        sample_id=_strip_md(path.name) or str(path), source=str(path), status="error", error=message
    )


def _build_sample(path: Path, sample_id: str, by_path: dict[str, str]) -> Sample:
    sample = Sample(sample_id=sample_id, source=str(path), kind=_kind(path.name))
    try:
        sample.size_bytes = path.stat().st_size
    except OSError:
        pass
    root = _task_root(path)
    if root is not None:
        _describe_task(sample, root)
        _link_reference(sample, path, by_path)
    return sample


def _kind(name: str) -> Literal["model", "ideal", "other"]:
    upper = name.upper()
    if "MODEL_RESPONSE" in upper:
        return "model"
    if "IDEAL_RESPONSE" in upper:
        return "ideal"
    return "other"


def scaffold_of(folder: Path) -> tuple[list[str], str | None]:
    """The scaffold files of a folder given with ``--scaffold``, and the entry its cdk.json names."""
    entry = _entry_from_cdk_json(folder / "cdk.json")
    return _scaffold_files(folder, entry), entry


def _task_root(path: Path) -> Path | None:
    """The task folder around an answer: ``<task>/lib/X.md`` or a folder with task markers."""
    parent = path.parent
    candidates = [parent.parent, parent] if parent.name == "lib" else [parent]
    for folder in candidates:
        if any((folder / m).is_file() for m in _TASK_MARKERS):
            return folder
    return None


def _describe_task(sample: Sample, root: Path) -> None:
    sample.task_root = str(root.resolve())
    sample.task_id = root.resolve().name
    sample.metadata = _read_metadata(root / "metadata.json", sample)
    sample.entry_file = _entry_from_cdk_json(root / "cdk.json")
    if sample.entry_file and not _regular_file(root / sample.entry_file):
        sample.warnings.append(f"cdk.json names {sample.entry_file}, which the task folder does not have")
    sample.scaffold_files = _scaffold_files(root, sample.entry_file)


def _read_metadata(path: Path, sample: Sample) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError) as exc:
        sample.warnings.append(f"metadata.json could not be read: {exc}")
        return {}
    return data if isinstance(data, dict) else {}


def _entry_from_cdk_json(path: Path) -> str | None:
    """The .py file named by cdk.json's ``app`` command, e.g. ``pipenv run python3 bin/tap.py``."""
    try:
        app = json.loads(path.read_text(encoding="utf-8", errors="replace")).get("app")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(app, str):
        return None
    try:
        words = shlex.split(app)
    except ValueError:
        words = app.split()
    for word in words:
        if word.endswith(".py") and "=" not in word:
            return safe_relpath(word)
    return None


def _regular_file(path: Path) -> bool:
    """A real file: not a symlink, so copying it cannot read outside the task."""
    return path.is_file() and not path.is_symlink()


def _scaffold_files(root: Path, entry: str | None) -> list[str]:
    names = {"cdk.json", *_ENTRY_NAMES}
    if entry:
        names.add(entry)
    files = {n for n in names if _regular_file(root / n)}
    for folder in ("bin", "lib"):
        if (root / folder).is_dir() and not (root / folder).is_symlink():
            files.update(f"{folder}/{p.name}" for p in (root / folder).glob("*.py") if _regular_file(p))
    return sorted(files)


def _link_reference(sample: Sample, path: Path, by_path: dict[str, str]) -> None:
    """Point a MODEL answer at the IDEAL answer beside it."""
    if sample.kind != "model":
        return
    name = path.name
    index = name.upper().find("MODEL_RESPONSE")
    ideal = path.with_name(name[:index] + "IDEAL_RESPONSE" + name[index + len("MODEL_RESPONSE") :])
    if not ideal.is_file():
        return
    sample.reference_path = str(ideal)
    own = sample.sample_id
    default_id = own[: len(own) - len(_strip_md(name))] + _strip_md(ideal.name)
    sample.reference_id = by_path.get(_key(ideal), default_id)


# --- reading helpers ---------------------------------------------------------------------


def _fail(sample: Sample, message: str) -> None:
    sample.status = "error"
    sample.error = message


def _read_bytes(sample: Sample, max_bytes: int) -> bytes | None:
    path = Path(sample.source)
    try:
        if not path.is_file():
            reason = "no such file" if not path.exists() else "not a regular file"
            _fail(sample, f"cannot read answer ({reason}): {path}")
            return None
        size = path.stat().st_size
        if size > max_bytes:
            _fail(sample, f"answer too large: {size} bytes > limit {max_bytes}")
            return None
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        _fail(sample, f"cannot read answer: {exc.strerror or exc}: {path}")
        return None
    if len(data) > max_bytes:  # grew while we read it
        _fail(sample, f"answer too large: more than {max_bytes} bytes")
        return None
    if not data.strip():
        _fail(sample, f"empty answer: {path}")
        return None
    sample.size_bytes = len(data)
    return data


def _mostly_binary(head: bytes) -> bool:
    """More than 10% control bytes (other than whitespace) means it is not text."""
    if not head:
        return False
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return control / len(head) > 0.10
