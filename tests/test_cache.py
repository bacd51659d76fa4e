"""The result cache and resume: keys, entries, corrupt entries, a cached rerun, a killed run resumed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iacgrade.graders.cache import ResultCache, content_hash, default_cache_dir
from iacgrade.graders.models import ExtractedFile, Extraction, Sample
from iacgrade.graders.store import read_journal, write_json_atomic
from tests.run_factory import ROOT, dev_rubric, make_result, rubric

TIMING = {"seconds", "synth_seconds", "worker", "attempts"}


def _extraction(content: str = "print(1)\n", path: str = "lib/a.py") -> Extraction:
    f = ExtractedFile(path=path, language="python", line=3, path_source="heading", content=content)
    return Extraction(files=[f])


def _key(sample: Sample, extraction: Extraction | None = None, **kw: object) -> str:
    args = {"rubric_version": "1+abc", "cdk_version": "2.200.0", "settings": {"synth": True, "timeout": 60.0}}
    args.update(kw)
    return content_hash(sample, extraction or _extraction(), **args)  # type: ignore[arg-type]


def test_key_depends_on_what_decides_the_result(tmp_path: Path) -> None:
    (tmp_path / "tap.py").write_text("app\n")
    s = Sample(sample_id="a", source="x/a.md", task_root=str(tmp_path), scaffold_files=["tap.py"])
    base = _key(s, _extraction())
    assert base == _key(Sample(**{**s.model_dump(), "sample_id": "b", "source": "y/b.md"}), _extraction())
    assert base != _key(s, _extraction("print(2)\n"))
    assert base != _key(s, _extraction(path="lib/b.py"))
    assert base != _key(s, _extraction(), rubric_version="1+def")
    assert base != _key(s, _extraction(), cdk_version="2.201.0")
    assert base != _key(s, _extraction(), settings={"synth": False, "timeout": 60.0})
    (tmp_path / "tap.py").write_text("app2\n")
    assert base != _key(s, _extraction())


def test_key_of_a_model_answer_depends_on_its_reviewer_report(tmp_path: Path) -> None:
    """The result holds the reviewer's claims judged against the answer (graders/reviewer.py)."""
    (tmp_path / "lib").mkdir()
    model = Sample(sample_id="a", source="lib/MODEL_RESPONSE.md", role="model", task_root=str(tmp_path))
    ideal = Sample(**{**model.model_dump(), "role": "ideal"})
    before = _key(model), _key(ideal)
    (tmp_path / "lib" / "MODEL_FAILURES.md").write_text("- No throttling.\n")
    assert _key(model) != before[0]
    assert _key(ideal) == before[1]  # only a MODEL answer's report lists the claims


def test_default_cache_dir_honours_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IACGRADE_CACHE_DIR", str(tmp_path / "own"))
    assert default_cache_dir() == tmp_path / "own"
    monkeypatch.delenv("IACGRADE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "iacgrade"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "iacgrade"


def _sample_folder(folder: Path, key: str) -> None:
    result = make_result("s", [("unused-import", None, 4)], rubric()).model_copy(update={"content_hash": key})
    write_json_atomic(folder / "result.json", result.model_dump(mode="json"))
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "TapStack.template.json").write_text('{"Resources": {}}')
    (folder / "report.md").write_text("# not cached\n")


def test_put_and_get_round_trip(tmp_path: Path) -> None:
    cache, key = ResultCache(tmp_path / "cache"), "ab" * 32
    _sample_folder(tmp_path / "src", key)
    assert cache.put(key, tmp_path / "src", make_result("s", [], rubric()))
    dest = tmp_path / "out" / "s"
    got = cache.get(key, dest)
    assert got is not None and got.content_hash == key and got.findings[0].check == "unused-import"
    assert (dest / "templates" / "TapStack.template.json").read_text() == '{"Resources": {}}'
    assert not (dest / "report.md").exists()
    assert cache.get("cd" * 32, dest) is None


def test_a_hit_links_the_entry_s_read_only_files(tmp_path: Path) -> None:
    """A hit writes no file's bytes: the run folder's files are hard links to the entry's, which
    are read-only; the result.json the run rewrites is replaced, never written through."""
    cache, key = ResultCache(tmp_path / "cache"), "ab" * 32
    _sample_folder(tmp_path / "src", key)
    assert cache.put(key, tmp_path / "src", make_result("s", [], rubric()))
    dest = tmp_path / "out" / "s"
    assert cache.get(key, dest) is not None
    stored = cache.entry_dir(key) / "data" / "templates" / "TapStack.template.json"
    linked = dest / "templates" / "TapStack.template.json"
    assert os.path.samefile(stored, linked) and stored.stat().st_mode & 0o777 == 0o444
    write_json_atomic(dest / "result.json", {"rewritten": True})
    assert json.loads((cache.entry_dir(key) / "data" / "result.json").read_text())["content_hash"] == key
    assert cache.get(key, tmp_path / "again") is not None


@pytest.mark.parametrize(
    "damage", ["bad-json", "missing-file", "truncated", "other-key", "no-entry-json", "outside"]
)
def test_corrupt_entries_are_ignored_and_dropped(tmp_path: Path, damage: str) -> None:
    cache, key = ResultCache(tmp_path / "cache"), "ef" * 32
    _sample_folder(tmp_path / "src", key)
    cache.put(key, tmp_path / "src", make_result("s", [], rubric()))
    entry = cache.entry_dir(key)
    if damage == "bad-json":
        (entry / "data" / "result.json").write_text("{not json" + " " * 5000)
    elif damage == "missing-file":
        (entry / "data" / "templates" / "TapStack.template.json").unlink()
    elif damage == "truncated":
        (entry / "data" / "templates" / "TapStack.template.json").write_text("{")
    elif damage == "other-key":
        meta = json.loads((entry / "entry.json").read_text())
        meta["key"] = "00" * 32
        (entry / "entry.json").write_text(json.dumps(meta))
    elif damage == "outside":  # an entry.json that names a file out of the entry is not ours
        (tmp_path / "elsewhere.txt").write_text("x")
        meta = json.loads((entry / "entry.json").read_text())
        meta["files"]["../../../../../elsewhere.txt"] = 1
        (entry / "entry.json").write_text(json.dumps(meta))
    else:
        (entry / "entry.json").unlink()
    assert cache.get(key, tmp_path / "out") is None
    assert not entry.exists()  # dropped, so the run rebuilds it


# --- through the pipeline ----------------------------------------------------------------------


def _grade(args: list[str]) -> dict:
    from typer.testing import CliRunner

    from iacgrade.cli import app

    result = CliRunner().invoke(app, ["grade", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def _normalized(out: Path) -> dict[str, object]:
    """Every result.json of a run with timing fields dropped."""

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in TIMING}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return {
        p.parent.relative_to(out).as_posix(): strip(json.loads(p.read_text()))
        for p in out.rglob("result.json")
    }


def test_second_run_is_served_from_the_cache_and_identical(tmp_path: Path) -> None:
    rub = str(dev_rubric(tmp_path))
    common = ["--no-synth", "--rubric", rub, "--cache-dir", str(tmp_path / "cache"), "--workers", "2"]
    first = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "one"), *common])
    second = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "two"), *common])
    graded = first["graded"]
    assert first["cache_hits"] == 0 and second["cache_hits"] == graded > 0
    assert _normalized(tmp_path / "one") == _normalized(tmp_path / "two")
    again = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "two"), *common])  # same folder: resume
    assert again["resumed"] == graded and again["cache_hits"] == 0
    forced = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "two"), *common, "--no-cache"])
    assert forced["resumed"] == 0 and forced["cache_hits"] == 0
    manifest = json.loads((tmp_path / "two" / "run.json").read_text())
    assert manifest["cache_dir"] is None and manifest["finished"]


def test_no_cache_grades_afresh_and_refreshes_the_entries(tmp_path: Path) -> None:
    rub = str(dev_rubric(tmp_path))
    common = ["--no-synth", "--rubric", rub, "--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    first = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "one"), *common])
    # Spoil every entry's total and keep its file list right: a stale result, as a change outside
    # the key would leave it.
    for result in (tmp_path / "cache").rglob("data/result.json"):
        data = json.loads(result.read_text())
        if data["total"] is None:
            continue
        data["total"] = -1.0
        result.write_text(json.dumps(data))
        meta_path = result.parent.parent / "entry.json"
        meta = json.loads(meta_path.read_text())
        meta["files"]["result.json"] = result.stat().st_size
        meta_path.write_text(json.dumps(meta))
    stale = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "stale"), *common])
    assert stale["cache_hits"] == first["graded"]
    assert any(v.get("total") == -1.0 for v in _normalized(tmp_path / "stale").values())  # served stale
    forced = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "forced"), *common, "--no-cache"])
    assert forced["cache_hits"] == 0 and forced["graded"] == first["graded"]
    again = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "again"), *common])
    assert again["cache_hits"] == first["graded"]
    assert _normalized(tmp_path / "again") == _normalized(tmp_path / "one")  # the entries were refreshed


def test_an_unchanged_answer_is_found_by_its_text_without_extracting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import iacgrade.graders.pipeline as pipeline

    rub = str(dev_rubric(tmp_path))
    common = ["--no-synth", "--rubric", rub, "--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    first = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "one"), *common])
    aliases = sorted((tmp_path / "cache").rglob("by-text/*/*.json"))
    assert len(aliases) == first["graded"] > 0

    def no_extraction(text: str) -> None:
        raise AssertionError("a cached answer was extracted again")

    monkeypatch.setattr(pipeline, "extract_files", no_extraction)
    second = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "two"), *common])
    assert second["cache_hits"] == first["graded"]
    assert _normalized(tmp_path / "one") == _normalized(tmp_path / "two")


@pytest.mark.parametrize("damage", ["garbage", "stale key"])
def test_a_bad_alias_only_means_the_long_way(tmp_path: Path, damage: str) -> None:
    rub = str(dev_rubric(tmp_path))
    common = ["--no-synth", "--rubric", rub, "--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    first = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "one"), *common])
    for alias in (tmp_path / "cache").rglob("by-text/*/*.json"):
        if damage == "garbage":
            alias.write_text("{not json")
        else:
            alias.write_text(json.dumps({"key": "0" * 64, "notes": []}))
    second = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "two"), *common])
    assert second["cache_hits"] == first["graded"]  # found by the content key after extracting
    assert _normalized(tmp_path / "one") == _normalized(tmp_path / "two")
    repaired = [json.loads(a.read_text())["key"] for a in (tmp_path / "cache").rglob("by-text/*/*.json")]
    assert repaired and "0" * 64 not in repaired  # the hit wrote the alias again


def test_killed_run_resumes_and_grades_every_answer_once(tmp_path: Path) -> None:
    answers = tmp_path / "answers"
    sample_files = sorted((ROOT / "samples").glob("*RESPONSE*.md"))
    for i in range(240):
        src = sample_files[i % len(sample_files)]
        (answers / f"a{i:03d}").mkdir(parents=True)
        (answers / f"a{i:03d}" / src.name).write_text(src.read_text() + f"\n<!-- copy {i} -->\n")
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "cli",
        "grade",
        str(answers),
        "--out",
        str(out),
        "--no-synth",
        "--quiet",
        "--workers",
        "1",
        "--rubric",
        str(dev_rubric(tmp_path)),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(read_journal(out)) < 30:
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(read_journal(out))
    assert 0 < done_before < 240
    assert json.loads((out / "run.json").read_text())["finished"] is None

    rerun = subprocess.run(cmd + ["--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["samples"] == 240 and summary["resumed"] >= done_before - 1
    # "Done" = graded, or copied from the cache (identical copies share a key); "resume" = kept as it was.
    done: dict[str, int] = {}
    for entry in read_journal(out):
        if entry["how"] in ("graded", "cache"):
            done[entry["sample_id"]] = done.get(entry["sample_id"], 0) + 1
    assert max(done.values()) == 1, "an answer was graded twice"
    # Every answer is done exactly once: graded (or copied) in one of the two runs, or graded by the
    # killed run and kept on resume (its journal line was still buffered when SIGKILL came).
    resumed = {e["sample_id"] for e in read_journal(out) if e["how"] == "resume"}
    assert len(set(done) | resumed) == 240, "an answer was neither graded nor kept"
    import pandas as pd

    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 240 and table["sample_id"].is_unique
    assert json.loads((out / "run.json").read_text())["finished"]
    shutil.rmtree(out)


def test_a_hit_writes_result_json_again_only_for_a_moved_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import iacgrade.graders.cache as cache

    rub = str(dev_rubric(tmp_path))
    common = ["--no-synth", "--rubric", rub, "--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    first = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "one"), *common])
    written: list[Path] = []
    real = cache.write_json_atomic

    def counting(path: Path, data: object) -> None:
        if path.name == "result.json":
            written.append(path)
        real(path, data)

    monkeypatch.setattr(cache, "write_json_atomic", counting)
    same = _grade([str(ROOT / "samples"), "--out", str(tmp_path / "two"), *common])
    assert same["cache_hits"] == first["graded"] > 0 and written == []
    for path in (tmp_path / "one").rglob("result.json"):  # byte for byte the first run's files
        assert (tmp_path / "two" / path.relative_to(tmp_path / "one")).read_bytes() == path.read_bytes()
    shutil.copytree(ROOT / "samples", tmp_path / "moved")
    moved = _grade([str(tmp_path / "moved"), "--out", str(tmp_path / "three"), *common])
    assert moved["cache_hits"] == first["graded"] and len(written) == first["graded"]
    sources = {json.loads(p.read_text())["source"] for p in (tmp_path / "three").rglob("result.json")}
    assert sources and all(s.startswith(str(tmp_path / "moved")) for s in sources)
