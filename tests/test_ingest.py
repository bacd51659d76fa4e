"""Tests for graders.ingest: discovery, task layout, and every kind of bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from iacgrade.graders.ingest import discover, read_answer, scaffold_of
from iacgrade.graders.models import Sample

ROOT = Path(__file__).resolve().parents[1]
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
    assert model.role == "model" and samples[0].role == "ideal"
    assert model.task_id == "Pr1"
    assert model.task_root == str((tmp_path / "Pr1").resolve())
    assert model.entry_file == "tap.py"
    assert model.scaffold_files == ["cdk.json", "tap.py"]
    assert model.metadata == {"platform": "cdk", "language": "py"}
    assert model.reference_id == "Pr1/lib/IDEAL_RESPONSE"
    assert model.reference_path == str(tmp_path / "Pr1" / "lib" / "IDEAL_RESPONSE.md")
    assert samples[0].reference_id is None


def test_a_task_folder_is_read_once_for_all_its_answers(tmp_path: Path, monkeypatch) -> None:
    """Every answer of a task gets the folder's description (the same values, its own copies),
    read from the folder once per discovery, not once per answer."""
    from iacgrade.graders import ingest

    task = _task(tmp_path)
    (task / "metadata.json").write_text("{not json")  # a warning each answer must still carry
    (task / "lib" / "MODEL_RESPONSE2.md").write_text("## File: lib/tap_stack.py\n")
    reads: list[str] = []
    real = ingest._read_metadata

    def counted(root: Path, *args: Any) -> Any:
        reads.append(root.name)
        return real(root, *args)

    monkeypatch.setattr(ingest, "_read_metadata", counted)
    samples = discover([tmp_path])
    assert len(samples) == 3 and reads == ["Pr1"]
    for s in samples:
        assert (s.task_id, s.entry_file, s.scaffold_files) == ("Pr1", "tap.py", ["cdk.json", "tap.py"])
        assert sum("metadata.json" in w for w in s.warnings) == 1
    samples[0].scaffold_files.append("x")
    samples[0].metadata["y"] = 1
    assert samples[1].scaffold_files == ["cdk.json", "tap.py"] and samples[1].metadata == {}


def test_control_bytes_are_counted_as_before(tmp_path: Path) -> None:
    """Tab, newline, form feed and carriage return are text; 10% other control bytes is binary."""
    from iacgrade.graders.ingest import mostly_binary

    assert not mostly_binary(b"\t\n\x0c\r" * 100)
    assert not mostly_binary(b"\x01" + b"a" * 10)  # 1 in 11: just under 10%
    assert mostly_binary(b"\x01\x1f" + b"a" * 10)
    assert mostly_binary(bytes([11, 27, 0]) + b"ab")


def test_entry_in_bin_and_scaffold_lib_python(tmp_path: Path) -> None:
    task = _task(tmp_path, app="PYTHONPATH=. .venv/bin/python3 bin/tap.py")
    (task / "lib" / "__init__.py").write_text("")
    sample = discover([task / "lib" / "MODEL_RESPONSE.md"])[0]
    assert sample.sample_id == "MODEL_RESPONSE"
    assert sample.entry_file == "bin/tap.py"
    assert sample.scaffold_files == ["bin/tap.py", "cdk.json", "lib/__init__.py"]
    assert not any(f.endswith(".md") or f == "metadata.json" for f in sample.scaffold_files)


def test_a_reference_stack_in_lib_is_not_scaffold(tmp_path: Path) -> None:
    """A task folder that keeps its reference code in lib/ must not have it graded for the answer."""
    from iacgrade.graders.extract import extract_files
    from iacgrade.graders.workspace import assemble

    task = _task(tmp_path)
    (task / "lib" / "tap_stack.py").write_text("REFERENCE = True\n")
    (task / "lib" / "helpers.py").write_text("REFERENCE = True\n")
    (task / "bin").mkdir()
    (task / "bin" / "deploy.py").write_text("REFERENCE = True\n")
    answer = task / "lib" / "MODEL_RESPONSE.md"
    answer.write_text("## tap_stack.py\n\n```python\nclass TapStack:\n    pass\n```\n")
    sample = discover([answer])[0]
    assert sample.scaffold_files == ["cdk.json", "tap.py"]
    text = read_answer(sample)
    assert text is not None
    workspace = assemble(sample, extract_files(text), tmp_path / "ws")
    stack = (tmp_path / "ws" / "lib" / "tap_stack.py").read_text()
    assert "class TapStack" in stack and "REFERENCE" not in stack
    assert [(m.src, m.dst) for m in workspace.moves] == [("tap_stack.py", "lib/tap_stack.py")]
    assert not (tmp_path / "ws" / "lib" / "helpers.py").exists()


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
    assert (only.sample_id, only.role, only.task_root) == ("answer", "other", None)


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
    if os.geteuid() != 0:  # root reads anything: see the test below
        path.write_text("x")
        path.chmod(0)
        other = _sample(path)
        assert read_answer(other) is None and "cannot read" in (other.error or "")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="root with setpriv only")
def test_unreadable_answer_as_root_without_the_override(tmp_path: Path) -> None:
    """CI runs as root, which reads a mode-000 file; without CAP_DAC_OVERRIDE it cannot, so the
    permission error is real here too, in a whole `grade` that goes on past it."""
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "locked_RESPONSE.md").write_text("# x\n")
    (answers / "locked_RESPONSE.md").chmod(0)
    (answers / "fine_RESPONSE.md").write_text("No code here.\n")
    drop = ["--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]
    out = tmp_path / "out"
    cmd = ["setpriv", *drop, sys.executable, "-m", "cli", "grade", str(answers), "--out", str(out)]
    done = subprocess.run(
        [*cmd, "--no-synth", "--no-cache", "--quiet", "--json"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    locked = json.loads((out / "locked_RESPONSE" / "result.json").read_text())
    assert locked["status"] == "error" and "Permission denied" in locked["error"]
    assert json.loads((out / "fine_RESPONSE" / "result.json").read_text())["status"] == "graded"


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
    assert model.task_id == "Pr4792" and model.role == "model"
    assert model.reference_id == "Pr4792/lib/IDEAL_RESPONSE"
    assert model.entry_file == "tap.py" and model.scaffold_files == ["cdk.json", "tap.py"]
    assert by_id["Pr6232/lib/MODEL_RESPONSE"].entry_file == "bin/tap.py"
    assert by_id["Pr7267/lib/MODEL_RESPONSE"].scaffold_files == ["bin/app.py", "cdk.json", "tap.py"]
    # no task's lib/ holds Python here; test_a_reference_stack_in_lib_is_not_scaffold covers one that does
    assert all(read_answer(s) is not None for s in samples)


# --- symlinks: never read outside what the user named ------------------------------------


def _secret(tmp_path: Path) -> Path:
    """A file outside every folder the tests grade, holding text that must never be read."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    secret = outside / "secret_RESPONSE.md"
    secret.write_text("## File: app.py\n\n```python\nSECRET = 'do-not-read'\n```\n")
    return secret


def test_symlinked_answer_outside_the_folder_is_refused(tmp_path: Path) -> None:
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "ok_RESPONSE.md").write_text("fine")
    (answers / "passwd_RESPONSE.md").symlink_to("/etc/passwd")
    (answers / "secret_RESPONSE.md").symlink_to(Path("..") / "outside" / _secret(tmp_path).name)
    samples = {s.sample_id: s for s in discover([answers])}
    assert read_answer(samples["ok_RESPONSE"]) == "fine"
    for sid in ("passwd_RESPONSE", "secret_RESPONSE"):
        sample = samples[sid]
        assert sample.status == "error" and sample.size_bytes == 0, sid
        assert "symlink to a file outside the folders being graded" in (sample.error or "")
        assert sample.source in (sample.error or "")
        assert read_answer(sample) is None and sample.status == "error"


def test_symlinked_answer_inside_the_folder_is_read(tmp_path: Path) -> None:
    answers = tmp_path / "answers"
    (answers / "shared").mkdir(parents=True)
    (answers / "shared" / "answer.md").write_text("shared answer")
    (answers / "run1").mkdir()
    (answers / "run1" / "MODEL_RESPONSE.md").symlink_to(Path("..") / "shared" / "answer.md")
    (sample,) = discover([answers])
    assert sample.sample_id == "run1/MODEL_RESPONSE"
    assert read_answer(sample) == "shared answer"


def test_link_target_may_be_in_another_named_path(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "x_RESPONSE.md").symlink_to(secret)
    alone = {s.sample_id: s.status for s in discover([answers])}
    assert alone == {"x_RESPONSE": "error"}
    with_folder = {s.sample_id: s.status for s in discover([answers, secret.parent])}
    assert with_folder == {"x_RESPONSE": "ok", "secret_RESPONSE": "ok"}
    with_file = {s.sample_id: s.status for s in discover([answers, secret])}
    assert with_file == {"x_RESPONSE": "ok", "secret_RESPONSE": "ok"}


def test_symlink_named_on_the_command_line_is_read(tmp_path: Path) -> None:
    """The user named it: a linked file or folder given as PATH is followed."""
    secret = _secret(tmp_path)
    link = tmp_path / "link_RESPONSE.md"
    link.symlink_to(secret)
    (sample,) = discover([link])
    assert sample.sample_id == "link_RESPONSE" and sample.source == str(link)
    assert "do-not-read" in (read_answer(sample) or "")
    folder_link = tmp_path / "linked-folder"
    folder_link.symlink_to(secret.parent, target_is_directory=True)
    (sample,) = discover([folder_link])
    assert sample.sample_id == "secret_RESPONSE" and read_answer(sample) is not None


def test_symlink_loops_as_answers_are_errors(tmp_path: Path) -> None:
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "self_RESPONSE.md").symlink_to("self_RESPONSE.md")
    (answers / "a_RESPONSE.md").symlink_to("b_RESPONSE.md")
    (answers / "b_RESPONSE.md").symlink_to("a_RESPONSE.md")
    samples = discover([answers])
    assert [s.sample_id for s in samples] == ["a_RESPONSE", "b_RESPONSE", "self_RESPONSE"]
    for sample in samples:
        assert sample.status == "error" and "symlink loop" in (sample.error or ""), sample
    (named,) = discover([answers / "self_RESPONSE.md"])
    assert named.status == "error" and "looping symlink" in (named.error or "")


def test_dangling_answer_link_is_an_error(tmp_path: Path) -> None:
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "in_RESPONSE.md").symlink_to("gone.md")  # would be inside: reading says it is missing
    (answers / "out_RESPONSE.md").symlink_to(tmp_path / "gone.md")  # outside: refused unread
    samples = {s.sample_id: s for s in discover([answers])}
    assert read_answer(samples["in_RESPONSE"]) is None and "no such file" in (
        samples["in_RESPONSE"].error or ""
    )
    assert "outside the folders" in (samples["out_RESPONSE"].error or "")


def test_directory_symlinks_are_not_followed(tmp_path: Path) -> None:
    """Loops cannot hang the search, linked folders cannot duplicate or leak answers."""
    secret = _secret(tmp_path)
    answers = tmp_path / "answers"
    (answers / "task" / "lib").mkdir(parents=True)
    (answers / "task" / "lib" / "MODEL_RESPONSE.md").write_text("model")
    (answers / "task" / "lib" / "loop").symlink_to("..", target_is_directory=True)
    (answers / "task" / "root-loop").symlink_to(answers, target_is_directory=True)
    (answers / "again").symlink_to("task", target_is_directory=True)
    (answers / "outside").symlink_to(secret.parent, target_is_directory=True)
    samples = discover([answers])
    assert [s.sample_id for s in samples] == ["task/lib/MODEL_RESPONSE"]
    assert samples[0].status == "ok"


def test_folder_with_only_linked_folders_says_so(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "outside").symlink_to(secret.parent, target_is_directory=True)
    (sample,) = discover([answers])
    assert sample.status == "error"
    assert "no files matching" in (sample.error or "") and "symlinks are not followed: outside" in (
        sample.error or ""
    )


def test_scaffold_symlinks_are_left_out_with_a_warning(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    task = _task(tmp_path, app="python3 bin/tap.py")
    (task / "tap.py").symlink_to(secret)  # outside the task
    (task / "app.py").symlink_to(task / "bin" / "tap.py")  # inside the task, still a link
    (task / "lib" / "__init__.py").symlink_to("/etc/passwd")
    (task / "metadata.json").unlink()
    (task / "metadata.json").symlink_to(secret)
    sample = discover([task / "lib" / "MODEL_RESPONSE.md"])[0]
    assert sample.status == "ok" and sample.task_id == "Pr1"
    assert sample.scaffold_files == ["bin/tap.py", "cdk.json"]
    assert sample.metadata == {}
    text = " | ".join(sample.warnings)
    assert "tap.py not used: it is a symlink (to outside the task folder)" in text
    assert "app.py not used: it is a symlink (to inside the task folder)" in text
    assert "lib/__init__.py not used" in text and "metadata.json not used" in text
    assert "secret" not in text and "do-not-read" not in text  # the target is not named


def test_linked_cdk_json_and_entry_folder_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "bin").mkdir(parents=True)
    (outside / "bin" / "tap.py").write_text("SECRET = 1\n")
    (outside / "cdk.json").write_text(json.dumps({"app": "python3 bin/tap.py"}))
    task = _task(tmp_path)
    (task / "cdk.json").unlink()
    (task / "cdk.json").symlink_to(outside / "cdk.json")
    sample = discover([task / "lib" / "MODEL_RESPONSE.md"])[0]
    assert sample.entry_file is None  # cdk.json was not read
    assert sample.scaffold_files == ["tap.py"]
    assert any("cdk.json not used" in w for w in sample.warnings)

    # cdk.json is real and names bin/tap.py, but bin/ is a link out of the task
    (task / "cdk.json").unlink()
    (task / "cdk.json").write_text(json.dumps({"app": "python3 bin/tap.py"}))
    (task / "bin").symlink_to(outside / "bin", target_is_directory=True)
    sample = discover([task / "lib" / "MODEL_RESPONSE.md"])[0]
    assert sample.entry_file == "bin/tap.py"
    assert "bin/tap.py" not in sample.scaffold_files
    assert any("bin/tap.py not used: bin is a symlink (to outside" in w for w in sample.warnings)
    assert not any("does not have" in w for w in sample.warnings)  # one clear warning, not two


def test_task_marked_only_by_a_link_is_still_a_task(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    task = tmp_path / "Pr2"
    (task / "lib").mkdir(parents=True)
    (task / "lib" / "MODEL_RESPONSE.md").write_text("model")
    (task / "cdk.json").symlink_to(secret)
    sample = discover([task])[0]
    assert sample.task_id == "Pr2" and sample.scaffold_files == [] and sample.entry_file is None
    assert any("cdk.json not used" in w for w in sample.warnings)


def test_scaffold_option_skips_links(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    scaffold = tmp_path / "scaffold"
    scaffold.mkdir()
    (scaffold / "cdk.json").write_text(json.dumps({"app": "python3 app.py"}))
    (scaffold / "app.py").symlink_to(secret)
    (scaffold / "tap.py").write_text(TAP)
    assert scaffold_of(scaffold) == (["cdk.json", "tap.py"], "app.py")
    linked = tmp_path / "scaffold-link"
    linked.symlink_to(scaffold, target_is_directory=True)
    assert scaffold_of(linked) == (["cdk.json", "tap.py"], "app.py")  # the named folder is followed


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_fifo_swapped_in_after_the_check_does_not_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a_RESPONSE.md"
    path.write_text("x")
    sample = _sample(path)
    path.unlink()
    os.mkfifo(path)
    monkeypatch.setattr(Path, "is_file", lambda self: True)  # as if swapped after the check
    assert read_answer(sample) is None
    assert "not a regular file" in (sample.error or "")


def test_symlink_swapped_in_after_discovery_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "answers"
    root.mkdir()
    secret = tmp_path / "secret.md"
    secret.write_text("# not an answer\n\nhost data\n")
    answer = root / "a_RESPONSE.md"
    answer.write_text("# answer\n")
    (sample,) = discover([root])
    assert sample.follow_link is False
    answer.unlink()
    answer.symlink_to(secret)  # swapped in between discovery and reading
    assert read_answer(sample) is None
    assert "became a symlink" in (sample.error or "")


def test_a_named_symlink_is_still_read(tmp_path: Path) -> None:
    target = tmp_path / "real.md"
    target.write_text("# answer\n\ntext\n")
    link = tmp_path / "named_RESPONSE.md"
    link.symlink_to(target)
    (sample,) = discover([link])
    assert sample.follow_link is True
    assert read_answer(sample) == "# answer\n\ntext\n"
