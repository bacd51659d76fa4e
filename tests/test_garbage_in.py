"""Garbage in: ingest -> extract -> assemble end to end, on anything at all.

tests/test_extract.py fuzzes the extractor alone; here whole answer files of random bytes,
markdown-like noise with hostile file names, non-UTF-8 encodings, empty and huge files go
through discovery, reading, extraction and workspace assembly, and we check the filesystem:
nothing crashes, and nothing is written anywhere but the workspace.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graders.extract import extract_files
from graders.ingest import discover, read_answer
from graders.models import Extraction
from graders.workspace import MAX_FILES, assemble
from tests.run_factory import ROOT, dev_rubric


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _ingest_and_assemble(
    root: Path, data: bytes, name: str = "x_RESPONSE.md"
) -> tuple[object, Extraction | None]:
    """One answer file through the whole front of the pipeline, inside ``root``."""
    answers = root / "answers"
    answers.mkdir()
    (answers / name).write_bytes(data)
    (samples := discover([answers]))
    assert len(samples) == 1
    sample = samples[0]
    text = read_answer(sample, max_bytes=2_000_000)
    if text is None:
        assert sample.status == "error" and sample.error
        return sample, None
    extraction = extract_files(text)
    assemble(sample, extraction, root / "ws")
    return sample, extraction


def _check_contained(root: Path, before_outside: set[str]) -> None:
    """Every path below ``root`` is the answer or inside the workspace; the canary beside it is untouched."""
    for rel in _tree(root):
        assert rel.startswith(("answers", "ws")), f"written outside the workspace: {rel}"
    for rel in _tree(root / "ws") if (root / "ws").exists() else ():
        path = root / "ws" / rel
        assert path.resolve().is_relative_to((root / "ws").resolve()), rel
        assert not path.is_symlink(), rel
    assert _tree(root.parent / "canary") == before_outside


@pytest.fixture(scope="module")
def arena() -> object:
    """A folder holding a canary sibling; each example gets a fresh subfolder beside it."""
    with tempfile.TemporaryDirectory(prefix="iacgrade-garbage-") as tmp:
        base = Path(tmp)
        (base / "canary").mkdir()
        (base / "canary" / "keep.txt").write_text("keep")
        yield base


_counter = iter(range(10**9))


def _fresh(arena: Path) -> Path:
    root = arena / f"ex{next(_counter)}"
    root.mkdir()
    return root


_HOSTILE_NAMES = st.sampled_from(
    [
        "../x.py",
        "../../canary/keep.txt",
        "/etc/passwd",
        "/tmp/x.py",
        "~/x.py",
        "..\\..\\x.py",
        "C:\\x.py",
        "lib/../../x.py",
        "a/./b/../../../x.py",
        "\x00.py",
        "con.py",
        "lib/" + "d/" * 50 + "x.py",
        "x" * 300 + ".py",
        "café/ünï.py",
        "lib/tap_stack.py",
        "app.py",
        ".",
        "..",
        "/",
        "cdk.json",
        "lib",
    ]
)
_BLOCK = st.builds(
    lambda name, style, lang, body: {
        "heading": f"## File: {name}\n\n```{lang}\n{body}\n```\n",
        "bold": f"**{name}**\n\n```{lang}\n{body}\n```\n",
        "comment": f"```{lang}\n# {name}\n{body}\n```\n",
        "open": f"### `{name}`\n```{lang}\n{body}\n",
    }[style],
    _HOSTILE_NAMES,
    st.sampled_from(["heading", "bold", "comment", "open"]),
    st.sampled_from(["python", "py", "json", "", "bash", "typescript"]),
    st.one_of(st.text(max_size=40), st.just("import aws_cdk as cdk\napp = cdk.App()\napp.synth()")),
)
_MARKDOWNISH = st.lists(st.one_of(_BLOCK, st.text(max_size=30)), max_size=12).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4000))
def test_random_bytes_never_crash_or_escape(arena: Path, data: bytes) -> None:
    root = _fresh(arena)
    before = _tree(arena / "canary")
    _ingest_and_assemble(root, data)
    _check_contained(root, before)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_MARKDOWNISH, encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]))
def test_markdown_with_hostile_names_never_escapes(arena: Path, text: str, encoding: str) -> None:
    root = _fresh(arena)
    before = _tree(arena / "canary")
    data = text.encode(encoding, errors="replace")
    sample, extraction = _ingest_and_assemble(root, data)
    _check_contained(root, before)
    if extraction is not None:
        for f in extraction.files:
            assert not f.path.startswith("/") and ".." not in f.path.split("/") and "\\" not in f.path


@pytest.mark.parametrize(
    ("data", "expect"),
    [
        (b"", "empty answer"),
        (b"   \n\t\r\n", "empty answer"),
        (b"\x00" * 100, "binary"),
        (bytes(range(256)) * 40, "binary"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "binary"),
        ("## File: app.py\n```python\nx = 'é'\n```\n".encode("utf-16"), "binary"),
    ],
)
def test_unreadable_answers_are_clear_errors(tmp_path: Path, data: bytes, expect: str) -> None:
    sample, extraction = _ingest_and_assemble(tmp_path, data)
    assert extraction is None and expect in (sample.error or ""), sample  # type: ignore[attr-defined]
    assert not (tmp_path / "ws").exists()


def test_non_utf8_is_decoded_with_a_warning(tmp_path: Path) -> None:
    data = "## File: app.py\n\n```python\nNAME = 'café'\n```\n".encode("latin-1")
    sample, extraction = _ingest_and_assemble(tmp_path, data)
    assert extraction is not None and [f.path for f in extraction.files] == ["app.py"]
    assert any("invalid UTF-8" in w for w in sample.warnings)  # type: ignore[attr-defined]
    assert "caf\ufffd" in (tmp_path / "ws" / "app.py").read_text()


def test_huge_answer_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    sample, extraction = _ingest_and_assemble(tmp_path, b"# x\n" * 600_000)  # 2.4 MB > 2 MB limit
    assert extraction is None and "too large" in (sample.error or "")  # type: ignore[attr-defined]


def test_thousands_of_blocks_are_capped(tmp_path: Path) -> None:
    blocks = "".join(f"## File: lib/m{i}.py\n\n```python\nV = {i}\n```\n\n" for i in range(MAX_FILES + 500))
    sample, extraction = _ingest_and_assemble(tmp_path, blocks.encode())
    assert extraction is not None and len(extraction.files) == MAX_FILES + 500
    written = [p for p in (tmp_path / "ws").rglob("*") if p.is_file()]
    assert len(written) == MAX_FILES
    assert any("file cap" in w for w in sample.warnings)  # type: ignore[attr-defined]


def test_one_enormous_line(tmp_path: Path) -> None:
    text = "## File: app.py\n\n```python\nX = '" + "a" * 1_500_000 + "'\n```\n"
    sample, extraction = _ingest_and_assemble(tmp_path, text.encode())
    assert extraction is not None and (tmp_path / "ws" / "app.py").stat().st_size > 1_500_000


@pytest.mark.skipif(os.geteuid() != 0 and not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_special_files_named_like_answers(tmp_path: Path) -> None:
    """A FIFO, a device and a folder named *_RESPONSE.md: clear errors, and reading never blocks."""
    answers = tmp_path / "answers"
    answers.mkdir()
    os.mkfifo(answers / "fifo_RESPONSE.md")  # reading it would block forever
    (answers / "zero_RESPONSE.md").symlink_to("/dev/zero")  # endless
    (answers / "folder_RESPONSE.md").mkdir()
    (answers / "dangling_RESPONSE.md").symlink_to(tmp_path / "nowhere")
    (answers / "ok_RESPONSE.md").write_text("## File: app.py\n\n```python\nimport os\n```\n")
    samples = {s.sample_id: s for s in discover([answers])}
    texts = {sid: read_answer(s) for sid, s in samples.items()}
    assert texts["ok_RESPONSE"] is not None
    for sid in ("fifo_RESPONSE", "zero_RESPONSE", "dangling_RESPONSE"):
        assert texts[sid] is None and samples[sid].error, sid
    assert "folder_RESPONSE" not in samples or texts["folder_RESPONSE"] is None


def test_garbage_folder_graded_end_to_end(tmp_path: Path) -> None:
    """Through the CLI: every garbage answer gets a row, the run exits 0, nothing escapes."""
    from typer.testing import CliRunner

    from cli import app

    answers = tmp_path / "answers"
    answers.mkdir()
    import random

    rng = random.Random(6)
    (answers / "random_RESPONSE.md").write_bytes(bytes(rng.randrange(256) for _ in range(5000)))
    (answers / "empty_RESPONSE.md").write_bytes(b"")
    (answers / "latin1_RESPONSE.md").write_bytes("## File: app.py\n```python\nx='é'\n```\n".encode("latin-1"))
    (answers / "traversal_RESPONSE.md").write_text(
        "## File: ../../../escaped_by_garbage.py\n\n```python\nimport os\n```\n"
        "## File: /tmp/escaped_by_garbage_abs.py\n\n```python\nimport os\n```\n"
    )
    (answers / "blocks_RESPONSE.md").write_text("```python\nimport os\n```\n" * 3000)
    os.mkfifo(answers / "fifo_RESPONSE.md")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["grade", str(answers), "--out", str(out), "--no-synth", "--no-cache", "--quiet", "--workers", "2",
         "--rubric", str(dev_rubric(tmp_path))],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 6
    kept = out / "traversal_RESPONSE" / "files"
    for found in tmp_path.rglob("escaped_by_garbage*"):
        assert found.is_relative_to(kept), found  # sanitised into the answer's own files/
    assert not Path("/tmp/escaped_by_garbage_abs.py").exists()
    assert not (ROOT.parent / "escaped_by_garbage.py").exists()
    for sid in ("random_RESPONSE", "empty_RESPONSE", "fifo_RESPONSE"):
        assert '"status": "error"' in (out / sid / "result.json").read_text()
