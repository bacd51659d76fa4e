"""Compare two runs of the same prompts: is NEW better or worse than BASE, and where?

Answers are paired by sample id; those left over are paired by (prompt, kind), then by
(task, kind), each when the key is unique on both sides. For each category and the total, the
mean of the paired deltas (NEW - BASE) comes with a 95% confidence interval from the t
distribution (paired t interval), so a CI gate can tell a real regression from noise.

Regression rule (``--fail-on-regression``, exit code ``EXIT_REGRESSION`` = 3). NEW is worse when
either holds:
- the total's scores dropped significantly: at least two answers are paired with a total on
  both sides, the upper bound of the 95% interval of the mean delta is below 0, and the mean
  delta is more than ``threshold`` points below 0 (default 0);
- NEW lost answers: an answer BASE graded (it has a total) is an error in NEW, or NEW has no
  answer to pair with it. An answer that can no longer be graded is worse than any score, and
  leaving it out of the means would let a gate pass on the answers that are left.
Identical runs have every delta 0, an interval of [0, 0], nothing lost, and pass.

`iacgrade.reports.comparison` renders a Comparison as markdown.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from iacgrade.graders.models import CATEGORIES
from iacgrade.graders.runs import RunData

EXIT_REGRESSION = 3
CONFIDENCE = 0.95
METRICS: tuple[str, ...] = (*CATEGORIES, "total")

__all__ = ["EXIT_REGRESSION", "Comparison", "compare_runs", "fmt_delta", "t_quantile"]


class DeltaStat(BaseModel):
    metric: str
    n: int
    base_mean: float | None
    new_mean: float | None
    mean_delta: float | None
    ci_low: float | None
    ci_high: float | None


class AnswerDelta(BaseModel):
    base_id: str
    new_id: str
    base_total: float | None
    new_total: float | None
    delta: float
    appeared: list[str] = Field(default_factory=list, description="checks found in NEW only")


class CheckChange(BaseModel):
    check: str
    appeared: int
    disappeared: int
    answers: int = Field(description="paired answers where the check's findings changed")


class FindingChange(BaseModel):
    sample_id: str
    check: str
    where: str
    change: str = Field(description="appeared | disappeared")


class SynthChange(BaseModel):
    base: str
    new: str
    count: int
    samples: list[str]


class SeverityChange(BaseModel):
    check: str
    base: str
    new: str


class Comparison(BaseModel):
    base: dict[str, Any]
    new: dict[str, Any]
    paired: int
    paired_by: dict[str, int]
    only_base: list[str]
    only_new: list[str]
    stats: list[DeltaStat]
    regressed_most: list[AnswerDelta]
    improved_most: list[AnswerDelta]
    check_changes: list[CheckChange]
    finding_changes: list[FindingChange]
    synth_changes: list[SynthChange]
    severity_changes: list[SeverityChange] = Field(
        default_factory=list, description="checks whose severity differs between the runs (a rubric change)"
    )
    lost: list[str] = Field(
        default_factory=list,
        description="BASE answers with a total whose NEW answer is an error or missing (BASE sample ids)",
    )
    recovered: list[str] = Field(
        default_factory=list,
        description="NEW answers with a total whose BASE answer had none (NEW sample ids)",
    )
    threshold: float = 0.0
    regression: bool = False
    verdict: str = ""

    def stat(self, metric: str) -> DeltaStat:
        return next(s for s in self.stats if s.metric == metric)


def compare_runs(
    base: RunData, new: RunData, *, threshold: float = 0.0, top: int = 10, max_finding_changes: int = 200
) -> Comparison:
    """Pair the answers of two runs and measure what changed from BASE to NEW."""
    pairs, by = _pair(base.results, new.results)
    b = base.results.set_index("sample_id")
    n = new.results.set_index("sample_id")
    stats = [
        _delta_stat(metric, [(b.at[bi, metric], n.at[ni, metric]) for bi, ni in pairs]) for metric in METRICS
    ]

    base_f = _finding_keys(base.findings)
    new_f = _finding_keys(new.findings)
    per_check: dict[str, list[int]] = {}
    changes: list[FindingChange] = []
    deltas: list[AnswerDelta] = []
    synth: dict[tuple[str, str], list[str]] = {}
    for bi, ni in pairs:
        before, after = base_f.get(bi, Counter()), new_f.get(ni, Counter())
        appeared, disappeared = after - before, before - after
        for (check, where), count in sorted(appeared.items()):
            per_check.setdefault(check, [0, 0, 0])[0] += count
            changes.extend(
                FindingChange(sample_id=ni, check=check, where=where, change="appeared") for _ in range(count)
            )
        for (check, where), count in sorted(disappeared.items()):
            per_check.setdefault(check, [0, 0, 0])[1] += count
            changes.extend(
                FindingChange(sample_id=ni, check=check, where=where, change="disappeared")
                for _ in range(count)
            )
        for check in {c for c, _ in appeared} | {c for c, _ in disappeared}:
            per_check[check][2] += 1
        bt, nt = _num(b.at[bi, "total"]), _num(n.at[ni, "total"])
        if bt is not None and nt is not None:
            deltas.append(
                AnswerDelta(
                    base_id=bi,
                    new_id=ni,
                    base_total=bt,
                    new_total=nt,
                    delta=round(nt - bt, 2),
                    appeared=sorted({c for c, _ in appeared}),
                )
            )
        bs, ns = str(b.at[bi, "synth_status"]), str(n.at[ni, "synth_status"])
        if bs != ns:
            synth.setdefault((bs, ns), []).append(ni)

    graded_b, graded_n = _with_total(base.results), _with_total(new.results)
    partner = dict(pairs)
    lost = sorted(bi for bi in graded_b if partner.get(bi) not in graded_n)
    recovered = sorted(ni for bi, ni in pairs if ni in graded_n and bi not in graded_b)
    total = next(s for s in stats if s.metric == "total")
    dropped = (
        total.n >= 2
        and total.ci_high is not None
        and total.mean_delta is not None
        and total.ci_high < 0
        and -total.mean_delta > threshold
    )
    regression = dropped or bool(lost)
    comparison = Comparison(
        base=_run_info(base),
        new=_run_info(new),
        paired=len(pairs),
        paired_by=by,
        only_base=sorted(set(base.results["sample_id"]) - {bi for bi, _ in pairs}),
        only_new=sorted(set(new.results["sample_id"]) - {ni for _, ni in pairs}),
        stats=stats,
        regressed_most=sorted((d for d in deltas if d.delta < 0), key=lambda d: (d.delta, d.new_id))[:top],
        improved_most=sorted((d for d in deltas if d.delta > 0), key=lambda d: (-d.delta, d.new_id))[:top],
        check_changes=sorted(
            (
                CheckChange(check=c, appeared=v[0], disappeared=v[1], answers=v[2])
                for c, v in per_check.items()
            ),
            key=lambda c: (-(c.appeared - c.disappeared), c.check),
        ),
        finding_changes=changes[:max_finding_changes],
        synth_changes=sorted(
            (SynthChange(base=k[0], new=k[1], count=len(v), samples=sorted(v)) for k, v in synth.items()),
            key=lambda s: (-s.count, s.base, s.new),
        ),
        severity_changes=_severity_changes(base, new),
        lost=lost,
        recovered=recovered,
        threshold=threshold,
        regression=regression,
    )
    comparison.verdict = _verdict(comparison)
    return comparison


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom (bisection on the CDF)."""
    if not 0 < p < 1 or df <= 0:
        raise ValueError("need 0 < p < 1 and df > 0")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2


def _t_cdf(t: float, df: float) -> float:
    x = df / (df + t * t)
    tail = 0.5 * _betainc(df / 2, 0.5, x)
    return 1 - tail if t >= 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) by its continued fraction (modified Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1) / (a + b + 2):
        return 1 - _betainc(b, a, 1 - x)
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return front * f / a


def _delta_stat(metric: str, values: list[tuple[Any, Any]]) -> DeltaStat:
    both = [
        (bv, nv) for bv, nv in ((_num(x), _num(y)) for x, y in values) if bv is not None and nv is not None
    ]
    n = len(both)
    if n == 0:
        return DeltaStat(
            metric=metric, n=0, base_mean=None, new_mean=None, mean_delta=None, ci_low=None, ci_high=None
        )
    deltas = [nv - bv for bv, nv in both]
    mean = sum(deltas) / n
    low = high = None
    if n >= 2:
        sd = math.sqrt(sum((d - mean) ** 2 for d in deltas) / (n - 1))
        half = t_quantile(0.5 + CONFIDENCE / 2, n - 1) * sd / math.sqrt(n)
        low, high = round(mean - half, 3), round(mean + half, 3)
    return DeltaStat(
        metric=metric,
        n=n,
        base_mean=round(sum(b for b, _ in both) / n, 3),
        new_mean=round(sum(v for _, v in both) / n, 3),
        mean_delta=round(mean, 3),
        ci_low=low,
        ci_high=high,
    )


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _pair(base: pd.DataFrame, new: pd.DataFrame) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Pairs of (BASE id, NEW id): same sample id, else same prompt and kind, else same task and kind."""
    base_ids, new_ids = list(base["sample_id"]), set(new["sample_id"])
    pairs = [(sid, sid) for sid in base_ids if sid in new_ids]
    by = {"sample_id": len(pairs)}
    for column, name in (("prompt_digest", "prompt_kind"), ("task_id", "task_kind")):
        used_b, used_n = {p[0] for p in pairs}, {p[1] for p in pairs}
        extra = _pair_by(base, new, column, used_b, used_n)
        by[name] = len(extra)
        pairs += extra
    return sorted(pairs), by


def _pair_by(
    base: pd.DataFrame, new: pd.DataFrame, column: str, used_b: set[str], used_n: set[str]
) -> list[tuple[str, str]]:
    """Unpaired answers whose (``column``, kind) is one answer on each side (runs from before a
    column existed lack it)."""
    if column not in base.columns or column not in new.columns:
        return []
    left_b = base[~base["sample_id"].isin(used_b) & base[column].notna()]
    left_n = new[~new["sample_id"].isin(used_n) & new[column].notna()]
    kb = left_b.groupby([column, "role"])["sample_id"].agg(list).to_dict()
    kn = left_n.groupby([column, "role"])["sample_id"].agg(list).to_dict()
    return [(kb[k][0], kn[k][0]) for k in sorted(kb) if k in kn and len(kb[k]) == 1 and len(kn[k]) == 1]


def _with_total(results: pd.DataFrame) -> set[str]:
    """The sample ids of a run's answers that have a total (graded, not errors)."""
    return {sid for sid, t in zip(results["sample_id"], results["total"], strict=True) if _num(t) is not None}


def _finding_keys(findings: pd.DataFrame) -> dict[str, Counter[tuple[str, str]]]:
    """Per sample, a multiset of (check, where): the resource's logical id, else its CDK path, else the file."""
    keys: dict[str, Counter[tuple[str, str]]] = {}
    for row in findings.to_dict("records"):
        where = next((str(row[c]) for c in ("resource", "cdk_path", "file") if _present(row.get(c))), "")
        keys.setdefault(str(row["sample_id"]), Counter())[(str(row["check"]), where)] += 1
    return keys


def _severity_changes(base: RunData, new: RunData) -> list[SeverityChange]:
    """Checks whose rubric severity differs between the runs.

    From the rubrics recorded in run.json; for runs that predate that record, from the findings:
    the most common severity of each check's scored findings (a finding a check lowers to an
    unscored ``info`` note, say one the prompt asks for, is not the rubric's severity).
    """
    b, n = base.manifest.check_severities, new.manifest.check_severities
    if not (b and n):
        b, n = _finding_severities(base.findings), _finding_severities(new.findings)
    return [
        SeverityChange(check=c, base=str(b[c]), new=str(n[c]))
        for c in sorted(set(b) & set(n))
        if b[c] != n[c]
    ]


def _finding_severities(findings: pd.DataFrame) -> dict[str, str]:
    scored = findings[findings["severity"] != "info"] if len(findings) else findings
    if not len(scored):
        return {}
    return {str(c): str(s.mode().iloc[0]) for c, s in scored.groupby("check")["severity"]}


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and str(value) != ""


def _run_info(run: RunData) -> dict[str, Any]:
    m = run.manifest
    return {
        "run_id": m.run_id,
        "label": m.label,
        "path": str(run.path),
        "started": m.started,
        "grader_version": m.grader_version,
        "rubric_version": m.rubric_version,
        "answers": len(run.results),
    }


def _verdict(c: Comparison) -> str:
    t = c.stat("total")
    if c.lost:
        scores = (
            ""
            if t.n == 0
            else f"; on the {t.n} answers graded in both, the total's mean delta is {fmt_delta(t.mean_delta)}"
        )
        return f"REGRESSION: {len(c.lost)} answer(s) BASE graded are errors or missing in NEW{scores}"
    if t.n == 0:
        return "no paired answers with a total on both sides: nothing to compare"
    if t.ci_low is None or t.ci_high is None:
        return f"one paired answer (delta {fmt_delta(t.mean_delta)}): too few for a confidence interval"
    if c.regression:  # a significant drop (lost answers are handled above)
        return (
            f"REGRESSION: total mean delta {fmt_delta(t.mean_delta)}, 95% CI [{fmt_delta(t.ci_low)}, {fmt_delta(t.ci_high)}] "
            f"is below 0 (threshold {c.threshold:g})"
        )
    if t.ci_low > 0:
        return f"improvement: total mean delta {fmt_delta(t.mean_delta)}, 95% CI [{fmt_delta(t.ci_low)}, {fmt_delta(t.ci_high)}]"
    return (
        f"no significant regression: total mean delta {fmt_delta(t.mean_delta)}, "
        f"95% CI [{fmt_delta(t.ci_low)}, {fmt_delta(t.ci_high)}]"
    )


def fmt_delta(value: float | None) -> str:
    """A signed score change with two decimals (``+1.25``), ``–`` for none."""
    return "–" if value is None else f"{value:+.2f}"
