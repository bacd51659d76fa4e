"""Tests for graders.workspace: scaffold + answer files, moves, context, caps and write safety."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from iacgrade.graders import workspace as ws
from iacgrade.graders.extract import extract_files
from iacgrade.graders.ingest import discover, read_answer
from iacgrade.graders.models import ExtractedFile, Extraction, Sample
from iacgrade.graders.workspace import assemble

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "cdk-py"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")

TAP = (
    "import aws_cdk as cdk\nfrom lib.tap_stack import TapStack, TapStackProps\napp = cdk.App()\napp.synth()\n"
)
STACK = "from aws_cdk import Stack\n\n\nclass TapStack(Stack):\n    pass\n"


def _task(root: Path) -> Sample:
    task = root / "task"
    (task / "lib").mkdir(parents=True)
    (task / "lib" / "MODEL_RESPONSE.md").write_text("x")
    (task / "cdk.json").write_text(json.dumps({"app": "python3 tap.py", "context": {"scaffold": True}}))
    (task / "tap.py").write_text(TAP)
    return discover([task / "lib" / "MODEL_RESPONSE.md"])[0]


def _file(path: str, content: str, language: str = "python") -> ExtractedFile:
    return ExtractedFile(path=path, language=language, line=1, path_source="heading", content=content)


def _all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_scaffold_then_answer(tmp_path: Path) -> None:
    sample = _task(tmp_path)
    extraction = Extraction(
        files=[_file("lib/tap_stack.py", STACK), _file("requirements.txt", "aws-cdk-lib", "text")]
    )
    dest = tmp_path / "ws"
    workspace = assemble(sample, extraction, dest)
    assert workspace.files == ["cdk.json", "lib/tap_stack.py", "requirements.txt", "tap.py"]
    assert workspace.scaffold_files == ["cdk.json", "tap.py"]
    assert workspace.answer_files == ["lib/tap_stack.py", "requirements.txt"]
    assert workspace.moves == []
    assert (dest / "lib" / "tap_stack.py").read_text() == STACK
    assert (workspace.context_source, workspace.context) == ("scaffold", {"scaffold": True})
    assert _all_files(dest) == set(workspace.files)


def test_answer_file_replaces_scaffold_file(tmp_path: Path) -> None:
    sample = _task(tmp_path)
    own_tap = "import aws_cdk as cdk\napp = cdk.App()\napp.synth()\n"
    workspace = assemble(sample, Extraction(files=[_file("tap.py", own_tap)]), tmp_path / "ws")
    assert (tmp_path / "ws" / "tap.py").read_text() == own_tap
    assert workspace.scaffold_files == ["cdk.json"] and workspace.answer_files == ["tap.py"]


def test_stack_moved_where_the_scaffold_imports_it(tmp_path: Path) -> None:
    sample = _task(tmp_path)
    extraction = Extraction(files=[_file("tap_stack.py", STACK)])
    workspace = assemble(sample, extraction, tmp_path / "ws")
    assert [(m.src, m.dst) for m in workspace.moves] == [("tap_stack.py", "lib/tap_stack.py")]
    assert "tap.py imports lib.tap_stack" in workspace.moves[0].reason
    assert extraction.files[0].path == "lib/tap_stack.py"
    assert extraction.files[0].moved_from == "tap_stack.py"
    assert (tmp_path / "ws" / "lib" / "tap_stack.py").is_file()
    assert not (tmp_path / "ws" / "tap_stack.py").exists()


def test_sibling_modules_follow_relative_and_absolute_imports(tmp_path: Path) -> None:
    stack = "from aws_cdk import Stack\nfrom .networking import Net\nfrom lib.storage import Store\nimport constructs\n"
    extraction = Extraction(
        files=[
            _file("lib/tap_stack.py", stack),
            _file("networking.py", "class Net: pass\n"),
            _file("storage.py", "class Store: pass\n"),
            _file("constructs.py", "class Construct: pass\n"),  # never moved over the installed package
        ]
    )
    workspace = assemble(Sample(sample_id="s", source="s.md"), extraction, tmp_path / "ws")
    assert sorted((m.src, m.dst) for m in workspace.moves) == [
        ("networking.py", "lib/networking.py"),
        ("storage.py", "lib/storage.py"),
    ]
    assert "constructs.py" in workspace.files


def test_answer_entry_wins_over_scaffold_import(tmp_path: Path) -> None:
    sample = _task(tmp_path)
    app = "import aws_cdk as cdk\nfrom tap_stack import TapStack\napp = cdk.App()\napp.synth()\n"
    extraction = Extraction(files=[_file("app.py", app), _file("tap_stack.py", STACK)])
    workspace = assemble(sample, extraction, tmp_path / "ws")
    assert (
        workspace.moves == []
    )  # app.py needs it at the root; the scaffold's tap.py is not the answer's entry
    assert "tap_stack.py" in workspace.files


def test_tests_and_handlers_do_not_drive_moves(tmp_path: Path) -> None:
    extraction = Extraction(
        files=[
            _file("lambda/handler.py", "import json\n\ndef handler(event, context):\n    return 1\n"),
            _file("tests/test_handler.py", "import aws_cdk\nfrom handler import handler\n"),
        ]
    )
    workspace = assemble(Sample(sample_id="s", source="s.md"), extraction, tmp_path / "ws")
    assert workspace.moves == []


def test_answer_cdk_json_context(tmp_path: Path) -> None:
    sample = _task(tmp_path)
    cdk = '// cdk.json\n{\n  "app": "python3 app.py",\n  "context": {"k": "v // not a comment",},\n}\n'
    workspace = assemble(sample, Extraction(files=[_file("cdk.json", cdk, "json")]), tmp_path / "ws")
    assert (workspace.context_source, workspace.context) == ("answer", {"k": "v // not a comment"})


def test_invalid_answer_cdk_json_falls_back(tmp_path: Path) -> None:
    sample = _task(tmp_path)
    workspace = assemble(sample, Extraction(files=[_file("cdk.json", "{oops", "json")]), tmp_path / "ws")
    assert workspace.context_source == "scaffold"
    assert any("cdk.json" in w for w in sample.warnings)


def test_no_scaffold_no_context(tmp_path: Path) -> None:
    workspace = assemble(Sample(sample_id="s", source="s.md"), Extraction(), tmp_path / "ws")
    assert (workspace.context_source, workspace.files) == ("none", [])


def test_dest_must_be_new_or_empty(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "x").write_text("x")
    with pytest.raises(FileExistsError):
        assemble(Sample(sample_id="s", source="s.md"), Extraction(), tmp_path / "ws")
    (tmp_path / "empty").mkdir()
    assemble(Sample(sample_id="s", source="s.md"), Extraction(), tmp_path / "empty")


def test_traversal_paths_never_escape(tmp_path: Path) -> None:
    dest = tmp_path / "inner" / "ws"
    bad = ["../../escape.py", "/etc/evil.py", "..\\..\\win.py", "a/../../b.py", "x\x00.py"]
    extraction = Extraction(files=[_file(p, "import os\n") for p in bad])
    sample = Sample(sample_id="s", source="s.md")
    workspace = assemble(sample, extraction, dest)
    assert workspace.files == ["etc/evil.py"]
    assert _all_files(tmp_path) == {"inner/ws/etc/evil.py"}
    assert sum("unsafe path" in w for w in sample.warnings) == 4


def test_markdown_traversal_end_to_end(tmp_path: Path) -> None:
    md = "## File: ../../etc/x.py\n\n```python\nimport os\n```\n\n## File: /abs/path.py\n\n```python\nimport os\n```\n"
    dest = tmp_path / "a" / "ws"
    workspace = assemble(Sample(sample_id="s", source="s.md"), extract_files(md), dest)
    assert workspace.files == ["abs/path.py"]
    assert _all_files(tmp_path) == {"a/ws/abs/path.py"}


def test_scaffold_symlinks_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    sample = _task(tmp_path)
    task = Path(sample.task_root or "")
    (task / "lib" / "leak.py").symlink_to(secret)
    sample.scaffold_files.append("lib/leak.py")
    workspace = assemble(sample, Extraction(), tmp_path / "ws")
    assert "lib/leak.py" not in workspace.files
    assert any("lib/leak.py" in w for w in sample.warnings)


def _plant_after_prepare(monkeypatch: pytest.MonkeyPatch, name: str, target: Path) -> None:
    """Plant a symlink in dest right after the empty check, as a racing process could."""
    real_prepare = ws._prepare

    def prepare_then_plant(path: Path) -> None:
        real_prepare(path)
        os.symlink(target, path / name)

    monkeypatch.setattr(ws, "_prepare", prepare_then_plant)


def test_symlinked_folder_in_dest_is_not_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    _plant_after_prepare(monkeypatch, "lib", outside)
    sample = Sample(sample_id="s", source="s.md")
    workspace = assemble(sample, Extraction(files=[_file("lib/x.py", "import os\n")]), tmp_path / "ws")
    assert list(outside.iterdir()) == []
    assert workspace.files == []
    assert any("not written" in w for w in sample.warnings)


def test_symlinked_file_in_dest_is_not_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "target.txt"
    target.write_text("original")
    _plant_after_prepare(monkeypatch, "x.py", target)
    assemble(Sample(sample_id="s", source="s.md"), Extraction(files=[_file("x.py", "evil")]), tmp_path / "ws")
    assert target.read_text() == "original"


def test_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws, "MAX_FILES", 3)
    sample = Sample(sample_id="s", source="s.md")
    extraction = Extraction(files=[_file(f"f{i}.txt", "x", "text") for i in range(10)])
    workspace = assemble(sample, extraction, tmp_path / "a")
    assert len(workspace.files) == 3 and any("file cap" in w for w in sample.warnings)
    monkeypatch.setattr(ws, "MAX_BYTES", 25)
    sample = Sample(sample_id="s", source="s.md")
    extraction = Extraction(files=[_file(f"f{i}.txt", "x" * 10, "text") for i in range(3)])
    workspace = assemble(sample, extraction, tmp_path / "b")
    assert len(workspace.files) == 2 and any("size cap" in w for w in sample.warnings)


@needs_corpus
def test_corpus_pr4792_workspace(tmp_path: Path) -> None:
    sample = discover([CORPUS / "Pr4792" / "lib" / "MODEL_RESPONSE.md"])[0]
    workspace = assemble(sample, extract_files(read_answer(sample) or ""), tmp_path / "ws")
    assert workspace.files == [
        "cdk.json",
        "lambda/handler.py",
        "main.py",
        "requirements.txt",
        "tap.py",
        "tests/test_lambda.py",
    ]
    assert workspace.context_source == "answer"


@needs_corpus
def test_corpus_ideal_stack_moved_into_lib(tmp_path: Path) -> None:
    sample = discover([CORPUS / "Pr4792" / "lib" / "IDEAL_RESPONSE.md"])[0]
    workspace = assemble(sample, extract_files(read_answer(sample) or ""), tmp_path / "ws")
    assert "lib/tap_stack.py" in workspace.files
    assert [(m.src, m.dst) for m in workspace.moves] == [("tap_stack.py", "lib/tap_stack.py")]
