"""Content-addressed result cache and resume: an unchanged answer is never synthesized twice.

The key of an answer is a hash of everything that decides its result: the files extracted from
it (paths, languages, fence lines, content, skipped blocks and notes), the scaffold's files, the
task metadata and prompt the checks can read, the reviewer's report the result judges, the rubric's digest, the grader's version and source, the
aws-cdk-lib version and the options that change a result (synth on/off, the timeout; not the
isolation mode, which only changes how strongly it is separated).

An entry is a copy of the answer's whole output folder (result.json, templates, logs, files)
under ``<cache_dir>/v1/<key[:2]>/<key>/data`` plus an ``entry.json`` that lists its files. It is
published with one rename, so a reader sees a whole entry or none; an entry that fails its check
(bad JSON, a missing or truncated file, another key) is deleted and graded again. Its files are
read-only, and a hit hard-links them into the run folder (a copy when the two folders are on
different file systems): a cached re-grade of a corpus then writes no file's bytes twice. Every
file the grader rewrites in a run folder (result.json, report.md) is replaced by a rename, which
leaves the entry's file as it was.

Finding the key needs the extraction, which is most of the work of a cached run. So each entry
also gets a small alias under ``<cache_dir>/v1/by-text/``: the hash of the answer's text and the
same context (grader source included, so the extractor's version too) names the content key and
the extraction's notes. An unchanged answer is then found without being extracted again; a
missing or stale alias only means the long way.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iacgrade.graders import __version__
from iacgrade.graders.models import Extraction, Sample, SampleResult
from iacgrade.graders.prompt import read_prompt
from iacgrade.graders.reviewer import reviewer_report
from iacgrade.graders.store import read_result, write_json_atomic

CACHE_FORMAT = 1
# Rendered from the result after every run (it depends on the reference answer too), never cached.
_NOT_CACHED = frozenset({"report.md"})

__all__ = ["ResultCache", "Reuse", "code_digest", "content_hash", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$IACGRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/iacgrade``, else ``~/.cache/iacgrade``."""
    if os.environ.get("IACGRADE_CACHE_DIR"):
        return Path(os.environ["IACGRADE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "iacgrade"


def build_in_child(module: str, *args: str, timeout: float = 300.0) -> None:
    """Run ``python -m <module> <args>``, the builder of a file derived from an installed package
    (kept under `default_cache_dir`, made once per package version), and wait for it. A builder
    that fails leaves no file: the caller reads none and does the work itself."""
    import subprocess
    import sys

    try:
        subprocess.run(
            [sys.executable, "-m", module, *args], check=False, timeout=timeout, capture_output=True
        )
    except (OSError, subprocess.SubprocessError):
        pass


@functools.cache
def code_digest() -> str:
    """Digest of the grader's own files (checks, sandbox driver...), so a change invalidates cached results."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@functools.cache
def tool_versions() -> dict[str, str | None]:
    """Versions of what else decides a result: Python (ast), the parsers and checkers we call."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in (
        "constructs",
        "cfn-lint",
        "pyflakes",
        "markdown-it-py",
        "tree-sitter",
        "tree-sitter-typescript",
    ):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def content_hash(
    sample: Sample,
    extraction: Extraction,
    *,
    rubric_version: str,
    cdk_version: str | None,
    settings: dict[str, Any],
) -> str:
    """The cache key of one answer: sha256 of a canonical JSON of what decides its result."""
    return _extraction_digest(_context(sample, rubric_version, cdk_version, settings), extraction)


def _extraction_digest(context: dict[str, Any], extraction: Extraction) -> str:
    files = [{**f.model_dump(mode="json"), "content": f.content} for f in extraction.files]
    skipped = [b.model_dump(mode="json") for b in extraction.skipped]
    return _digest({**context, "files": files, "skipped": skipped, "notes": extraction.notes})


def _text_digest(context: dict[str, Any], text: str) -> str:
    """The alias key of one answer: its markdown text in place of what the extractor makes of it.

    The extractor's source is part of ``code_digest``, so the same text gives the same
    extraction, and this names the same entry as `content_hash`.
    """
    return _digest({**context, "text": text})


def _context(
    sample: Sample, rubric_version: str, cdk_version: str | None, settings: dict[str, Any]
) -> dict[str, Any]:
    """What decides a result besides the answer itself."""
    return {
        "format": CACHE_FORMAT,
        "grader": [__version__, code_digest()],
        "tools": tool_versions(),
        "rubric": rubric_version,
        "cdk": cdk_version,
        "settings": settings,
        "sample": {
            "role": sample.role,
            "kind": sample.kind,
            "entry_file": sample.entry_file,
            "metadata": sample.metadata,
        },
        "scaffold": _scaffold_digest(sample),
        "prompt": hashlib.sha256((read_prompt(sample) or "").encode("utf-8")).hexdigest(),
        "reviewer": hashlib.sha256((reviewer_report(sample) or "").encode("utf-8")).hexdigest(),
        "region": _task_region(sample),
    }


def _task_region(sample: Sample) -> str:
    """The task's region (lib/AWS_REGION): a CloudFormation answer is linted for it."""
    from iacgrade.graders.kinds.cloudformation import task_region

    return task_region(sample)


def _digest(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _scaffold_digest(sample: Sample) -> dict[str, str]:
    if not sample.task_root:
        return {}
    root = Path(sample.task_root)
    digests: dict[str, str] = {}
    for rel in sorted(sample.scaffold_files):
        try:
            digests[rel] = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        except OSError:
            digests[rel] = "missing"
    return digests


def _link_files(src: str, dest: str, files: list[str]) -> None:
    """A cache entry's files (paths relative to ``src``, as its entry.json lists them) into the
    run folder ``dest``: each a hard link, else (another file system, a link count at its
    limit) a copy."""
    made: set[str] = set()
    for rel in files:
        folder = os.path.dirname(rel)
        if folder not in made:
            os.makedirs(os.path.join(dest, folder), exist_ok=True)
            made.add(folder)
        try:
            os.link(os.path.join(src, rel), os.path.join(dest, rel))
        except OSError:
            shutil.copy2(os.path.join(src, rel), os.path.join(dest, rel))


def rebind(result: SampleResult, sample: Sample, notes: list[str]) -> SampleResult:
    """A reused result with this run's identity: sample id, source path, task, reference, warnings."""
    return result.model_copy(
        update={
            "sample_id": sample.sample_id,
            "source": sample.source,
            "task_id": sample.task_id,
            "role": sample.role,
            "reference_id": sample.reference_id,
            "row_id": sample.row_id,
            "row_fields": dict(sample.row_fields),
            "warnings": list(sample.warnings) + list(notes),
        }
    )


class ResultCache:
    """Entries keyed by content hash under ``root``; every operation is best effort and never raises."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.base = self.root / f"v{CACHE_FORMAT}"

    def entry_dir(self, key: str) -> Path:
        return self.base / key[:2] / key

    def get(self, key: str, dest: Path) -> SampleResult | None:
        """Link a valid entry's files into ``dest`` (replacing it) and return its result, else None."""
        entry = self.entry_dir(key)
        if not entry.is_dir():
            return None
        found = self._validate(entry, key)
        if found is None:
            shutil.rmtree(entry, ignore_errors=True)  # corrupt: drop it so this run rebuilds it
            return None
        result, files = found
        try:
            if dest.exists():
                shutil.rmtree(dest)
            _link_files(str(entry / "data"), str(dest), files)
        except OSError:
            return None
        return result

    def put(self, key: str, src: Path, result: SampleResult, *, replace: bool = False) -> bool:
        """Store a copy of the output folder ``src``; False when it could not (the run goes on).

        An existing entry is kept, unless ``replace`` (``--no-cache`` grades afresh and refreshes)."""
        entry = self.entry_dir(key)
        if entry.is_dir() and not replace:
            return True
        staging = self.base / "tmp" / f"{key}-{uuid.uuid4().hex[:8]}"
        try:
            staging.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(
                src, staging / "data", ignore=lambda _d, names: [n for n in names if n in _NOT_CACHED]
            )
            files = {}
            for p in sorted((staging / "data").rglob("*")):
                if p.is_file():
                    p.chmod(0o444)  # a hit links it into a run folder: an edit there must not reach here
                    files[p.relative_to(staging / "data").as_posix()] = p.stat().st_size
            write_json_atomic(
                staging / "entry.json",
                {"format": CACHE_FORMAT, "key": key, "sample_id": result.sample_id, "files": files},
            )
            entry.parent.mkdir(parents=True, exist_ok=True)
            if replace and entry.is_dir():
                old = self.base / "tmp" / f"old-{key}-{uuid.uuid4().hex[:8]}"
                os.rename(entry, old)  # a reader in between finds no entry and grades the answer
                shutil.rmtree(old, ignore_errors=True)
            os.rename(staging, entry)  # atomic publish; fails if another worker won the race
            return True
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            return entry.is_dir()

    def alias_path(self, text_key: str) -> Path:
        return self.base / "by-text" / text_key[:2] / f"{text_key}.json"

    def alias(self, text_key: str) -> tuple[str, list[str]] | None:
        """The content key and extraction notes an answer text was last stored under, else None."""
        try:
            data = json.loads(self.alias_path(text_key).read_text(encoding="utf-8"))
            key, notes = data["key"], data["notes"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if (
            not isinstance(key, str)
            or not isinstance(notes, list)
            or not all(isinstance(n, str) for n in notes)
        ):
            return None
        return key, notes

    def put_alias(self, text_key: str, key: str, notes: list[str]) -> None:
        try:
            write_json_atomic(self.alias_path(text_key), {"key": key, "notes": notes})
        except OSError:
            pass  # only the shortcut is lost

    @staticmethod
    def _validate(entry: Path, key: str) -> tuple[SampleResult, list[str]] | None:
        """The entry's result and files, when it is whole: its files all there at their sizes."""
        try:
            meta = json.loads((entry / "entry.json").read_text(encoding="utf-8"))
            if meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
                return None
            data = f"{entry}/data/"
            for rel, size in meta["files"].items():
                if rel.startswith("/") or ".." in rel.split("/") or os.stat(data + rel).st_size != size:
                    return None  # a path out of the entry is not one this cache wrote
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        result = read_result(entry / "data" / "result.json")
        if result is None or result.content_hash != key:
            return None
        return result, list(meta["files"])


@dataclass
class Reuse:
    """Decides, for one answer, whether its result can be kept (resume) or copied (cache hit).

    ``enabled=False`` (``--no-cache``) grades every answer afresh, reusing nothing, and writes
    the fresh results over their cache entries.
    ``how`` records, per sample id, whether it was ``graded``, taken from the ``cache`` or
    kept by ``resume``.
    """

    cache: ResultCache | None
    settings: dict[str, Any]
    rubric_version: str
    cdk_version: str | None
    enabled: bool = True
    how: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def context(self, sample: Sample) -> dict[str, Any]:
        """What decides the answer's result besides its own text: computed once per answer and
        given to `text_key` and `key` (it reads the prompt and hashes the scaffold)."""
        return _context(sample, self.rubric_version, self.cdk_version, self.settings)

    def key(self, context: dict[str, Any], extraction: Extraction) -> str:
        return _extraction_digest(context, extraction)

    def text_key(self, context: dict[str, Any], text: str) -> str:
        return _text_digest(context, text)

    def find_by_text(self, sample: Sample, text_key: str, out_dir: Path) -> SampleResult | None:
        """`find` through the answer text's alias, before (and instead of) extracting it."""
        if not self.enabled or self.cache is None:
            return None
        alias = self.cache.alias(text_key)
        return None if alias is None else self.find(sample, alias[1], alias[0], out_dir)

    def find(
        self, sample: Sample, notes: list[str], key: str, out_dir: Path, text_key: str | None = None
    ) -> SampleResult | None:
        """The answer's result without grading it, written into ``out_dir``; None when it must be graded.

        ``notes`` are the extraction's notes, which join the sample's own warnings. With
        ``text_key``, a hit also points the answer text's alias at ``key`` (the text changed, not
        what it extracts to)."""
        if not self.enabled:
            return None
        kept = read_result(out_dir / "result.json")
        how = "resume"
        if kept is None or kept.content_hash != key or kept.status != "graded":
            kept = self.cache.get(key, out_dir) if self.cache is not None else None
            how = "cache"
        if kept is None:
            return None
        result = rebind(kept, sample, notes)
        if result != kept:
            # The same answer in the same place has the very result.json it was read from (a
            # result reads back to the same JSON), so only a moved or renamed answer is written.
            write_json_atomic(out_dir / "result.json", result.model_dump(mode="json"))
        self._record(sample.sample_id, how)
        if text_key is not None and self.cache is not None:
            self.cache.put_alias(text_key, key, notes)
        return result

    def store(
        self,
        key: str | None,
        out_dir: Path,
        result: SampleResult,
        text_key: str | None = None,
        notes: list[str] | None = None,
    ) -> None:
        """Put a freshly graded answer into the cache (graded answers only; a timeout is retried).

        ``text_key`` and the extraction's ``notes`` give the entry an alias to be found by next time."""
        self._record(result.sample_id, "graded")
        if self.cache is None or key is None:
            return
        if result.status != "graded" or result.synth.status == "timeout":
            return
        if self.cache.put(key, out_dir, result, replace=not self.enabled) and text_key is not None:
            self.cache.put_alias(text_key, key, notes or [])

    def count(self, how: str) -> int:
        with self._lock:
            return sum(1 for h in self.how.values() if h == how)

    def _record(self, sample_id: str, how: str) -> None:
        with self._lock:
            self.how[sample_id] = how
