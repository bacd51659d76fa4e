"""Datasets as input: one row, one answer (source checks only: the synth is not the point here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from iacgrade.cli import app
from iacgrade.graders.datasets import DatasetFields, iter_dataset
from iacgrade.graders.models import Sample
from iacgrade.graders.prompt import prompt_digest, read_prompt

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
GOOD = (ROOT / "samples" / "good_api_RESPONSE.md").read_text(encoding="utf-8")
FLAWED = (ROOT / "samples" / "flawed_api_RESPONSE.md").read_text(encoding="utf-8")
PROMPT = "Build a small API. All resources must be destroyable."


def _rows() -> list[dict[str, Any]]:
    return [
        {"id": "a", "response": GOOD, "prompt": PROMPT, "model": "m1", "temperature": 0.2},
        {"id": "b", "response": FLAWED, "prompt": PROMPT, "model": "m2", "temperature": 0.7},
    ]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif path.suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).to_parquet(path, index=False, row_group_size=1)
    return path


def _grade(*args: str) -> Any:
    result = runner.invoke(app, ["grade", *args, "--no-synth", "--quiet"])
    return result


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_each_row_is_an_answer_with_its_id_and_kept_fields(tmp_path: Path, suffix: str) -> None:
    data = _write(tmp_path / f"answers{suffix}", _rows())
    out = tmp_path / "out"
    result = _grade(str(data), "--out", str(out), "--keep-field", "model", "--keep-field", "temperature")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "results.csv")
    assert list(table["sample_id"]) == ["answers/a", "answers/b"]
    assert list(table["row_id"]) == ["a", "b"]
    assert list(table["model"]) == ["m1", "m2"]
    assert [float(t) for t in table["temperature"]] == [0.2, 0.7]
    assert set(table["status"]) == {"graded"}
    assert list(table["prompt_digest"]) == [prompt_digest(PROMPT)] * 2
    saved = json.loads((out / "answers" / "a" / "result.json").read_text())
    assert saved["row_id"] == "a" and saved["row_fields"]["model"] == "m1"
    assert (out / "answers" / "b" / "report.md").is_file()
    # One join puts the grades back on the dataset's rows.
    merged = pd.DataFrame(_rows()).merge(table[["row_id", "total"]], left_on="id", right_on="row_id")
    assert len(merged) == 2 and merged["total"].notna().all()
    pd.read_parquet(out / "results.parquet")  # mixed kept columns still make a Parquet table


def test_row_number_is_the_id_and_messages_give_the_last_assistant_turn(tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": GOOD}]},
        {"messages": [{"role": "assistant", "content": "draft"}, {"role": "assistant", "content": FLAWED}]},
    ]
    samples = list(iter_dataset(_write(tmp_path / "chat.jsonl", rows), DatasetFields(), max_row_bytes=10**7))
    assert [(s.sample_id, s.row_id, s.status) for s in samples] == [("chat/0", 0, "ok"), ("chat/1", 1, "ok")]
    assert samples[0].text == GOOD and samples[1].text == FLAWED
    assert samples[0].prompt is None  # no prompt field: the user turn is not guessed at


def test_bad_rows_are_errors_on_their_row_and_the_rest_is_graded(tmp_path: Path) -> None:
    data = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps({"id": 1, "response": GOOD}),
        json.dumps({"id": 2, "text": GOOD}),  # no response field
        json.dumps({"id": 3, "response": ["not", "text"]}),
        "{this is not json",
        json.dumps({"id": 1, "response": FLAWED}),  # duplicate id
        json.dumps({"id": 6, "response": "x" * 5000}),  # longer than the line bound below
        "",
        json.dumps({"id": 7, "response": FLAWED}),
    ]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = _grade(str(data), "--out", str(out), "--max-bytes", "1000000")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "results.csv").set_index("sample_id")
    assert table.loc["mixed/1", "status"] == "graded" and table.loc["mixed/7", "status"] == "graded"
    errors = table[table["status"] == "error"]["error"].to_dict()
    assert "missing field 'response'" in errors["mixed/2"]
    assert "not a string but list" in errors["mixed/3"]
    assert any("line 4: invalid JSON" in e for e in errors.values())
    assert any("duplicate id 1" in e for e in errors.values())
    kept = list(iter_dataset(data, DatasetFields(keep=("id",)), max_row_bytes=10**6))
    assert [s.row_fields for s in kept if "duplicate" in (s.error or "")] == [{"id": 1}]
    samples = list(iter_dataset(data, DatasetFields(), max_row_bytes=4000))
    assert any("longer than 4000 bytes" in (s.error or "") for s in samples)
    assert [s.row_id for s in samples if s.status == "ok"] == [
        1,
        7,
    ]  # the long line is skipped, not read whole


def test_resume_skips_rows_already_graded(tmp_path: Path) -> None:
    data = _write(tmp_path / "answers.jsonl", _rows())
    out = tmp_path / "out"
    assert _grade(str(data), "--out", str(out)).exit_code == 0
    (out / "answers" / "b" / "result.json").unlink()  # as if the run was killed before row b was saved
    run = json.loads((out / "run.json").read_text())
    run["finished"] = None
    (out / "run.json").write_text(json.dumps(run))
    result = runner.invoke(app, ["grade", str(data), "--out", str(out), "--no-synth", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["resumed"] == 1 and summary["samples"] == 2
    assert summary["run_id"] == run["run_id"]


def test_reference_field_is_graded_once_and_compared(tmp_path: Path) -> None:
    rows = [{"id": i, "response": FLAWED, "ideal": GOOD} for i in range(3)]
    data = _write(tmp_path / "n.jsonl", rows)
    samples = list(iter_dataset(data, DatasetFields(reference="ideal"), max_row_bytes=10**7))
    refs = [s for s in samples if s.role == "ideal"]
    assert len(refs) == 1 and refs[0].sample_id.startswith("n/reference/")
    assert {s.reference_id for s in samples if s.role == "model"} == {refs[0].sample_id}
    out = tmp_path / "out"
    assert _grade(str(data), "--out", str(out), "--reference-field", "ideal").exit_code == 0
    assert len(pd.read_csv(out / "results.csv")) == 4


def test_ids_become_safe_folder_names(tmp_path: Path) -> None:
    rows = [
        {"id": "../../escape", "response": GOOD},
        {"id": "a/b", "response": GOOD},
        {"id": "a_b", "response": GOOD},
    ]
    data = _write(tmp_path / "ids.jsonl", rows)
    out = tmp_path / "out"
    assert _grade(str(data), "--out", str(out)).exit_code == 0
    table = pd.read_csv(out / "results.csv")
    assert sorted(table["row_id"]) == ["../../escape", "a/b", "a_b"]
    assert all(
        (out / sid / "result.json").resolve().is_relative_to(out.resolve()) for sid in table["sample_id"]
    )
    assert len(set(table["sample_id"])) == 3


def test_a_folder_without_answers_is_exit_2_naming_the_pattern(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(
        app, ["grade", str(tmp_path / "empty"), "--out", str(tmp_path / "o"), "--no-synth"]
    )
    assert result.exit_code == 2
    assert "*RESPONSE*.md" in result.output
    assert not (tmp_path / "o" / "results.csv").exists()


def test_read_prompt_prefers_the_samples_own_prompt(tmp_path: Path) -> None:
    (tmp_path / "PROMPT.md").write_text("from the file")
    answer = tmp_path / "x_RESPONSE.md"
    answer.write_text(GOOD)
    assert read_prompt(Sample(sample_id="x", source=str(answer))) == "from the file"
    assert read_prompt(Sample(sample_id="x", source=str(answer), prompt="from the row")) == "from the row"
    # A dataset row without a prompt has none: a PROMPT.md beside the dataset is not its prompt.
    assert read_prompt(Sample(sample_id="d/0", source=f"{tmp_path}/d.jsonl#0", row_id=0)) is None


def test_hugging_face_dataset_saved_to_disk(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="the optional `datasets` package is not installed")
    datasets.Dataset.from_list(_rows()).save_to_disk(str(tmp_path / "hf"))
    out = tmp_path / "out"
    assert _grade(str(tmp_path / "hf"), "--out", str(out)).exit_code == 0
    assert list(pd.read_csv(out / "results.csv")["sample_id"]) == ["hf/a", "hf/b"]


def test_an_empty_dataset_is_a_bad_path_not_an_empty_run(tmp_path: Path) -> None:
    empty = tmp_path / "rows.jsonl"
    empty.write_text("")
    result = _grade(str(empty), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "has no rows" in result.output
    assert not (tmp_path / "out" / "run.json").exists()
