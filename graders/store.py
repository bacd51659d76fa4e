"""Writing results to disk: atomic files, the run journal and the batch tables.

A run folder holds one ``<sample_id>/result.json`` per answer (the source of truth), a journal
``.results.jsonl`` that gets one fsynced line per finished answer, and the tables
``results.csv|parquet`` (one row per answer) and ``findings.csv|parquet`` (one row per finding).
Every file is replaced atomically, so a reader, or a run killed half-way, never sees half a
file; the tables are rebuilt from the result.json files whenever the run is resumed.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.metadata
import io
import json
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import ValidationError

from iacgrade.graders.models import CATEGORIES, SampleResult

if TYPE_CHECKING:
    import pandas as pd  # the tables only: imported when one is built (it costs ~0.3 s to load)

RESULT_COLUMNS = [
    "sample_id",
    "source",
    "task_id",
    "role",
    "kind",
    "status",
    "error",
    "synth_status",
    "synth_cause",
    "synth_error_type",
    "synth_seconds",
    "entry_kind",
    "files",
    "findings",
    *CATEGORIES,
    "total",
    "reward",
    "grader_version",
    "rubric_version",
    "prompt_digest",
    "row_id",
]
FINDING_COLUMNS = [
    "sample_id",
    "check",
    "category",
    "severity",
    "title",
    "message",
    "file",
    "line",
    "md_line",
    "stack",
    "resource",
    "cdk_path",
    "lenses",
]
_RESULT_COLUMN_SET = frozenset(RESULT_COLUMNS)
JOURNAL = ".results.jsonl"
TABLE_FILES = ("results.csv", "findings.csv", "results.parquet", "findings.parquet")
_FLOAT_COLUMNS = ["synth_seconds", *CATEGORIES, "total", "reward"]
_INT_COLUMNS = ["line", "md_line"]


def _write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write through a temporary file in the same folder and rename it over ``path``.

    The rename makes it safe against a killed process; no fsync, which would only add power-loss
    safety at a cost paid once per file of every answer. The folder is made only when it is
    missing, and the file is created 0644 (a team shares the results), so the usual write is
    four system calls: open, write, close, rename.
    """
    try:
        fd, tmp = _new_temp(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _new_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once, at import (setting it is the only way to read it, and it is process-wide).
_UMASK = _umask()


def _new_temp(path: Path) -> tuple[int, str]:
    """A new file ``.<name>.<random>.tmp`` beside ``path``, open for writing, mode 0644."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(path.parent, f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o644)
        except FileExistsError:
            continue
        if _UMASK & 0o644:
            os.fchmod(fd, 0o644)  # a umask such as 077 would make results unreadable to a team
        return fd, tmp
    raise FileExistsError(f"no free temporary name beside {path}")


def remove_partial_writes(folder: Path) -> None:
    """Delete the temporary files of atomic writes that never finished in ``folder``.

    ``_write_atomic`` removes its temporary file when it fails, but a Ctrl-C can land where no
    handler runs yet (inside ``mkstemp``, just after it returns); only the run that was
    interrupted knows which folder it was writing in."""
    for tmp in folder.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder and rename, so readers never see half a file."""
    data = text.encode("utf-8")
    _write_atomic(path, lambda fh: fh.write(data))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


def result_row(r: SampleResult) -> dict[str, Any]:
    return {
        "sample_id": r.sample_id,
        "source": r.source,
        "task_id": r.task_id,
        "role": r.role,
        "kind": r.kind,
        "status": r.status,
        "error": r.error,
        "synth_status": r.synth.status,
        "synth_cause": r.synth.cause,
        "synth_error_type": r.synth.error_type,
        "synth_seconds": round(r.synth.seconds, 3),
        "entry_kind": r.synth.entry_kind,
        "files": len(r.files),
        "findings": len(r.findings),
        **{c: r.scores.get(c) for c in CATEGORIES},
        "total": r.total,
        "reward": r.reward,
        "grader_version": r.grader_version,
        "rubric_version": r.rubric_version,
        "prompt_digest": r.prompt_digest,
        "row_id": r.row_id,
        # A dataset's --keep-field columns follow, under their own names (prefixed when taken).
        **{(f"row.{k}" if k in _RESULT_COLUMN_SET else k): v for k, v in r.row_fields.items()},
    }


def finding_rows(r: SampleResult) -> list[dict[str, Any]]:
    rows = []
    for f in r.findings:
        src = next((e for e in f.evidence if e.file), None)
        res = next((e for e in f.evidence if e.resource), None)
        rows.append(
            {
                "sample_id": r.sample_id,
                "check": f.check,
                "category": f.category,
                "severity": f.severity,
                "title": f.title,
                "message": f.message,
                "file": src.file if src else None,
                "line": src.line if src else None,
                "md_line": src.md_line if src else None,
                "stack": res.stack if res else None,
                "resource": res.resource if res else None,
                "cdk_path": res.cdk_path if res else None,
                "lenses": "+".join(f.lenses),
            }
        )
    return rows


def results_frame(
    rows: list[dict[str, Any]], *, extra: list[str] | None = None, rules: dict[str, str] | None = None
) -> pd.DataFrame:
    """The results table with stable dtypes (scores are floats, NaN when unscored).

    ``extra`` (the kept columns, in order) and ``rules`` (how each kept column and ``row_id`` is
    typed, see ``column_rule``) default to what ``rows`` hold; a table written in batches passes the
    whole run's, so every batch has the same columns and types."""
    import pandas as pd

    if extra is None:
        extra = list(dict.fromkeys(k for row in rows for k in row if k not in _RESULT_COLUMN_SET))
    df = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, *extra])
    for col in ["row_id", *extra]:
        rule = (rules or {}).get(col) or column_rule({_value_kind(v) for v in df[col]})
        df[col] = _apply_rule(df[col], rule)
    for col in _FLOAT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    df["files"] = pd.to_numeric(df["files"]).astype("int64")
    df["findings"] = pd.to_numeric(df["findings"]).astype("int64")
    return df


def _value_kind(value: Any) -> str:
    if _missing(value):
        return "missing"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str" if isinstance(value, str) else "other"


def column_rule(kinds: set[str]) -> str:
    """How a row id or kept column is typed so Parquet can hold it, from the kinds of its values:
    integers stay integers (nullable), numbers numbers, all-bool or all-text stay as they are, and
    a column of mixed values becomes text (missing stays missing)."""
    present = kinds - {"missing"}
    if present and present <= {"int"}:
        return "int"
    if present and present <= {"int", "float"}:
        return "float"
    if present and present <= {"bool"}:
        return "bool"
    if present <= {"str"}:
        return "keep"
    return "text"


def _apply_rule(column: pd.Series, rule: str) -> pd.Series:
    import pandas as pd

    if rule == "int":
        return column.astype("Int64")
    if rule == "float":
        return pd.to_numeric(column, errors="coerce").astype("float64")
    if rule in ("keep", "bool"):
        return column.astype("object")
    return column.map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v))


def findings_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The findings table with stable dtypes (line numbers are nullable integers)."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    for col in _INT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    return df


def write_run_tables(out: Path, results: list[SampleResult]) -> None:
    """results.csv|parquet (one row per sample) and findings.csv|parquet (one row per finding)."""
    ordered = sorted(results, key=lambda r: r.sample_id)
    rows = [result_row(r) for r in ordered]
    extra: dict[str, None] = {}
    kinds: dict[str, set[str]] = {"row_id": set()}
    for row in rows:
        _note_kept_columns(row, extra, kinds)
    with _TableFiles(out, "results", _result_columns(list(extra), kinds)) as results_table:
        results_table.add(rows)
    with _TableFiles(out, "findings", _FINDING_TYPES) as findings_table:
        findings_table.add([row for r in ordered for row in finding_rows(r)])


def _note_kept_columns(row: dict[str, Any], extra: dict[str, None], kinds: dict[str, set[str]]) -> None:
    """Add a results row's kept columns to ``extra`` (in order of appearance) and the kinds of value
    it holds in them and in ``row_id`` to ``kinds``, from which each column's type is ruled."""
    for key, value in row.items():
        if key not in _RESULT_COLUMN_SET:
            extra.setdefault(key)
        if key == "row_id" or key not in _RESULT_COLUMN_SET:
            kinds.setdefault(key, set()).add(_value_kind(value))


_TABLE_BATCH = 5000


def write_tables_from_journal(out: Path, sample_ids: Collection[str] | None = None) -> int:
    """Both tables (CSV and Parquet) from the run's journal, in sample-id order, the last entry of
    each sample winning, only ``sample_ids`` when given; returns the number of result rows.

    Written in batches: the journal is read twice (where each sample's last line starts and how its
    kept columns are typed, then those lines in order), so memory holds one batch and an offset per
    sample, never the run, however many rows a dataset has."""
    offsets: dict[str, int] = {}
    extra: dict[str, None] = {}
    kinds: dict[str, set[str]] = {"row_id": set()}
    for offset, entry in _journal_entries(out):
        if sample_ids is None or entry["sample_id"] in sample_ids:
            offsets[entry["sample_id"]] = offset
            _note_kept_columns(entry.get("row", {}), extra, kinds)
    ids = sorted(offsets)
    with contextlib.ExitStack() as stack:
        results = stack.enter_context(_TableFiles(out, "results", _result_columns(list(extra), kinds)))
        findings = stack.enter_context(_TableFiles(out, "findings", _FINDING_TYPES))
        journal = stack.enter_context(open(out / JOURNAL, "rb")) if ids else None
        for start in range(0, len(ids), _TABLE_BATCH):
            entries = []
            for sample_id in ids[start : start + _TABLE_BATCH]:
                assert journal is not None
                journal.seek(offsets[sample_id])
                entries.append(json.loads(journal.readline()))
            results.add([e["row"] for e in entries])
            findings.add([r for e in entries for r in e.get("findings", [])])
    return len(ids)


def _journal_entries(out: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(offset, entry) of each journal line that is a whole entry; a torn last line is skipped."""
    try:
        fh = open(out / JOURNAL, "rb")
    except OSError:
        return
    with fh:
        while True:
            offset = fh.tell()
            line = fh.readline()
            if not line:
                return
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and "sample_id" in entry:
                yield offset, entry


# How each column of a table is typed when it is written (see `_TableFiles`): text, a float (NaN
# when missing), a non-null integer, a nullable integer, a nullable boolean.
_RESULT_TYPES = {
    **dict.fromkeys(RESULT_COLUMNS, "str"),
    **dict.fromkeys(_FLOAT_COLUMNS, "float"),
    "files": "int",
    "findings": "int",
}
_FINDING_TYPES = {**dict.fromkeys(FINDING_COLUMNS, "str"), **dict.fromkeys(_INT_COLUMNS, "nint")}
_TYPE_OF_RULE = {"int": "nint", "float": "float", "bool": "bool", "keep": "str", "text": "str"}
# What pandas records for each type in a Parquet file's "pandas" metadata, so that pandas reads
# the nullable integers back as Int64 (and every other column as it would have written it).
_PANDAS_TYPES = {
    "str": ("unicode", "object"),
    "float": ("float64", "float64"),
    "int": ("int64", "int64"),
    "nint": ("int64", "Int64"),
    "bool": ("bool", "object"),
}


def _result_columns(extra: list[str], kinds: dict[str, set[str]]) -> dict[str, str]:
    """The results table's columns and their types; ``row_id`` and the kept ``extra`` columns are
    typed by the kinds of value they hold across the run (see ``column_rule``)."""
    types = dict(_RESULT_TYPES)
    for col in ["row_id", *extra]:
        types[col] = _TYPE_OF_RULE[column_rule(kinds.get(col, set()))]
    return types


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _typed(kind: str, value: Any) -> Any:
    """A row's value as its column's type holds it; None is missing (what pandas' coercion makes
    NaN or NA: a number column's text that is not a number, for one; here also a number that is
    not finite or does not fit 64 bits)."""
    if _missing(value):
        return None
    if kind == "str":
        return value if isinstance(value, str) else str(value)
    if kind == "bool":
        return bool(value)
    try:
        number = float(value) if kind == "float" else int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if isinstance(number, float):
        return number if math.isfinite(number) else None  # Parquet's JSON route has no NaN or inf
    return number if -(2**63) <= number < 2**63 else None


class _TableFiles:
    """One table written batch by batch to NAME.csv and NAME.parquet with pyarrow and the csv
    module (pandas takes ~0.2 s to import, as long as a cached re-grade of 100 answers), each
    renamed into place at the end (a reader never sees half a table; a failure leaves the
    previous one). ``types`` names the columns in order and how each is typed: the same for every
    batch, so the Parquet schema does not depend on the values of the first batch."""

    def __init__(self, out: Path, name: str, types: dict[str, str]) -> None:
        self.out, self.name, self.types = out, name, types
        self.tmp: list[Path] = []
        self.csv: IO[str] | None = None
        self.parquet: Any = None

    def __enter__(self) -> _TableFiles:
        import pyarrow as pa
        import pyarrow.json as pj
        import pyarrow.parquet as pq

        self.out.mkdir(parents=True, exist_ok=True)
        for suffix in ("csv", "parquet"):
            fd, tmp = _new_temp(self.out / f"{self.name}.{suffix}")
            os.close(fd)
            self.tmp.append(Path(tmp))
        self.csv = open(self.tmp[0], "w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.csv, lineterminator="\n")
        self.writer.writerow(self.types)
        arrow = {
            "str": pa.large_string(),
            "float": pa.float64(),
            "int": pa.int64(),
            "nint": pa.int64(),
            "bool": pa.bool_(),
        }
        self.schema = pa.schema(
            [pa.field(col, arrow[kind]) for col, kind in self.types.items()],
            metadata={"pandas": json.dumps(_pandas_metadata(self.types, pa.__version__))},
        )
        self.parquet = pq.ParquetWriter(self.tmp[1], self.schema)
        self.pj = pj
        return self

    def add(self, rows: list[dict[str, Any]]) -> None:
        assert self.csv is not None
        if not rows:
            return
        typed = [[_typed(kind, row.get(col)) for col, kind in self.types.items()] for row in rows]
        # The csv module writes None as an empty field and a float as repr() does, as pandas does.
        self.writer.writerows(typed)
        # Arrow arrays built from Python lists make pyarrow import pandas (to ask whether the list
        # is a Series), so the batch reaches Arrow as JSON lines read against the fixed schema.
        names = list(self.types)
        data = "\n".join(json.dumps(dict(zip(names, values, strict=True))) for values in typed).encode()
        table = self.pj.read_json(
            io.BytesIO(data),
            read_options=self.pj.ReadOptions(use_threads=False, block_size=max(len(data), 1 << 16)),
            parse_options=self.pj.ParseOptions(explicit_schema=self.schema),
        )
        self.parquet.write_table(table)

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self.csv is not None:
            self.csv.close()
        if self.parquet is not None:
            self.parquet.close()
        if exc_type is None:
            os.replace(self.tmp[0], self.out / f"{self.name}.csv")
            os.replace(self.tmp[1], self.out / f"{self.name}.parquet")
        for tmp in self.tmp:
            tmp.unlink(missing_ok=True)


def _pandas_metadata(types: dict[str, str], arrow_version: str) -> dict[str, Any]:
    """The "pandas" key pyarrow writes for a DataFrame, for a table written without one."""
    try:
        pandas_version = importlib.metadata.version("pandas")
    except importlib.metadata.PackageNotFoundError:
        pandas_version = None
    return {
        "index_columns": [],
        "column_indexes": [],
        "columns": [
            {
                "name": col,
                "field_name": col,
                "pandas_type": _PANDAS_TYPES[kind][0],
                "numpy_type": _PANDAS_TYPES[kind][1],
                "metadata": None,
            }
            for col, kind in types.items()
        ],
        "creator": {"library": "pyarrow", "version": arrow_version},
        "pandas_version": pandas_version,
    }


def read_result(path: Path) -> SampleResult | None:
    """A result.json as a SampleResult, or None when it is missing or not a valid result."""
    try:
        return SampleResult.model_validate_json(path.read_bytes())
    except (OSError, ValueError, ValidationError):
        return None


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON file holding an object, or None when it is missing, unreadable or something else."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def iter_results(out: Path) -> Iterator[SampleResult]:
    """Every valid ``result.json`` below a run folder, sorted by sample id."""
    found = [r for p in sorted(out.rglob("result.json")) if (r := read_result(p)) is not None]
    yield from sorted(found, key=lambda r: r.sample_id)


class RunJournal:
    """Appends one JSON line per finished answer to ``DIR/.results.jsonl``.

    The line carries how the answer was obtained (graded, cache, resume), its table row and its
    finding rows, so the tables of a killed run can be rebuilt without re-reading every result.
    Each line is written with its own ``write`` call, which a killed process cannot lose; the file
    is fsynced at most every ``sync_every`` seconds and on ``close`` (a group commit: one fsync
    per line would cost ~10 ms per answer, more than a cached answer takes).
    """

    def __init__(self, out: Path, *, sync_every: float = 1.0) -> None:
        self.path = out / JOURNAL
        self.sync_every = sync_every
        self._lock = threading.Lock()
        self._synced = time.monotonic()
        out.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")  # held open for the run

    def append(self, result: SampleResult, how: str) -> None:
        line = json.dumps(
            {
                "sample_id": result.sample_id,
                "how": how,
                "content_hash": result.content_hash,
                "row": result_row(result),
                "findings": finding_rows(result),
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()
            if time.monotonic() - self._synced >= self.sync_every:
                os.fsync(self._fh.fileno())
                self._synced = time.monotonic()

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()


def read_journal(out: Path) -> list[dict[str, Any]]:
    """The journal's entries in order; a torn last line (killed mid-write) is skipped."""
    path = out / JOURNAL
    entries: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return entries
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "sample_id" in entry:
            entries.append(entry)
    return entries


def tables_from_journal(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Results and findings tables from the journal, the last entry of each sample winning."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in read_journal(out):
        latest[entry["sample_id"]] = entry
    entries = [latest[k] for k in sorted(latest)]
    return (
        results_frame([e["row"] for e in entries]),
        findings_frame([row for e in entries for row in e.get("findings", [])]),
    )
