"""Datasets as input: one row of a table is one answer.

A ``.jsonl``, ``.json``, ``.parquet`` or ``.csv`` file, or a folder a Hugging Face dataset was
saved into with ``save_to_disk`` (when the ``datasets`` package is installed), is read row by row
and each row becomes a :class:`Sample` that carries its own text and prompt. Rows stream: JSON
Lines are read a line at a time (a line longer than the bound is that row's error, not a reason
to read it whole), Parquet a batch of a row group at a time, CSV in chunks; only a ``.json``
array is read whole, so it has a size limit of its own.

A bad row (no response, a response that is not text, a line that is not JSON, an id seen before)
becomes an error Sample on that row with the reason; the rows after it are read as usual.

The sample id of a row is ``<file stem>/<id>``: the row's ``--id-field`` value, else its row
number counted from 0 (as pandas and ``datasets`` number rows), made safe as a folder name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iacgrade.graders.models import Sample

__all__ = ["DATASET_SUFFIXES", "DatasetFields", "is_dataset", "iter_dataset"]

DATASET_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
MAX_JSON_ARRAY_BYTES = 200_000_000  # a .json array is parsed whole; bigger data belongs in .jsonl
_BATCH_ROWS = 256
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_ID_CHARS = 100


@dataclass(frozen=True)
class DatasetFields:
    """Which column of a row is what (the ``--*-field`` options)."""

    response: str = "response"
    prompt: str = "prompt"
    id: str = "id"
    kind: str | None = None
    reference: str | None = None
    keep: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "response": self.response,
            "prompt": self.prompt,
            "id": self.id,
            "kind": self.kind,
            "reference": self.reference,
            "keep": list(self.keep),
        }


class _BadRow:
    def __init__(self, reason: str) -> None:
        self.reason = reason


_Row = dict[str, Any] | _BadRow


def is_dataset(path: Path) -> bool:
    """A table file by its suffix, or a folder written by ``datasets``' ``save_to_disk``."""
    if path.is_dir():
        return (path / "dataset_dict.json").is_file() or (
            (path / "dataset_info.json").is_file() and (path / "state.json").is_file()
        )
    return path.suffix.lower() in DATASET_SUFFIXES


def iter_dataset(path: Path, fields: DatasetFields, *, max_row_bytes: int) -> Iterator[Sample]:
    """One Sample per row of the dataset at ``path``, streamed; never raises for bad data.

    A row with a reference answer (``fields.reference``) is preceded by that reference as a
    Sample of its own (``role="ideal"``), once per distinct reference text, so the row's report
    can compare the two; the row is then ``role="model"``.
    A file that cannot be read at all is one error Sample named after it.
    """
    stem = path.name if path.is_dir() else path.stem
    state = _State(stem=stem or "dataset", source=str(path), fields=fields)
    try:
        for number, row in _rows(path, fields, max_row_bytes):
            yield from state.samples(number, row)
    except _DatasetError as exc:
        yield Sample(
            sample_id=state.unique(stem or "dataset"), source=str(path), status="error", error=str(exc)
        )


# --- rows -----------------------------------------------------------------------------------


class _DatasetError(Exception):
    """The file as a whole cannot be read as a dataset."""


def _rows(path: Path, fields: DatasetFields, max_row_bytes: int) -> Iterator[tuple[int, _Row]]:
    if path.is_dir():
        rows: Iterator[_Row] = _hf_rows(path)
    else:
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            rows = _jsonl_rows(path, max_row_bytes)
        elif suffix == ".json":
            rows = _json_rows(path)
        elif suffix == ".parquet":
            rows = _parquet_rows(path, fields)
        elif suffix == ".csv":
            rows = _csv_rows(path)
        else:
            raise _DatasetError(f"not a dataset file (.jsonl, .json, .parquet, .csv): {path}")
    return enumerate(rows)


def _jsonl_rows(path: Path, limit: int) -> Iterator[_Row]:
    """One row per non-blank line; a line is read with a bound, never whole when it is too long."""
    try:
        fh = open(path, "rb")  # closed by the with below; opened apart to report an OSError
    except OSError as exc:
        raise _DatasetError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with fh:
        lineno = 0
        while True:
            line = fh.readline(limit + 1)
            if not line:
                return
            lineno += 1
            if len(line) > limit:
                while line and not line.endswith(b"\n"):  # skip the rest of the long line
                    line = fh.readline(1 << 20)
                yield _BadRow(f"line {lineno}: longer than {limit} bytes")
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                reason = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else exc
                yield _BadRow(f"line {lineno}: invalid JSON ({reason})")
                continue
            yield row if isinstance(row, dict) else _BadRow(f"line {lineno}: not a JSON object")


def _json_rows(path: Path) -> Iterator[_Row]:
    """A JSON array of objects (or an object holding one under data, rows or examples)."""
    try:
        if path.stat().st_size > MAX_JSON_ARRAY_BYTES:
            raise _DatasetError(
                f"{path}: a .json file is read whole and this one is larger than "
                f"{MAX_JSON_ARRAY_BYTES} bytes; write it as JSON Lines (.jsonl) to stream it"
            )
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise _DatasetError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise _DatasetError(f"{path}: invalid JSON ({exc})") from exc
    if isinstance(data, dict):
        data = next((data[k] for k in ("data", "rows", "examples") if isinstance(data.get(k), list)), None)
    if not isinstance(data, list):
        raise _DatasetError(f"{path}: expected a JSON array of objects (for one object per line, use .jsonl)")
    for number, row in enumerate(data):
        yield row if isinstance(row, dict) else _BadRow(f"item {number}: not a JSON object")


def _parquet_rows(path: Path, fields: DatasetFields) -> Iterator[_Row]:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid, OSError ...
        raise _DatasetError(f"cannot read {path} as Parquet: {exc}") from exc
    wanted = {fields.response, fields.prompt, fields.id, "messages", *fields.keep}
    wanted |= {f for f in (fields.kind, fields.reference) if f}
    columns = [name for name in table.schema_arrow.names if name in wanted]
    for batch in table.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
        yield from batch.to_pylist()


def _csv_rows(path: Path) -> Iterator[_Row]:
    import pandas as pd

    try:
        chunks = pd.read_csv(path, chunksize=_BATCH_ROWS, dtype=str, keep_default_na=False)
        for chunk in chunks:
            yield from chunk.to_dict("records")
    except (OSError, ValueError) as exc:  # pandas' ParserError is a ValueError
        raise _DatasetError(f"cannot read {path} as CSV: {exc}") from exc


def _hf_rows(path: Path) -> Iterator[_Row]:
    try:
        import datasets
    except ImportError as exc:
        raise _DatasetError(
            f"{path} is a Hugging Face dataset folder: install the `datasets` package to grade it"
        ) from exc
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise _DatasetError(f"cannot load {path} with datasets.load_from_disk: {exc}") from exc
    splits = loaded.values() if isinstance(loaded, datasets.DatasetDict) else [loaded]
    for split in splits:
        yield from split  # memory-mapped Arrow: rows are read as they are asked for


# --- samples --------------------------------------------------------------------------------


@dataclass
class _State:
    """What the rows of one file share: their id prefix and the ids and references seen so far."""

    stem: str
    source: str
    fields: DatasetFields

    def __post_init__(self) -> None:
        self.ids: set[str] = set()
        self.sample_ids: set[str] = set()
        self.references: set[str] = set()

    def unique(self, sample_id: str) -> str:
        base, n = sample_id, 2
        while sample_id in self.sample_ids:  # two ids that differ only in unsafe characters
            sample_id, n = f"{base}~{n}", n + 1
        self.sample_ids.add(sample_id)
        return sample_id

    def samples(self, number: int, row: _Row) -> Iterator[Sample]:
        source = f"{self.source}#{number}"
        if isinstance(row, _BadRow):
            yield self._error(number, number, source, row.reason)
            return
        f = self.fields
        row_id: Any = row.get(f.id, number) if f.id else number
        if row_id is None or isinstance(row_id, bool) or not isinstance(row_id, str | int):
            yield self._error(number, number, source, f"id field {f.id!r} is not a string or an integer")
            return
        kept = {name: _scalar(row.get(name)) for name in f.keep}
        if str(row_id) in self.ids:
            yield self._error(number, row_id, source, f"duplicate id {row_id!r} (row {number})", kept)
            return
        self.ids.add(str(row_id))
        sample = Sample(
            sample_id=self.unique(f"{self.stem}/{safe_id(row_id)}"),
            source=source,
            row_id=row_id,
            row_fields=kept,
        )
        text, problem = _response(row, f.response)
        prompt, prompt_problem = _prompt(row, f.prompt)
        kind = row.get(f.kind) if f.kind else None
        if problem or prompt_problem:
            sample.status, sample.error = "error", f"row {number}: {problem or prompt_problem}"
            yield sample
            return
        sample.text, sample.prompt = text, prompt
        sample.size_bytes = len(text.encode("utf-8")) if text else 0
        if isinstance(kind, str) and kind.strip():
            sample.kind = kind.strip()
        reference = row.get(f.reference) if f.reference else None
        if isinstance(reference, str) and reference.strip():
            ref_id = f"{self.stem}/reference/{hashlib.sha256(reference.encode('utf-8')).hexdigest()[:12]}"
            if ref_id not in self.references:
                self.references.add(ref_id)
                self.sample_ids.add(ref_id)
                yield Sample(
                    sample_id=ref_id,
                    source=f"{source}:{f.reference}",
                    role="ideal",
                    kind=sample.kind,
                    text=reference,
                    prompt=prompt,
                    size_bytes=len(reference.encode("utf-8")),
                )
            sample.role, sample.reference_id = "model", ref_id
        elif f.reference and reference is not None and not isinstance(reference, str):
            sample.warnings.append(f"reference field {f.reference!r} is not text; no comparison")
        yield sample

    def _error(
        self, number: int, row_id: Any, source: str, reason: str, kept: dict[str, Any] | None = None
    ) -> Sample:
        """An error Sample for a row; its id is the row number when its own id cannot be used."""
        return Sample(
            sample_id=self.unique(
                f"{self.stem}/{safe_id(row_id)}" + (f"~row{number}" if row_id != number else "")
            ),
            source=source,
            row_id=row_id if isinstance(row_id, str | int) and not isinstance(row_id, bool) else number,
            row_fields=kept or {},
            status="error",
            error=reason if reason.startswith(("line ", "item ", "row ")) else f"row {number}: {reason}",
        )


def _response(row: dict[str, Any], field: str) -> tuple[str | None, str | None]:
    """The answer's text, or why there is none: the field, else the last assistant turn of ``messages``."""
    value = row.get(field)
    if value is None and field not in row and isinstance(row.get("messages"), list):
        value = row["messages"]
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        turns = [m for m in value if m.get("role") == "assistant"]
        if not turns:
            return None, f"field {field!r} is a message list without an assistant turn"
        value = turns[-1].get("content")
    if value is None:
        return None, f"missing field {field!r}" if field not in row else f"field {field!r} is null"
    if not isinstance(value, str):
        return None, f"field {field!r} is not a string but {type(value).__name__}"
    return value, None


def _prompt(row: dict[str, Any], field: str) -> tuple[str | None, str | None]:
    """The prompt's text (optional): a string, or the user and system turns of a message list."""
    value = row.get(field) if field else None
    if value is None:
        return None, None
    if isinstance(value, list):
        parts = [
            m["content"]
            for m in value
            if isinstance(m, dict) and m.get("role") != "assistant" and isinstance(m.get("content"), str)
        ]
        return ("\n\n".join(parts) or None), None
    if not isinstance(value, str):
        return None, f"prompt field {field!r} is not a string but {type(value).__name__}"
    return value, None


def _scalar(value: Any) -> Any:
    """A kept field as a table cell: scalars as they are, anything else as JSON text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def safe_id(row_id: Any) -> str:
    """The id as one folder name: letters, digits, ``._-`` only, never ``.`` or ``..``, bounded."""
    text = _UNSAFE.sub("_", str(row_id)).strip("_") or "_"
    if set(text) == {"."}:
        text = "_" + text
    if len(text) > _MAX_ID_CHARS:
        digest = hashlib.sha256(str(row_id).encode("utf-8")).hexdigest()[:10]
        text = f"{text[: _MAX_ID_CHARS - 11]}~{digest}"
    return text
