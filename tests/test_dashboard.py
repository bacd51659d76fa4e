"""The HTML dashboard: self-contained, and it renders in headless Chromium with no console errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iacgrade.cli import app
from iacgrade.graders.runs import load_run
from iacgrade.reports.dashboard import dashboard_html
from tests.run_factory import ROOT, corpus_like, rubric, write_run

ARTIFACTS = ROOT / "test-artifacts"


def _runs(tmp_path: Path) -> list[Path]:
    return [
        write_run(tmp_path / "v1", corpus_like(rubric()), label="model-v1"),
        write_run(tmp_path / "v2", corpus_like(rubric(unused_import="medium"), 10), label="model-v2"),
        write_run(tmp_path / "v3", corpus_like(rubric(unused_import="high")), label="model-v3"),
    ]


def test_dashboard_is_self_contained(tmp_path: Path) -> None:
    html = dashboard_html([load_run(p) for p in _runs(tmp_path)], worst=5)
    assert html.count('<svg class="chart"') >= 8  # trend, 6 distributions, synth, check bars
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no remote resources"
    assert "<link" not in html and "@import" not in html
    assert html.count('class="report card"') == 5 and 'href="#report-1"' in html
    assert "<script>alert(1)</script>" not in html  # report text is escaped, never raw HTML
    assert "iam-wildcard-action" in html and "model-v3" in html
    assert html == dashboard_html([load_run(p) for p in _runs(tmp_path)], worst=5)


def test_dashboard_command(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    out = tmp_path / "d.html"
    result = CliRunner().invoke(app, ["dashboard", *map(str, runs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert CliRunner().invoke(app, ["dashboard", str(tmp_path / "none"), "--out", str(out)]).exit_code == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_dashboard_renders_in_headless_chromium(tmp_path: Path) -> None:
    if _chromium() is None:
        # CI must run this test, not pass it by skipping: `make test` installs chromium there.
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed, and CI is set: `make test` should have installed it")
        pytest.skip("chromium is not installed (make test installs it)")
    out = tmp_path / "dashboard.html"
    write_dashboard_for = [load_run(p) for p in _runs(tmp_path)]
    out.write_text(dashboard_html(write_dashboard_for, worst=5))
    ARTIFACTS.mkdir(exist_ok=True)
    base = [
        _chromium() or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2600",
    ]
    dom = subprocess.run(
        [*base, f"--user-data-dir={tmp_path / 'profile1'}", "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    charts = int(re.search(r'data-charts="(\d+)"', dom.stdout).group(1))  # type: ignore[union-attr]
    assert charts >= 8 and "rendered" in dom.stdout
    assert dom.stdout.count("<svg") >= charts
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    snap = subprocess.run(
        [*base, f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={shot}", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert snap.returncode == 0, snap.stderr[-2000:]
    assert shot.stat().st_size > 10_000


def _pass_rate_checks(page: str) -> set[str]:
    """The checks listed in the page's pass-rate section."""
    section = page[page.index('<section id="checks">') : page.index('<section id="worst">')]
    return set(re.findall(r"<tr><td><code>([^<]+)</code></td>", section))


def test_check_pass_rates_do_not_count_unscored_notes(tmp_path: Path) -> None:
    r = rubric()
    results = corpus_like(r)
    noted = [
        res.model_copy(update={"findings": [f.model_copy(update={"severity": "info"}) for f in res.findings]})
        for res in results
    ]
    checks = {f.check for res in results for f in res.findings}
    assert checks
    page = dashboard_html([load_run(write_run(tmp_path / "noted", noted))])
    assert _pass_rate_checks(page) == set() and "No findings in these runs." in page  # notes are no failures
    page = dashboard_html([load_run(write_run(tmp_path / "scored", results))])
    assert _pass_rate_checks(page) == checks
