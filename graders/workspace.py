"""Lay an answer out as a project: the task's scaffold first, the answer's files over it.

Files go where the code's imports need them. When an import names a module that no file
provides (``from lib.tap_stack import TapStack`` while the answer calls its file
``tap_stack.py``), the answer file with that module's name (or, failing that, the one
non-entry file that defines every imported name) is moved there and the move recorded.
The answer's own imports are served before the scaffold's, because the answer's own entry
runs first. Installed packages (``constructs``, ``aws_cdk``, the standard library) are never
shadowed by a move.

Paths are untrusted: every path goes through ``safe_relpath``, every folder on the way is
opened without following symlinks and files are created with ``O_NOFOLLOW``, so nothing is
written outside ``dest``. Scaffold files that are symlinks are not copied. Problems become
entries in ``sample.warnings``; nothing here raises on a bad answer.
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iacgrade.graders.analysis.pyast import parse_module, walk
from iacgrade.graders.extract import safe_relpath
from iacgrade.graders.models import ExtractedFile, Extraction, FileMove, Sample, Workspace
from iacgrade.graders.paths import is_test_file

__all__ = ["assemble", "MAX_FILES", "MAX_BYTES"]

MAX_FILES = 2000
MAX_BYTES = 50 * 1024 * 1024

# Top-level modules that come from the environment; an answer file must never shadow them.
_EXTERNAL = frozenset(sys.stdlib_module_names) | {
    "aws_cdk",
    "constructs",
    "boto3",
    "botocore",
    "jsii",
    "pytest",
    "moto",
    "requests",
    "yaml",
    "typing_extensions",
    "cdk_nag",
    "aws_lambda_powertools",
    "psycopg2",
    "urllib3",
    "dateutil",
    "pydantic",
    "attr",
    "attrs",
    "six",
}
_IMPORT_RE = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import\s+([^#\n]+)|import\s+([\w.]+))", re.M)
_MAX_ROUNDS = 5


def assemble(sample: Sample, extraction: Extraction, dest: Path) -> Workspace:
    """Build the workspace for ``sample`` in ``dest`` (which must not exist or be empty).

    Scaffold files from ``sample.task_root`` are copied first, then the extracted files are
    written over them, moved where imports need them (``extraction.files`` entries get the
    new ``path`` and ``moved_from``).
    """
    dest = Path(dest)
    _prepare(dest)
    root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        return _assemble(sample, extraction, dest, root_fd)
    finally:
        os.close(root_fd)


def _prepare(dest: Path) -> None:
    if dest.is_symlink():
        raise FileExistsError(f"workspace folder is a symlink: {dest}")
    if dest.exists():
        if not dest.is_dir() or any(dest.iterdir()):
            raise FileExistsError(f"workspace folder exists and is not empty: {dest}")
    else:
        dest.mkdir(parents=True)


@dataclass
class _Plan:
    """What will be written: path -> content, and where each came from."""

    scaffold: dict[str, bytes] = field(default_factory=dict)
    answer: dict[str, ExtractedFile] = field(default_factory=dict)
    moves: list[FileMove] = field(default_factory=list)


def _assemble(sample: Sample, extraction: Extraction, dest: Path, root_fd: int) -> Workspace:
    plan = _Plan(scaffold=_read_scaffold(sample))
    for file in extraction.files:
        path = safe_relpath(file.path)
        if path is None:
            sample.warnings.append(f"unsafe path refused: {file.path[:80]!r}")
            continue
        if path != file.path:
            file.moved_from, file.path = file.path, path
        plan.answer[path] = file
    _place_by_imports(plan)
    written = _write_all(plan, root_fd, sample)
    context_source, context = _context(plan, sample)
    answer_files = sorted(p for p in plan.answer if p in written)
    scaffold_files = sorted(p for p in plan.scaffold if p in written and p not in plan.answer)
    return Workspace(
        root=str(dest),
        files=sorted(written),
        answer_files=answer_files,
        scaffold_files=scaffold_files,
        moves=plan.moves,
        context_source=context_source,
        context=context,
    )


# --- scaffold ---------------------------------------------------------------------------------


def _read_scaffold(sample: Sample) -> dict[str, bytes]:
    """Scaffold files as bytes; symlinks and anything resolving outside the task are skipped."""
    if not sample.task_root:
        return {}
    root = Path(sample.task_root)
    try:
        real_root = root.resolve(strict=True)
    except OSError:
        sample.warnings.append(f"task folder cannot be read: {root}")
        return {}
    out: dict[str, bytes] = {}
    for rel in sample.scaffold_files:
        path = safe_relpath(rel)
        src = root / path if path else None
        if src is None or not _inside(src, real_root) or src.is_symlink() or not src.is_file():
            sample.warnings.append(f"scaffold file skipped (missing, symlink or outside the task): {rel}")
            continue
        try:
            out[path] = src.read_bytes()  # type: ignore[index]
        except OSError as exc:
            sample.warnings.append(f"scaffold file unreadable: {rel}: {exc}")
    return out


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):
        return False


# --- placing files where imports need them ----------------------------------------------------


def _place_by_imports(plan: _Plan) -> None:
    """Move answer files to the module paths that imports name and nothing provides."""
    pinned: set[str] = set()
    for _ in range(_MAX_ROUNDS):
        changed = False
        importers = [(p, f.content) for p, f in plan.answer.items() if _is_app_code(p, f.content)]
        scaffold = [(p, c.decode("utf-8", "replace")) for p, c in plan.scaffold.items()]
        importers += [(p, c) for p, c in scaffold if _is_app_code(p, c)]
        for importer, source in importers:
            for module, names in _imports(importer, source):
                changed |= _satisfy(plan, module, names, importer, pinned)
        if not changed:
            return


def _is_app_code(path: str, source: str) -> bool:
    """CDK app code, whose imports synth needs; tests and Lambda handlers resolve their own."""
    if not path.endswith(".py") or is_test_file(path):
        return False
    return re.search(r"^\s*(?:from|import)\s+(?:aws_cdk|constructs)\b", source, re.M) is not None


def _imports(importer: str, source: str) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) for each import in ``source``."""
    found: list[tuple[str, list[str]]] = []
    package = importer.rsplit("/", 1)[0].replace("/", ".") if "/" in importer else ""
    for level, module, names in _raw_imports(source):
        if level:
            base = package.split(".") if package else []
            if level - 1 > len(base):
                continue
            base = base[: len(base) - (level - 1)]
            module = ".".join([*base, module] if module else base)
        if module:
            found.append((module, names))
    return found


def _raw_imports(source: str) -> list[tuple[int, str, list[str]]]:
    try:
        tree = parse_module(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _regex_imports(source)  # truncated answers still say what they import
    out: list[tuple[int, str, list[str]]] = []
    for node in walk(tree):
        if isinstance(node, ast.ImportFrom):
            out.append((node.level, node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((0, a.name, []) for a in node.names)
    return out


def _regex_imports(source: str) -> list[tuple[int, str, list[str]]]:
    out: list[tuple[int, str, list[str]]] = []
    for match in _IMPORT_RE.finditer(source):
        if match.group(3):
            out.append((0, match.group(3), []))
            continue
        dotted = match.group(1)
        level = len(dotted) - len(dotted.lstrip("."))
        names = [n.strip().split(" ")[0] for n in match.group(2).strip("() \\").split(",")]
        out.append((level, dotted.lstrip("."), [n for n in names if n.isidentifier()]))
    return out


def _satisfy(plan: _Plan, module: str, names: list[str], importer: str, pinned: set[str]) -> bool:
    """Make ``module`` importable by moving one answer file; True when something moved."""
    if module.split(".")[0] in _EXTERNAL:
        return False
    folder = importer.rsplit("/", 1)[0].replace("/", ".") + "." if "/" in importer else ""
    candidates = [module, *(f"{module}.{n}" for n in names)]  # "from pkg import mod" imports a module too
    candidates += [folder + c for c in candidates if folder]  # a script's own folder is on sys.path
    for candidate in candidates:
        provider = _provider(plan, candidate)
        if provider is not None:
            pinned.add(provider)
            return False
    target = module.replace(".", "/") + ".py"
    source = _find_source(plan, module, names, importer, pinned)
    if source is None or target in plan.answer:
        return False
    file = plan.answer.pop(source)
    file.moved_from = file.moved_from or source
    file.path = target
    plan.answer[target] = file
    pinned.add(target)
    plan.moves.append(FileMove(src=source, dst=target, reason=f"{importer} imports {module}"))
    return True


def _provider(plan: _Plan, module: str) -> str | None:
    """The planned file that provides ``module``, or a folder of that name (namespace package)."""
    base = module.replace(".", "/")
    paths = set(plan.answer) | set(plan.scaffold)
    for path in (base + ".py", base + "/__init__.py"):
        if path in paths:
            return path
    if any(p.startswith(base + "/") for p in paths):
        return base
    return None


def _find_source(plan: _Plan, module: str, names: list[str], importer: str, pinned: set[str]) -> str | None:
    stem = module.rsplit(".", 1)[-1]
    movable = [
        p
        for p in plan.answer
        if p.endswith(".py") and p not in pinned and p != importer and not is_test_file(p)
    ]
    by_stem = [p for p in movable if p.rsplit("/", 1)[-1][:-3] == stem]
    if len(by_stem) == 1:
        return by_stem[0]
    wanted = [n for n in names if n != "*"]
    if not wanted:
        return None
    defining = [
        p
        for p in movable
        if not _is_entry(plan.answer[p].content) and all(_defines(plan.answer[p].content, n) for n in wanted)
    ]
    return defining[0] if len(defining) == 1 else None


def _is_entry(source: str) -> bool:
    return bool(re.search(r"\bApp\s*\(", source) and re.search(r"\.synth\s*\(", source))


def _defines(source: str, name: str) -> bool:
    pattern = rf"^(?:class|def|async\s+def)\s+{re.escape(name)}\b|^{re.escape(name)}\s*[:=]"
    return re.search(pattern, source, re.M) is not None


# --- writing --------------------------------------------------------------------------------


def _write_all(plan: _Plan, root_fd: int, sample: Sample) -> set[str]:
    """Write scaffold then answer files, within the file and byte caps."""
    written: set[str] = set()
    total = 0
    items = [(p, c) for p, c in plan.scaffold.items()]
    items += [(p, f.content.encode("utf-8", "replace")) for p, f in plan.answer.items()]
    for path, data in items:
        if path not in written and len(written) >= MAX_FILES:
            sample.warnings.append(f"workspace file cap ({MAX_FILES}) reached; later files not written")
            break
        if total + len(data) > MAX_BYTES:
            sample.warnings.append(f"workspace size cap ({MAX_BYTES} bytes) reached; later files not written")
            break
        error = _write_file(root_fd, path, data)
        if error:
            sample.warnings.append(f"file not written: {path}: {error}")
            continue
        written.add(path)
        total += len(data)
    return written


def _write_file(root_fd: int, path: str, data: bytes) -> str | None:
    """Write ``data`` at ``path`` under ``root_fd`` without following any symlink."""
    parts = path.split("/")
    fds: list[int] = []
    try:
        fd = root_fd
        for part in parts[:-1]:
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            fds.append(fd)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        out = os.open(parts[-1], flags, 0o644, dir_fd=fd)
        with os.fdopen(out, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        for opened in fds:
            os.close(opened)
    return None


# --- cdk.json context -------------------------------------------------------------------------


def _context(plan: _Plan, sample: Sample) -> tuple[Any, dict[str, Any]]:
    """("answer", ctx) when the answer's cdk.json has a context object, else the scaffold's."""
    answer = plan.answer.get("cdk.json")
    if answer is not None:
        data = _lenient_json(answer.content)
        if data is None:
            sample.warnings.append("the answer's cdk.json is not valid JSON; the scaffold's context is used")
        elif isinstance(data.get("context"), dict):
            return "answer", data["context"]
    if "cdk.json" in plan.scaffold:
        data = _lenient_json(plan.scaffold["cdk.json"].decode("utf-8", "replace")) or {}
        context = data.get("context")
        return "scaffold", context if isinstance(context, dict) else {}
    return "none", {}


def _lenient_json(text: str) -> dict[str, Any] | None:
    """Parse JSON that answers write by hand: // and /* */ comments, trailing commas."""
    for candidate in (text, _strip_json_comments(text)):
        try:
            data = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        return data if isinstance(data, dict) else None
    return None


def _strip_json_comments(text: str) -> str:
    # Comments outside strings only: the string alternative is matched first and kept.
    pattern = r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/'
    text = re.sub(pattern, lambda m: m.group(1) or "", text, flags=re.S)
    return re.sub(r",(\s*[}\]])", r"\1", text)
