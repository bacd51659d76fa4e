"""Find the answers to grade and read them safely.

``discover`` turns the PATH arguments into :class:`Sample` objects (one per answer file) and
understands the corpus task layout (``<task>/lib/MODEL_RESPONSE.md`` beside ``cdk.json``,
``tap.py`` and ``metadata.json``). ``read_answer`` reads one answer's text. Neither raises on
bad input: a path that cannot be used becomes a Sample with ``status="error"`` and a message.

Symlinks. The folders being graded are data, often unpacked from an archive someone else made,
so a link in them must not make the grader read (and copy into reports) files elsewhere on the
machine:

- A path named on the command line is used even when it is a symlink: the user named it.
- A folder search does not descend into directory symlinks (like ``find``, ``rg`` and ``git``),
  so link loops cannot hang it and linked folders cannot yield the same answer twice. To grade
  a linked folder, name it on the command line.
- An answer file found by the search that is a symlink is read only when its target lies inside
  one of the named folders (or is a named file); otherwise it becomes an error Sample saying so,
  and the batch goes on.
- A task folder's own files (``cdk.json``, ``metadata.json``, the scaffold ``tap.py`` ...) are
  used only when they are regular files, never symlinks, whether they point inside the task or
  out of it (the workspace copies regular files only); each one skipped is a Sample warning.

These checks are made by ``discover``; ``read_answer`` reads the path it was given.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import shlex
import stat
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Literal

from iacgrade.graders.defaults import ANSWER_PATTERN, MAX_ANSWER_BYTES
from iacgrade.graders.extract import safe_relpath
from iacgrade.graders.models import Sample

__all__ = ["NoAnswersFound", "discover", "read_answer", "scaffold_of"]

_SKIP_DIRS = frozenset({".venv", "venv", "node_modules", ".git", "__pycache__", "cdk.out"})
_TASK_MARKERS = ("cdk.json", "tap.py", "metadata.json")
# Entry files a scaffold may carry even when cdk.json names another one.
_ENTRY_NAMES = ("tap.py", "app.py", "main.py", "bin/tap.ts", "bin/tap.mjs", "bin/tap.js")
_BINARY_SAMPLE = 8192


class NoAnswersFound(ValueError):
    """A folder named to be graded holds no file matching the pattern (``discover(strict=True)``)."""


def discover(paths: list[Path], *, pattern: str = ANSWER_PATTERN, strict: bool = False) -> list[Sample]:
    """Return one Sample per answer file found under ``paths``.

    A file is one sample; a folder is searched recursively (sorted, skipping .venv,
    node_modules and .git, not descending into directory symlinks) for files whose name matches
    ``pattern``. Missing paths, folders without matches and symlinked answers that point outside
    the named paths become error Samples instead of raising (see the module docstring); with
    ``strict``, a folder without matches raises :class:`NoAnswersFound` naming the pattern.
    """
    found: list[tuple[Path, Path, str]] = []  # (file, PATH argument, id relative to it)
    errors: list[Sample] = []
    named_dirs: list[Path] = []
    named_files: set[str] = set()
    for arg in paths:
        arg = Path(arg)
        if arg.is_dir():
            files, linked_dirs = _walk(arg, pattern)
            if not files and strict:
                raise NoAnswersFound(_no_match_message(arg, pattern, linked_dirs))
            if not files:
                errors.append(_error_sample(arg, _no_match_message(arg, pattern, linked_dirs)))
            found.extend((f, arg, _strip_md(f.relative_to(arg).as_posix())) for f in files)
            if (real := _real(arg)) is not None:
                named_dirs.append(real)
        elif arg.is_file():
            found.append((arg, arg, _strip_md(arg.name)))
            named_files.add(_key(arg))
        else:
            errors.append(_error_sample(arg, f"{_missing_reason(arg)}: {arg}"))
    ids = _unique_ids(found)
    by_path = {_key(f): sid for (f, _, _), sid in zip(found, ids, strict=True)}
    tasks: dict[Path, _Task] = {}  # a task folder is described once for all its answers
    samples = []
    for (f, arg, _), sid in zip(found, ids, strict=True):
        refusal = None if f == arg else _link_refusal(f, named_dirs, named_files)
        if refusal:
            samples.append(_refused_link_sample(f, sid, refusal))
        else:
            sample = _build_sample(f, sid, by_path, tasks)
            # Found by a folder search as a plain file: it must still be one when it is read.
            sample.follow_link = f == arg or f.is_symlink()
            samples.append(sample)
    return samples + errors


def read_answer(sample: Sample, *, max_bytes: int = MAX_ANSWER_BYTES) -> str | None:
    """Return the answer's text with line endings normalised to ``\\n``, or None on error.

    On a problem (unreadable, empty, binary, larger than ``max_bytes``) ``sample.status`` is
    set to ``"error"`` with a clear ``sample.error``. Invalid UTF-8 is decoded with
    replacement characters and noted in ``sample.warnings``.
    """
    if sample.status == "error":
        return None
    if sample.text is not None:  # a dataset row or a library call: the text came with the sample
        given = sample.text.encode("utf-8", errors="surrogatepass")
        read = _sized(sample, given, max_bytes, f"{len(given)} bytes > limit {max_bytes}")
    else:
        read = _read_bytes(sample, max_bytes)
    if read is None:
        return None
    data = read
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data[:_BINARY_SAMPLE] or mostly_binary(data[:_BINARY_SAMPLE]):
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


def _walk(root: Path, pattern: str) -> tuple[list[Path], list[Path]]:
    """Files under ``root`` matching ``pattern``, sorted, pruning tool and VCS folders; and the
    directory symlinks the walk did not descend into."""
    out: list[Path] = []
    linked: list[Path] = []
    # followlinks=False: a linked folder is listed in dirnames but never entered, so no loops.
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda _e: None, followlinks=False):
        kept = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        linked.extend(Path(dirpath) / d for d in kept if (Path(dirpath) / d).is_symlink())
        dirnames[:] = kept
        out.extend(Path(dirpath) / n for n in filenames if fnmatch(n, pattern))
    return sorted(out, key=lambda p: p.relative_to(root).as_posix()), linked


def _no_match_message(root: Path, pattern: str, linked_dirs: list[Path]) -> str:
    message = f"no files matching {pattern!r} under {root}"
    if linked_dirs:
        names = ", ".join(p.relative_to(root).as_posix() for p in linked_dirs[:3])
        more = f" and {len(linked_dirs) - 3} more" if len(linked_dirs) > 3 else ""
        message += (
            f" (directory symlinks are not followed: {names}{more};"
            " name a linked folder on the command line to grade it)"
        )
    return message


def _missing_reason(path: Path) -> str:
    if path.is_symlink():  # exists() is False for a dangling or looping link
        return "broken or looping symlink"
    return "no such file or directory" if not path.exists() else "not a regular file"


def _real(path: Path) -> Path | None:
    """The path with every symlink resolved, or None for a link loop."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: symlink loop (Python < 3.13)
        return None


def _link_refusal(path: Path, named_dirs: list[Path], named_files: set[str]) -> str | None:
    """Why a found answer may not be read, or None: no symlink, or its target is in what the user named."""
    if not path.is_symlink():
        return None
    real = _real(path)
    if real is None:
        return "a symlink loop"
    if str(real) in named_files or any(real.is_relative_to(d) for d in named_dirs):
        return None
    return (
        "a symlink to a file outside the folders being graded;"
        " name the file itself on the command line to grade it"
    )


def _refused_link_sample(path: Path, sample_id: str, reason: str) -> Sample:
    return Sample(
        sample_id=sample_id,
        source=str(path),
        role=_role(path.name),
        status="error",
        error=f"answer not read: {path} is {reason}",
    )


def _strip_md(name: str) -> str:
    return name[:-3] if name.lower().endswith(".md") else name


def _key(path: Path) -> str:
    real = _real(path)
    return str(real) if real is not None else str(path.absolute())


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


def _build_sample(path: Path, sample_id: str, by_path: dict[str, str], tasks: dict[Path, _Task]) -> Sample:
    sample = Sample(sample_id=sample_id, source=str(path), role=_role(path.name))
    try:
        sample.size_bytes = path.stat().st_size
    except OSError:
        pass
    root = _task_root(path)
    if root is not None:
        task = tasks.get(root)
        if task is None:
            task = tasks[root] = _describe_task(root)
        task.apply(sample)
        _link_reference(sample, path, by_path)
    return sample


def _role(name: str) -> Literal["model", "ideal", "other"]:
    upper = name.upper()
    if "MODEL_RESPONSE" in upper:
        return "model"
    if "IDEAL_RESPONSE" in upper:
        return "ideal"
    return "other"


def scaffold_of(folder: Path) -> tuple[list[str], str | None]:
    """The scaffold files of a folder given with ``--scaffold``, and the entry its cdk.json names.

    The folder may itself be a symlink (the user named it); symlinks inside it are left out, as
    in a task folder.
    """
    entry = _entry_from_cdk_json(folder)
    return _scaffold_files(folder, entry), entry


def _task_root(path: Path) -> Path | None:
    """The task folder around an answer: ``<task>/lib/X.md`` or a folder with task markers."""
    parent = path.parent
    candidates = [parent.parent, parent] if parent.name == "lib" else [parent]
    for folder in candidates:
        # A linked marker still marks the task (nothing is read to see it); _describe_task then
        # says it was left out.
        if any((folder / m).is_file() or (folder / m).is_symlink() for m in _TASK_MARKERS):
            return folder
    return None


@dataclass(frozen=True)
class _Task:
    """What a task folder gives each of its answers (read once per folder in a discovery)."""

    root: str
    task_id: str
    metadata: dict[str, Any]
    entry_file: str | None
    scaffold_files: list[str]
    warnings: list[str]

    def apply(self, sample: Sample) -> None:
        sample.task_root, sample.task_id = self.root, self.task_id
        sample.metadata = copy.deepcopy(self.metadata)  # each answer its own, as if read for it
        sample.entry_file = self.entry_file
        sample.scaffold_files = list(self.scaffold_files)
        sample.warnings.extend(self.warnings)


def _describe_task(root: Path) -> _Task:
    warnings: list[str] = []
    resolved = root.resolve()
    metadata = _read_metadata(root, warnings)
    entry = _entry_from_cdk_json(root)
    if entry and _linked_part(root, entry) is None and not _task_file(root, entry):
        warnings.append(f"cdk.json names {entry}, which the task folder does not have")
    scaffold_files = _scaffold_files(root, entry)
    warnings.extend(_linked_task_files(root, entry))
    return _Task(str(resolved), resolved.name, metadata, entry, scaffold_files, warnings)


def _read_metadata(root: Path, warnings: list[str]) -> dict[str, Any]:
    if not _task_file(root, "metadata.json"):
        return {}
    try:
        data = json.loads((root / "metadata.json").read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError) as exc:
        warnings.append(f"metadata.json could not be read: {exc}")
        return {}
    return data if isinstance(data, dict) else {}


def _entry_from_cdk_json(root: Path) -> str | None:
    """The .py file named by cdk.json's ``app`` command, e.g. ``pipenv run python3 bin/tap.py``."""
    if not _task_file(root, "cdk.json"):
        return None
    try:
        text = (root / "cdk.json").read_text(encoding="utf-8", errors="replace")
        app = json.loads(text).get("app")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(app, str):
        return None
    try:
        words = shlex.split(app)
    except ValueError:
        words = app.split()
    for word in words:
        if word.endswith((".py", ".ts", ".js", ".mjs", ".cjs")) and "=" not in word:
            return safe_relpath(word)
    return None


def _linked_part(root: Path, rel: str) -> Path | None:
    """The first symlink on the way from ``root`` to ``root/rel`` (``bin`` in ``bin/tap.py``)."""
    path = root
    for part in Path(rel).parts:
        path = path / part
        if path.is_symlink():
            return path
    return None


def _task_file(root: Path, rel: str) -> bool:
    """A real file of the task: no symlink on its way, so reading it cannot leave the task."""
    return _linked_part(root, rel) is None and (root / rel).is_file()


def _scaffold_candidates(root: Path, entry: str | None) -> set[str]:
    """cdk.json, the entry it names, the usual entry names and the package markers of bin/ and lib/.

    Never the task's other modules: a task folder can keep its reference stack in
    ``lib/tap_stack.py``, and laying that under an answer would grade the reference's code.
    """
    return {"cdk.json", *_ENTRY_NAMES, *([entry] if entry else []), "bin/__init__.py", "lib/__init__.py"}


def _scaffold_files(root: Path, entry: str | None) -> list[str]:
    return sorted(n for n in _scaffold_candidates(root, entry) if _task_file(root, n))


def _linked_task_files(root: Path, entry: str | None) -> list[str]:
    """One warning per task file (metadata.json or a scaffold candidate) left out as a symlink."""
    real_root = _real(root)
    warnings = []
    for name in sorted(_scaffold_candidates(root, entry) | {"metadata.json"}):
        link = _linked_part(root, name)
        if link is None:
            continue
        real = _real(root / name)
        inside = real is not None and real_root is not None and real.is_relative_to(real_root)
        what = "it" if link == root / name else link.relative_to(root).as_posix()
        where = "inside" if inside else "outside"
        warnings.append(f"task file {name} not used: {what} is a symlink (to {where} the task folder)")
    return warnings


def _link_reference(sample: Sample, path: Path, by_path: dict[str, str]) -> None:
    """Point a MODEL answer at the IDEAL answer beside it."""
    if sample.role != "model":
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
        # O_NONBLOCK and fstat: a FIFO swapped in after the check above cannot block the open;
        # O_NOFOLLOW: nor can a symlink swapped in for a file that was plain when it was found.
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if sample.follow_link else os.O_NOFOLLOW)
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                _fail(sample, f"cannot read answer (not a regular file): {path}")
                return None
            if info.st_size > max_bytes:
                _fail(sample, f"answer too large: {info.st_size} bytes > limit {max_bytes}")
                return None
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not sample.follow_link:
            _fail(sample, f"answer not read: {path} became a symlink after it was found")
        else:
            _fail(sample, f"cannot read answer: {exc.strerror or exc}: {path}")
        return None
    return _sized(sample, data, max_bytes, f"more than {max_bytes} bytes")  # it may have grown


def _sized(sample: Sample, data: bytes, max_bytes: int, too_large: str) -> bytes | None:
    """``data`` when it is within the limit and not blank (recording its size), else None."""
    if len(data) > max_bytes:
        _fail(sample, f"answer too large: {too_large}")
        return None
    if not data.strip():
        _fail(sample, f"empty answer: {sample.source}")
        return None
    sample.size_bytes = len(data)
    return data


def mostly_binary(head: bytes) -> bool:
    """More than 10% control bytes (other than whitespace) means it is not text."""
    if not head:
        return False
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return control / len(head) > 0.10


# Bytes under 32 but tab, newline, form feed and carriage return.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))
