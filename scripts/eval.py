"""Agreement of iacgrade with the corpus' reviewers and with the hand labels.

Prints:
  (a) the share of tasks where the IDEAL answer scores above the MODEL answer (ties count half);
  (b) for topics a reviewer's MODEL_FAILURES.md names, the share where our MODEL report has a
      finding of a matching check;
  (c) findings per answer, IDEAL vs MODEL;
  (d) precision and recall per check against ../shared/labels/ (unknowable labels left out).

Usage: python scripts/eval.py --corpus ../shared/corpus/cdk-py [--run DIR] [--labels DIR]
Without --run it grades the corpus first (into .bench/eval-<corpus folder name>, one per kind).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iacgrade.graders.reviewer import TOPICS, confirming_checks  # noqa: E402


def _results(run: Path) -> dict[str, dict]:
    out = {}
    for path in run.glob("**/result.json"):
        data = json.loads(path.read_text())
        out[data["sample_id"]] = data
    return out


def _grade(corpus: Path, out: Path) -> None:
    from iacgrade.graders.pipeline import GradeOptions, grade

    grade([corpus], GradeOptions(out=out, workers=2))


def ideal_above_model(results: dict[str, dict]) -> tuple[float, int, list[str]]:
    wins, n, losses = 0.0, 0, []
    for sid, model in sorted(results.items()):
        if not sid.endswith("lib/MODEL_RESPONSE"):
            continue
        ideal = results.get(sid.replace("MODEL_RESPONSE", "IDEAL_RESPONSE"))
        if ideal is None:
            continue
        m, i = model.get("total"), ideal.get("total")
        m = -1.0 if m is None else m
        i = -1.0 if i is None else i
        n += 1
        if i > m:
            wins += 1
        elif i == m:
            wins += 0.5
            losses.append(f"{sid.split('/')[0]} tie {i}")
        else:
            losses.append(f"{sid.split('/')[0]} IDEAL {i} < MODEL {m}")
    return (wins / n if n else 0.0), n, losses


def reviewer_topics(corpus: Path, results: dict[str, dict]) -> tuple[dict[str, list[int]], list[str]]:
    per_topic: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    for failures in sorted(corpus.glob("*/lib/MODEL_FAILURES.md")):
        task = failures.parent.parent.name
        result = results.get(f"{task}/lib/MODEL_RESPONSE")
        if result is None:
            continue
        text = failures.read_text(errors="replace")
        found = {f["check"] for f in result.get("findings", [])}
        for topic, (pattern, _) in TOPICS.items():
            if re.search(pattern, text, re.I):
                per_topic[topic][1] += 1
                if found & confirming_checks(topic, text):
                    per_topic[topic][0] += 1
                else:
                    misses.append(f"{task}: {topic}")
    return dict(per_topic), misses


def judged_topics(
    judged: Path, corpus: Path, results: dict[str, dict]
) -> tuple[dict[str, list[int]], list[str], int, int]:
    """(b'): reviewer topics read by hand (scripts/eval_data/reviewer_topics.json).

    Each (task, topic) the keyword scan raises was judged against the MODEL answer's code:
    did the reviewer really claim a failure of the answer (not a strength, an IDEAL-only note,
    a test list), is it the problem our checks look for (not a different one sharing a word),
    and does it hold in the code? Returns, per topic, [found, claims that hold] over the claims
    that hold, the misses, and the counts of claims and of claims that do not hold.
    """
    rows = json.loads(judged.read_text())
    per_topic: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[str] = []
    claims = not_holding = 0
    for row in rows:
        if not (row.get("claimed") and row.get("same_problem")):
            continue
        claims += 1
        if row.get("holds") is not True:
            not_holding += row.get("holds") is False
            continue
        result = results.get(f"{row['task']}/lib/MODEL_RESPONSE")
        if result is None or row["topic"] not in TOPICS:
            continue
        found = {f["check"] for f in result.get("findings", [])}
        failures = corpus / row["task"] / "lib" / "MODEL_FAILURES.md"
        text = failures.read_text(errors="replace") if failures.is_file() else ""
        per_topic[row["topic"]][1] += 1
        if found & confirming_checks(row["topic"], text):
            per_topic[row["topic"]][0] += 1
        else:
            misses.append(f"{row['task']}: {row['topic']}: {row.get('claim', '')[:90]}")
    return dict(per_topic), misses, claims, not_holding


def label_agreement(labels_dir: Path, results: dict[str, dict]) -> tuple[dict[str, list[int]], list[str]]:
    """Per check: [tp, fp, fn]; plus a line per disagreement."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    notes = []
    for path in sorted(labels_dir.glob("*.json")):
        data = json.loads(path.read_text())
        task = data["task"]
        result = results.get(f"{task}/lib/MODEL_RESPONSE")
        if result is None:
            notes.append(f"{task}: not graded")
            continue
        found = defaultdict(list)
        for f in result.get("findings", []):
            found[f["check"]].append(f["message"])
        for check_id, label in data["labels"].items():
            verdict = label["verdict"]
            ours = bool(found.get(check_id))
            if verdict == "unknowable":
                continue
            if verdict == "present" and ours:
                counts[check_id][0] += 1
            elif verdict == "absent" and ours:
                counts[check_id][1] += 1
                notes.append(f"FP {task} {check_id}: {found[check_id][0][:160]}")
            elif verdict == "present" and not ours:
                counts[check_id][2] += 1
                notes.append(f"FN {task} {check_id}: label says {label['evidence'][:160]}")
    return dict(counts), notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "cdk-py")
    parser.add_argument("--labels", type=Path, default=None)
    parser.add_argument(
        "--run", type=Path, default=None, help="an existing output folder of `iacgrade grade`"
    )
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2
    labels = args.labels or args.corpus.parent.parent / "labels"
    run = args.run or ROOT / ".bench" / f"eval-{args.corpus.resolve().name}"
    if args.run is None:
        _grade(args.corpus, run)
    results = _results(run)

    share, n, losses = ideal_above_model(results)
    print(f"(a) IDEAL above MODEL: {share:.1%} of {n} tasks (ties count half)")
    for line in losses:
        print(f"      {line}")

    topics, topic_misses = reviewer_topics(args.corpus, results)
    hit = sum(v[0] for v in topics.values())
    named = sum(v[1] for v in topics.values())
    print(
        f"(b) reviewer topics found (keyword anywhere in MODEL_FAILURES.md): {hit}/{named} = "
        f"{hit / max(named, 1):.1%}"
    )
    for topic, (h, t) in sorted(topics.items()):
        print(f"      {topic:20s} {h:3d}/{t:<3d}")

    judged = ROOT / "scripts" / "eval_data" / "reviewer_topics.json"
    if judged.is_file():
        jt, jmisses, claims, wrong = judged_topics(judged, args.corpus, results)
        jhit = sum(v[0] for v in jt.values())
        jn = sum(v[1] for v in jt.values())
        print(
            f"(b') read by hand: {claims} of those mentions claim the answer has the problem a check looks "
            f"for; {wrong} of them do not hold in the answer's code, {jn} do. Of the {jn} that hold, "
            f"found: {jhit}/{jn} = {jhit / max(jn, 1):.1%}"
        )
        for topic, (h, t) in sorted(jt.items()):
            print(f"      {topic:20s} {h:3d}/{t:<3d}")
        for miss in jmisses:
            print(f"      missed: {miss}")

    per_kind: dict[str, list[int]] = defaultdict(list)
    for sid, r in results.items():
        kind = (
            "IDEAL"
            if sid.endswith("IDEAL_RESPONSE")
            else "MODEL"
            if sid.endswith("MODEL_RESPONSE")
            else "other"
        )
        per_kind[kind].append(len(r.get("findings", [])))
    print(
        "(c) findings per answer: "
        + ", ".join(f"{k} {sum(v) / len(v):.1f} (n={len(v)})" for k, v in sorted(per_kind.items()) if v)
    )

    if labels.is_dir():
        counts, notes = label_agreement(labels, results)
        tp = sum(c[0] for c in counts.values())
        fp = sum(c[1] for c in counts.values())
        fn = sum(c[2] for c in counts.values())
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(
            f"(d) against hand labels: precision {precision:.2f} ({tp}/{tp + fp}), recall {recall:.2f} ({tp}/{tp + fn})"
        )
        for check_id, (t, f, m) in sorted(counts.items()):
            if t or f or m:
                p = t / (t + f) if t + f else float("nan")
                r = t / (t + m) if t + m else float("nan")
                print(f"      {check_id:24s} tp {t} fp {f} fn {m}  precision {p:.2f} recall {r:.2f}")
        for note in notes:
            print(f"      {note}")
    else:
        print(f"(d) labels not found at {labels}")
    print(f"reviewer topic misses ({len(topic_misses)}):")
    for miss in topic_misses:
        print(f"      {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
