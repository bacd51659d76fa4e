"""The run store: atomic files, CSV + Parquet tables with stable dtypes, the journal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from iacgrade.graders.store import (
    JOURNAL,
    RunJournal,
    read_journal,
    tables_from_journal,
    write_run_tables,
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
