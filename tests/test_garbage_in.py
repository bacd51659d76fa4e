"""Garbage in: ingest -> extract -> assemble end to end, on anything at all.

tests/test_extract.py fuzzes the extractor alone; here whole answer files of random bytes,
markdown-like noise with hostile file names, non-UTF-8 encodings, empty and huge files go
through discovery, reading, extraction and workspace assembly, and we check the filesystem:
nothing crashes, and nothing is written anywhere but the workspace. Folders of odd names and
symlinks (out of the folder, into it, loops, dangling, linked folders) go through discovery:
nothing outside the named folder is ever read.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iacgrade.graders.extract import extract_files
from iacgrade.graders.ingest import discover, read_answer
from iacgrade.graders.models import Extraction
from iacgrade.graders.workspace import MAX_FILES, assemble
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
        (base / "canary" / "secret_RESPONSE.md").write_text(_CANARY_ANSWER)
        yield base


_counter = iter(range(10**9))
_CANARY_ANSWER = "## File: app.py\n\n```python\nCANARY = 'read from outside the folder'\n```\n"


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


# File names: anything a Linux file name may hold (no "/" or NUL), kept well under 255 bytes.
_NAME_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00")
_ODD_NAME = st.one_of(
    st.text(_NAME_CHARS, max_size=20),
    st.sampled_from(["-rf ", " ", "\n", "*", "[a]", "?", "..", ".", "~", "\\", "$(id)", "é", "\u202e"]),
).map(lambda prefix: prefix + "_RESPONSE.md")
_ENTRY_KINDS = (
    "file",  # a regular answer
    "link-in",  # a symlink to a regular answer inside the folder
    "link-out",  # a symlink to an answer outside the folder: never read
    "link-dir-out",  # a symlink to the folder outside: never entered
    "link-dir-loop",  # a symlink to an ancestor: never entered
    "loop",  # a symlink to itself
    "dangling",
)
_ENTRIES = st.lists(
    st.tuples(
        st.sampled_from(["", "sub", "sub/deeper", "Pr1/lib"]), _ODD_NAME, st.sampled_from(_ENTRY_KINDS)
    ),
    max_size=8,
    unique_by=lambda e: (e[0], e[1]),
)


def _plant(
    answers: Path, canary: Path, entries: list[tuple[str, str, str]]
) -> tuple[dict[str, str], dict[str, str]]:
    """Build the folder; return the sample ids discovery must report, each with "ok" or "error"
    (once read), and the text each readable one holds."""
    target = answers / "real.md"
    target.write_text("inside answer")
    (answers / "Pr1").mkdir()
    (answers / "Pr1" / "cdk.json").symlink_to(canary / "keep.txt")  # a linked task file too
    expected: dict[str, str] = {}
    texts: dict[str, str] = {}
    for n, (folder, name, kind) in enumerate(entries):
        path = answers / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sid = f"{folder}/{name[:-3]}".lstrip("/")
        if kind == "file":
            path.write_text(texts.setdefault(sid, f"answer {n}"))
        elif kind == "link-in":
            path.symlink_to(target)
            texts[sid] = "inside answer"
        elif kind == "link-out":
            path.symlink_to(canary / "secret_RESPONSE.md")
        elif kind == "link-dir-out":
            path.symlink_to(canary, target_is_directory=True)
        elif kind == "link-dir-loop":
            path.symlink_to(answers, target_is_directory=True)
        elif kind == "loop":
            path.symlink_to(name)
        else:
            path.symlink_to(answers / "gone" / name)
        if kind in ("file", "link-in"):
            expected[sid] = "ok"
        elif kind not in ("link-dir-out", "link-dir-loop"):  # linked folders are not samples
            expected[sid] = "error"
    return expected, texts


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=_ENTRIES)
def test_odd_names_and_symlinks_never_read_outside(arena: Path, entries: list[tuple[str, str, str]]) -> None:
    root = _fresh(arena)
    answers = root / "answers"
    answers.mkdir()
    before = _tree(arena / "canary")
    expected, expected_texts = _plant(answers, arena / "canary", entries)
    samples = discover([answers])
    if not expected:
        assert [s.status for s in samples] == ["error"] and "no files matching" in (samples[0].error or "")
        return
    texts = {s.sample_id: read_answer(s) for s in samples}
    assert {s.sample_id: s.status for s in samples} == expected  # after reading: a dangling link fails there
    real_answers = answers.resolve()
    for sample in samples:
        text = texts[sample.sample_id]
        assert "CANARY" not in (text or "") and "keep" not in (text or "")
        assert "keep" not in " ".join(sample.warnings)
        if text is not None:
            assert Path(sample.source).resolve().is_relative_to(real_answers)
            assert text == expected_texts[sample.sample_id]
        else:
            assert sample.status == "error" and sample.error
        if sample.task_id is not None:  # Pr1/lib/...: its linked cdk.json is left out, with a warning
            assert sample.scaffold_files == [] and sample.entry_file is None
            assert any("cdk.json not used" in w for w in sample.warnings)
    assert _tree(arena / "canary") == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_ODD_NAME, text=_MARKDOWNISH)
def test_odd_answer_names_go_through_the_front(arena: Path, name: str, text: str) -> None:
    root = _fresh(arena)
    before = _tree(arena / "canary")
    sample, _ = _ingest_and_assemble(root, text.encode(), name)
    assert sample.sample_id == name[:-3]  # type: ignore[attr-defined]
    _check_contained(root, before)


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

    from iacgrade.cli import app

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
    (answers / "passwd_RESPONSE.md").symlink_to("/etc/passwd")
    (tmp_path / "outside_RESPONSE.md").write_text("## File: app.py\n```python\nCANARY = 1\n```\n")
    (answers / "outside_RESPONSE.md").symlink_to(tmp_path / "outside_RESPONSE.md")
    (answers / "loop").symlink_to(answers, target_is_directory=True)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["grade", str(answers), "--out", str(out), "--no-synth", "--no-cache", "--quiet", "--workers", "2",
         "--rubric", str(dev_rubric(tmp_path))],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 8
    kept = out / "traversal_RESPONSE" / "files"
    for found in tmp_path.rglob("escaped_by_garbage*"):
        assert found.is_relative_to(kept), found  # sanitised into the answer's own files/
    assert not Path("/tmp/escaped_by_garbage_abs.py").exists()
    assert not (ROOT.parent / "escaped_by_garbage.py").exists()
    for sid in ("random_RESPONSE", "empty_RESPONSE", "fifo_RESPONSE", "passwd_RESPONSE", "outside_RESPONSE"):
        assert '"status": "error"' in (out / sid / "result.json").read_text()
    assert "outside the folders being graded" in (out / "passwd_RESPONSE" / "result.json").read_text()
    for written in out.rglob("*"):  # nothing read through a link reached the output
        if written.is_file():
            content = written.read_bytes()
            assert b"root:x:0:0" not in content and b"CANARY" not in content, written
