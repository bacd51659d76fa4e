"""Tests for graders.ingest: discovery, task layout, and every kind of bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from graders.ingest import discover, read_answer
from graders.models import Sample

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "cdk-py"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")

TAP = "import aws_cdk as cdk\nfrom lib.tap_stack import TapStack, TapStackProps\n"


def _task(root: Path, name: str = "Pr1", app: str = "pipenv run python3 tap.py") -> Path:
    task = root / name
    (task / "lib").mkdir(parents=True)
    (task / "lib" / "MODEL_RESPONSE.md").write_text("## File: lib/tap_stack.py\n")
    (task / "lib" / "IDEAL_RESPONSE.md").write_text("## File: lib/tap_stack.py\n")
    (task / "lib" / "PROMPT.md").write_text("prompt")
    (task / "cdk.json").write_text(json.dumps({"app": app, "context": {"a": 1}}))
    (task / "metadata.json").write_text(json.dumps({"platform": "cdk", "language": "py"}))
    entry = task / app.split()[-1]
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(TAP)
    return task


def test_discover_folder_finds_task_answers(tmp_path: Path) -> None:
    _task(tmp_path)
    samples = discover([tmp_path])
    assert [s.sample_id for s in samples] == ["Pr1/lib/IDEAL_RESPONSE", "Pr1/lib/MODEL_RESPONSE"]
    model = samples[1]
    assert model.kind == "model" and samples[0].kind == "ideal"
    assert model.task_id == "Pr1"
    assert model.task_root == str((tmp_path / "Pr1").resolve())
    assert model.entry_file == "tap.py"
    assert model.scaffold_files == ["cdk.json", "tap.py"]
    assert model.metadata == {"platform": "cdk", "language": "py"}
    assert model.reference_id == "Pr1/lib/IDEAL_RESPONSE"
    assert model.reference_path == str(tmp_path / "Pr1" / "lib" / "IDEAL_RESPONSE.md")
    assert samples[0].reference_id is None


def test_entry_in_bin_and_scaffold_lib_python(tmp_path: Path) -> None:
    task = _task(tmp_path, app="PYTHONPATH=. .venv/bin/python3 bin/tap.py")
    (task / "lib" / "__init__.py").write_text("")
    sample = discover([task / "lib" / "MODEL_RESPONSE.md"])[0]
    assert sample.sample_id == "MODEL_RESPONSE"
    assert sample.entry_file == "bin/tap.py"
    assert sample.scaffold_files == ["bin/tap.py", "cdk.json", "lib/__init__.py"]
    assert not any(f.endswith(".md") or f == "metadata.json" for f in sample.scaffold_files)


def test_entry_named_but_missing_is_a_warning(tmp_path: Path) -> None:
    task = _task(tmp_path)
    (task / "cdk.json").write_text(json.dumps({"app": "python3 app.py"}))
    sample = discover([task / "lib" / "MODEL_RESPONSE.md"])[0]
    assert sample.entry_file == "app.py"
    assert any("app.py" in w for w in sample.warnings)


def test_bad_metadata_gives_empty_dict(tmp_path: Path) -> None:
    task = _task(tmp_path)
    (task / "metadata.json").write_text("{not json")
    sample = discover([task / "lib" / "MODEL_RESPONSE.md"])[0]
    assert sample.metadata == {}
    assert any("metadata.json" in w for w in sample.warnings)


def test_plain_file_and_skipped_folders(tmp_path: Path) -> None:
    (tmp_path / "answer.md").write_text("hi")
    for skipped in (".venv", "node_modules", ".git"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "X_RESPONSE.md").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "A_RESPONSE.md").write_text("x")
    assert [s.sample_id for s in discover([tmp_path])] == ["sub/A_RESPONSE"]
    only = discover([tmp_path / "answer.md"])[0]
    assert (only.sample_id, only.kind, only.task_root) == ("answer", "other", None)


def test_colliding_ids_are_prefixed(tmp_path: Path) -> None:
    for run in ("run1", "run2"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "MODEL_RESPONSE.md").write_text("x")
    samples = discover([tmp_path / "run1", tmp_path / "run2"])
    assert [s.sample_id for s in samples] == ["run1/MODEL_RESPONSE", "run2/MODEL_RESPONSE"]


def test_missing_path_and_empty_folder_are_error_samples(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    samples = discover([tmp_path / "nope.md", tmp_path / "empty"])
    assert [s.status for s in samples] == ["error", "error"]
    assert "no such file" in (samples[0].error or "")
    assert "no files matching" in (samples[1].error or "")
    assert read_answer(samples[0]) is None


def _sample(path: Path) -> Sample:
    return discover([path])[0]


def test_read_answer_normalises_bom_and_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"\xef\xbb\xbfline1\r\nline2\rline3\n")
    sample = _sample(path)
    assert read_answer(sample) == "line1\nline2\nline3\n"
    assert sample.status == "ok" and sample.warnings == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \n\t\r\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (bytes(range(1, 32)) * 50, "binary"),
    ],
)
def test_read_answer_rejects_bad_content(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(data)
    sample = _sample(path)
    assert read_answer(sample) is None
    assert sample.status == "error" and message in (sample.error or "")


def test_read_answer_invalid_utf8_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"caf\xe9 ```python\n")
    sample = _sample(path)
    text = read_answer(sample)
    assert text == "caf\ufffd ```python\n"
    assert sample.status == "ok" and "invalid UTF-8" in sample.warnings[0]


def test_read_answer_too_big(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("x" * 2000)
    sample = _sample(path)
    assert read_answer(sample, max_bytes=1000) is None
    assert "too large" in (sample.error or "")


def test_read_answer_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("x")
    sample = _sample(path)
    path.unlink()
    assert read_answer(sample) is None
    assert "cannot read" in (sample.error or "")
    if os.geteuid() != 0:  # root reads anything
        path.write_text("x")
        path.chmod(0)
        other = _sample(path)
        assert read_answer(other) is None and "cannot read" in (other.error or "")


def test_read_answer_on_a_folder(tmp_path: Path) -> None:
    sample = Sample(sample_id="d", source=str(tmp_path))
    assert read_answer(sample) is None
    assert "not a regular file" in (sample.error or "")


@needs_corpus
def test_corpus_discovery() -> None:
    samples = discover([CORPUS])
    assert len(samples) == len(list(CORPUS.glob("*/lib/*RESPONSE*.md")))
    by_id = {s.sample_id: s for s in samples}
    model = by_id["Pr4792/lib/MODEL_RESPONSE"]
    assert model.task_id == "Pr4792" and model.kind == "model"
    assert model.reference_id == "Pr4792/lib/IDEAL_RESPONSE"
    assert model.entry_file == "tap.py" and model.scaffold_files == ["cdk.json", "tap.py"]
    assert by_id["Pr6232/lib/MODEL_RESPONSE"].entry_file == "bin/tap.py"
    assert by_id["Pr7267/lib/MODEL_RESPONSE"].scaffold_files == ["bin/app.py", "cdk.json", "tap.py"]
    assert all(read_answer(s) is not None for s in samples)
