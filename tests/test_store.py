"""The run store: atomic files, CSV + Parquet tables with stable dtypes, the journal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from iacgrade.graders import store
from iacgrade.graders.store import (
    JOURNAL,
    RunJournal,
    _value_kind,
    column_rule,
    finding_rows,
    findings_frame,
    read_journal,
    result_row,
    results_frame,
    tables_from_journal,
    write_run_tables,
    write_tables_from_journal,
    write_text_atomic,
)
from tests.run_factory import corpus_like, make_result, rubric


def test_tables_written_as_csv_and_parquet(tmp_path: Path) -> None:
    results = corpus_like(rubric(), 6)
    write_run_tables(tmp_path, list(reversed(results)))
    csv = pd.read_csv(tmp_path / "results.csv")
    parquet = pd.read_parquet(tmp_path / "results.parquet")
    assert list(csv["sample_id"]) == sorted(r.sample_id for r in results)  # sorted whatever the order given
    assert list(parquet["sample_id"]) == list(csv["sample_id"])
    assert parquet["total"].dtype == "float64" and parquet["findings"].dtype == "int64"
    findings = pd.read_parquet(tmp_path / "findings.parquet")
    assert len(findings) == sum(len(r.findings) for r in results)
    assert str(findings["md_line"].dtype) == "Int64"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _varied_results() -> list:
    """Answers whose tables hold every kind of value a column can: scores missing (an error),
    kept dataset columns of ints, floats, booleans, text and a mix, row ids that are numbers,
    and text a CSV must quote (commas, quotes, newlines, non-ASCII)."""
    r = rubric()
    out = corpus_like(r, 5)
    out.append(make_result("Pr9/lib/MODEL_RESPONSE", [], r, status="error"))
    kept = [
        {"n": 3, "x": 0.5, "ok": True, "note": 'a, "quoted"\nline', "mixed": 1},
        {"n": None, "x": 2, "ok": None, "note": None, "mixed": "two"},
        {"n": 7, "x": None, "ok": False, "note": "é ü", "mixed": None},
    ]
    for i, res in enumerate(out):
        res.row_id = str(i) if i % 2 else None
        res.row_fields = dict(kept[i % 3]) if i < 5 else {}
    out[0].findings[0].message = 'line one\nline "two", three'
    return out


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as Python objects, every kind of missing as None: to compare values, not dtypes."""
    plain = frame.astype(object)
    return plain.where(frame.notna(), None)


def _dtype(column: pd.Series) -> str:
    name = str(column.dtype)
    return "text" if name in ("object", "str") else name


@pytest.mark.parametrize("via", ["results", "journal"])
def test_tables_are_what_pandas_would_write(
    tmp_path: Path, via: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tables are written without pandas (its import costs as much as a cached re-grade); the
    CSV is byte for byte what pandas writes for the same frame, and the Parquet reads back in
    pandas with the same values and dtypes (nullable integers included)."""
    results = _varied_results()
    if via == "results":
        write_run_tables(tmp_path, results)
    else:
        monkeypatch.setattr(store, "_TABLE_BATCH", 2)  # several batches, one schema
        journal = RunJournal(tmp_path)
        for res in results:
            journal.append(res, "graded")
        journal.close()
        write_tables_from_journal(tmp_path)
    ordered = sorted(results, key=lambda r: r.sample_id)
    rows = [result_row(r) for r in ordered]
    # Columns typed by the values the answers hold (before a frame turns missing ints into NaN).
    rules = {
        c: column_rule({_value_kind(row.get(c)) for row in rows})
        for c in ("row_id", "n", "x", "ok", "note", "mixed")
    }
    kept = ["n", "x", "ok", "note", "mixed"]  # the journal's lines have sorted keys
    expected = {
        "results": results_frame(rows, rules=rules, extra=sorted(kept) if via == "journal" else kept),
        "findings": findings_frame([row for r in ordered for row in finding_rows(r)]),
    }
    assert expected["results"]["n"].dtype == "Int64" and expected["results"]["mixed"].iloc[0] == "1"
    for name, frame in expected.items():
        assert (tmp_path / f"{name}.csv").read_text(encoding="utf-8") == frame.to_csv(index=False)
        read = pd.read_parquet(tmp_path / f"{name}.parquet")
        pd.testing.assert_frame_equal(_plain(read), _plain(frame))
        # Numbers keep their dtypes (Int64 included); text, held by the frame as object or str,
        # reads back as pandas' str, and a column with no value at all as text too.
        assert {c: _dtype(read[c]) for c in frame.columns} == {c: _dtype(frame[c]) for c in frame.columns}
    schema = pq.read_schema(tmp_path / "results.parquet")
    assert str(schema.field("ok").type) == "bool" and str(schema.field("error").type) == "large_string"


def test_writing_the_tables_does_not_load_pandas(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path)
    for res in _varied_results():
        journal.append(res, "graded")
    journal.close()
    code = (
        "import sys; from pathlib import Path; from iacgrade.graders.store import write_tables_from_journal; "
        f"n = write_tables_from_journal(Path({str(tmp_path)!r})); print(n, 'pandas' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["6", "False"]


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_an_atomic_write_makes_its_folder_and_a_file_the_team_can_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mask: int
) -> None:
    monkeypatch.setattr(store, "_UMASK", mask)
    before = os.umask(mask)
    try:
        write_text_atomic(tmp_path / "new" / "folder" / "report.md", "text")
    finally:
        os.umask(before)
    written = tmp_path / "new" / "folder" / "report.md"
    assert written.read_text() == "text" and written.stat().st_mode & 0o777 == 0o644
    assert os.listdir(written.parent) == ["report.md"]  # no temporary file left


def test_empty_run_tables(tmp_path: Path) -> None:
    write_run_tables(tmp_path, [])
    assert pd.read_parquet(tmp_path / "findings.parquet").empty
    assert list(pd.read_csv(tmp_path / "results.csv").columns)[0] == "sample_id"


def test_atomic_write_keeps_old_file_when_the_write_fails(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    write_text_atomic(target, "old")

    class Boom(str):
        def encode(self, *_a: object, **_k: object) -> bytes:  # type: ignore[override]
            raise RuntimeError("boom")

    try:
        write_text_atomic(target, Boom("new"))
    except RuntimeError:
        pass
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_journal_survives_a_torn_last_line(tmp_path: Path) -> None:
    r = rubric()
    journal = RunJournal(tmp_path)
    a = make_result("a", [("unused-import", None, 3)], r)
    b = make_result("b", [], r)
    journal.append(a, "graded")
    journal.append(b, "cache")
    journal.append(make_result("a", [], r), "graded")  # regraded later: the last entry wins
    with open(tmp_path / JOURNAL, "a") as fh:
        fh.write('{"sample_id": "c", "how": "gra')  # killed mid-write
    entries = read_journal(tmp_path)
    assert [(e["sample_id"], e["how"]) for e in entries] == [("a", "graded"), ("b", "cache"), ("a", "graded")]
    results, findings = tables_from_journal(tmp_path)
    assert list(results["sample_id"]) == ["a", "b"]
    assert findings.empty
