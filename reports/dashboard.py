"""The HTML dashboard: one self-contained file (no CDN, no fetch) for one or more runs.

Charts are SVG drawn here in Python: the trend of mean scores across runs (in the order given),
score distributions per category per run (box plots), synth outcomes per run, and the pass
rate of each check per run. The worst answers of the last run link to their reports, rendered
from report.md to HTML with markdown-it-py (raw HTML in a report is escaped, never passed
through) and embedded in the page, shown with CSS ``:target`` so links work offline.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markdown_it import MarkdownIt
from markupsafe import Markup

from iacgrade.graders.models import CATEGORIES
from iacgrade.graders.runs import RunData
from iacgrade.graders.store import write_text_atomic

__all__ = ["dashboard_html", "write_dashboard"]

METRICS: tuple[str, ...] = (*CATEGORIES, "total")
PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")
SYNTH_COLORS = {"ok": "#059669", "failed": "#dc2626", "timeout": "#d97706", "skipped": "#9ca3af"}
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_MD = MarkdownIt("commonmark", {"html": False}).enable("table")


def write_dashboard(runs: list[RunData], out: Path, *, worst: int = 20) -> None:
    """Write the dashboard of ``runs`` (oldest first) to ``out``."""
    write_text_atomic(out, dashboard_html(runs, worst=worst))


def dashboard_html(runs: list[RunData], *, worst: int = 20) -> str:
    """The dashboard page as one HTML string (deterministic for the same runs)."""
    if not runs:
        raise ValueError("a dashboard needs at least one run")
    names = _names(runs)
    colors = {name: PALETTE[n % len(PALETTE)] for n, name in enumerate(names)}
    last = runs[-1]
    worst_rows, reports = _worst(last, worst)
    return _ENV.get_template("dashboard.html.j2").render(
        runs=[_run_row(run, name, colors[name]) for run, name in zip(runs, names, strict=True)],
        trend=Markup(trend_svg(runs, names)),
        distributions=[(m, Markup(box_svg(runs, names, colors, m))) for m in METRICS],
        synth=Markup(synth_svg(runs, names)),
        checks=_check_rows(runs, names, colors),
        last_name=names[-1],
        worst=worst_rows,
        reports=reports,
        synth_colors=SYNTH_COLORS,
        categories=CATEGORIES,
    )


# --- charts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    left: int = 48
    right: int = 16
    top: int = 16
    bottom: int = 40

    def x_span(self) -> tuple[float, float]:
        return self.left, self.width - self.right

    def y(self, score: float) -> float:
        """Score 0..100 to a y pixel."""
        return self.top + (100 - score) / 100 * (self.height - self.top - self.bottom)


def _svg(frame: _Frame, body: list[str], label: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{_e(label)}" viewBox="0 0 {frame.width} {frame.height}" '
        f'width="{frame.width}" height="{frame.height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{_e(label)}</title>" + "".join(body) + "</svg>"
    )


def _score_axis(frame: _Frame) -> list[str]:
    x0, x1 = frame.x_span()
    out = []
    for tick in range(0, 101, 25):
        y = frame.y(tick)
        out.append(
            f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick}</text>'
        )
    return out


def trend_svg(runs: list[RunData], names: list[str]) -> str:
    """Mean total (bold) and mean per category across runs, in the order given."""
    frame = _Frame(760, 280, left=80, right=80, bottom=56)
    x0, x1 = frame.x_span()
    step = (x1 - x0) / max(1, len(runs) - 1) if len(runs) > 1 else 0
    xs = [x0 + step * n if len(runs) > 1 else (x0 + x1) / 2 for n in range(len(runs))]
    body = _score_axis(frame)
    for n, name in enumerate(names):
        body.append(
            f'<text x="{xs[n]:.1f}" y="{frame.height - 30}" text-anchor="middle" class="tick">'
            f"{_e(_short(name))}</text>"
        )
    series = [(m, PALETTE[(i + 2) % len(PALETTE)], 1.5) for i, m in enumerate(CATEGORIES)] + [
        ("total", "#111827", 3.0)
    ]
    for metric, color, width in series:
        points = [(xs[n], _mean(run.results, metric)) for n, run in enumerate(runs)]
        shown = [(x, v) for x, v in points if v is not None]
        if len(shown) > 1:
            path = " ".join(f"{x:.1f},{frame.y(v):.1f}" for x, v in shown)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="{width}" '
                f'class="series series-{metric}"/>'
            )
        for x, v in shown:
            body.append(
                f'<circle cx="{x:.1f}" cy="{frame.y(v):.1f}" r="{width + 1.5}" fill="{color}">'
                f"<title>{_e(metric)}: {v:.1f}</title></circle>"
            )
            if metric == "total":
                body.append(
                    f'<text x="{x:.1f}" y="{frame.y(v) - 10:.1f}" text-anchor="middle" class="value">'
                    f"{v:.1f}</text>"
                )
    for i, (metric, color, _) in enumerate(series):
        lx = 20 + i * 115
        body.append(
            f'<rect x="{lx}" y="{frame.height - 16}" width="10" height="10" fill="{color}"/>'
            f'<text x="{lx + 14}" y="{frame.height - 7}" class="tick">{_e(metric)}</text>'
        )
    return _svg(frame, body, "Mean scores across runs")


def box_svg(runs: list[RunData], names: list[str], colors: dict[str, str], metric: str) -> str:
    """One box (quartiles, whiskers at min/max, mean dot) per run for one category's scores."""
    frame = _Frame(max(220, 60 + 70 * len(runs)), 220, bottom=34)
    x0, x1 = frame.x_span()
    slot = (x1 - x0) / len(runs)
    body = _score_axis(frame)
    for n, (run, name) in enumerate(zip(runs, names, strict=True)):
        values = _scores(run.results, metric)
        cx = x0 + slot * (n + 0.5)
        body.append(
            f'<text x="{cx:.1f}" y="{frame.height - 18}" text-anchor="middle" class="tick">'
            f"{_e(_short(name, 10))}</text>"
            f'<text x="{cx:.1f}" y="{frame.height - 5}" text-anchor="middle" class="tick">n={len(values)}</text>'
        )
        if not values:
            continue
        q = pd.Series(values).quantile([0.0, 0.25, 0.5, 0.75, 1.0]).tolist()
        half = min(22.0, slot * 0.3)
        color = colors[name]
        body.append(
            f'<g class="box"><title>{_e(name)} {_e(metric)}: min {q[0]:.1f}, q1 {q[1]:.1f}, median {q[2]:.1f}, '
            f"q3 {q[3]:.1f}, max {q[4]:.1f}, mean {sum(values) / len(values):.1f}</title>"
            f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{frame.y(q[4]):.1f}" y2="{frame.y(q[0]):.1f}" stroke="{color}"/>'
            f'<rect x="{cx - half:.1f}" y="{frame.y(q[3]):.1f}" width="{2 * half:.1f}" '
            f'height="{max(1.0, frame.y(q[1]) - frame.y(q[3])):.1f}" fill="{color}" fill-opacity="0.25" '
            f'stroke="{color}"/>'
            f'<line x1="{cx - half:.1f}" x2="{cx + half:.1f}" y1="{frame.y(q[2]):.1f}" y2="{frame.y(q[2]):.1f}" '
            f'stroke="{color}" stroke-width="2.5"/>'
            f'<circle cx="{cx:.1f}" cy="{frame.y(sum(values) / len(values)):.1f}" r="3" fill="#111827"/></g>'
        )
    return _svg(frame, body, f"Distribution of {metric} scores per run")


def synth_svg(runs: list[RunData], names: list[str]) -> str:
    """Synth outcomes per run as stacked horizontal bars (share of answers)."""
    row_h = 28
    frame = _Frame(760, 24 + row_h * len(runs), left=170, right=16, top=8, bottom=16)
    x0, x1 = frame.x_span()
    body: list[str] = []
    for n, (run, name) in enumerate(zip(runs, names, strict=True)):
        y = frame.top + n * row_h
        counts = run.results["synth_status"].value_counts().to_dict() if len(run.results) else {}
        total = sum(counts.values()) or 1
        body.append(
            f'<text x="{x0 - 8}" y="{y + 17}" text-anchor="end" class="tick">{_e(_short(name, 22))}</text>'
        )
        x = float(x0)
        for status, color in SYNTH_COLORS.items():
            share = counts.get(status, 0) / total
            if share <= 0:
                continue
            w = share * (x1 - x0)
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" fill="{color}">'
                f"<title>{_e(name)}: {status} {counts.get(status, 0)} of {total} ({share:.0%})</title></rect>"
            )
            if w > 34:
                body.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + 16}" text-anchor="middle" class="bar-label">'
                    f"{share:.0%}</text>"
                )
            x += w
    return _svg(frame, body, "Synth outcome per run")


def bar_svg(share: float | None, color: str) -> str:
    """A small inline bar for a pass rate in a table cell."""
    frame = _Frame(90, 14, left=0, right=0, top=0, bottom=0)
    if share is None:
        return _svg(frame, ['<rect x="0" y="2" width="90" height="10" fill="#f3f4f6"/>'], "no data")
    return _svg(
        frame,
        [
            '<rect x="0" y="2" width="90" height="10" fill="#f3f4f6"/>',
            f'<rect x="0" y="2" width="{90 * share:.1f}" height="10" fill="{color}"/>',
        ],
        f"pass rate {share:.0%}",
    )


# --- tables ---------------------------------------------------------------------------------------


def _run_row(run: RunData, name: str, color: str) -> dict[str, Any]:
    r = run.results
    return {
        "name": name,
        "color": color,
        "run_id": run.manifest.run_id,
        "started": run.manifest.started,
        "finished": run.manifest.finished or "(unfinished)",
        "rubric": run.manifest.rubric_version,
        "answers": len(r),
        "graded": int((r["status"] == "graded").sum()) if len(r) else 0,
        "synth_ok": int((r["synth_status"] == "ok").sum()) if len(r) else 0,
        "mean_total": _mean(r, "total"),
    }


def _check_rows(runs: list[RunData], names: list[str], colors: dict[str, str]) -> list[dict[str, Any]]:
    """Per check, per run: the share of graded answers with no scored finding of that check.

    A finding the check lowered to an ``info`` note (the prompt asked for it, say) is not a failure."""
    scored = [run.findings[run.findings["severity"] != "info"] for run in runs]
    graded_per_run = [set(run.results.loc[run.results["status"] == "graded", "sample_id"]) for run in runs]
    checks = sorted({str(c) for f in scored for c in f["check"].dropna().unique()})
    rows = []
    for check in checks:
        cells = []
        for found, graded, name in zip(scored, graded_per_run, names, strict=True):
            hit = set(found.loc[found["check"] == check, "sample_id"]) & graded
            share = 1 - len(hit) / len(graded) if graded else None
            cells.append(
                {
                    "share": share,
                    "failed": len(hit),
                    "of": len(graded),
                    "bar": Markup(bar_svg(share, colors[name])),
                }
            )
        rows.append({"check": check, "cells": cells, "last": cells[-1]["share"]})
    return sorted(rows, key=lambda row: (row["last"] if row["last"] is not None else 2, row["check"]))


def _worst(run: RunData, limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    r = run.results
    scored = r[r["total"].notna()].sort_values(["total", "sample_id"]).head(limit) if len(r) else r
    rows, reports = [], []
    for n, row in enumerate(scored.to_dict("records"), 1):
        anchor = f"report-{n}"
        found = run.findings[run.findings["sample_id"] == row["sample_id"]]
        top = found["check"].value_counts().head(4).index.tolist() if len(found) else []
        rows.append(
            {
                "anchor": anchor,
                "sample_id": row["sample_id"],
                "total": row["total"],
                "synth": row["synth_status"],
                "findings": len(found),
                "checks": top,
                **{c: row.get(c) for c in CATEGORIES},
            }
        )
        reports.append(
            {
                "anchor": anchor,
                "sample_id": row["sample_id"],
                "html": Markup(_report_html(run, row["sample_id"])),
            }
        )
    return rows, reports


def _report_html(run: RunData, sample_id: str) -> str:
    path = run.path / sample_id / "report.md"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"<p>No report.md for {_e(sample_id)} in {_e(str(run.path))}.</p>"
    return _MD.render(text)


# --- helpers --------------------------------------------------------------------------------------


def _names(runs: list[RunData]) -> list[str]:
    names: list[str] = []
    for run in runs:
        name, n = run.name, 2
        while name in names:
            name, n = f"{run.name} ({n})", n + 1
        names.append(name)
    return names


def _scores(results: pd.DataFrame, metric: str) -> list[float]:
    if not len(results) or metric not in results:
        return []
    return [float(v) for v in pd.to_numeric(results[metric], errors="coerce").dropna()]


def _mean(results: pd.DataFrame, metric: str) -> float | None:
    values = _scores(results, metric)
    return round(sum(values) / len(values), 2) if values else None


def _short(text: str, width: int = 16) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _score(value: Any) -> str:
    """A score for a table cell: one decimal, a dash when unscored."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):.1f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


_ENV.filters["score"] = _score
_ENV.filters["percent"] = _percent
