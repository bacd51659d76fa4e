"""The corrected CloudFormation answers: how many hold a complete template, how many parse, and
every cfn-lint error on them.

    .venv/bin/python scripts/cfn_ideal_lint.py [--corpus ../shared/corpus/cfn-yaml ...] [--role ideal]

Each answer (IDEAL_RESPONSE.md by default) goes through its kind's own build, as ``iacgrade grade``
runs it: the templates extracted from the markdown, parsed in the bounded parse pool and linted
with cfn-lint for the task's region (``lib/AWS_REGION``).

An answer holds a *complete* template when one of its template blocks has a top-level
``Resources`` section naming at least one ``AWS::`` type (an outline whose entries are elided as
``{...}`` is no template), and the answer is not cut off: it is
when a fence is never closed (the text ran out inside a block) and the main template fails to
parse on its last lines (the text stops inside a structure). A fence left open at the end of an
answer whose template parses is only a missing closing fence. Of the complete ones, *parse* means
the main template decoded (a template the parse limits refuse counts as not parsed). cfn-lint errors
are the matches of level ``error`` (rule ids ``E...``) on every template the build graded, listed
with the answer's file:line and task, then counted by rule.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iacgrade.graders.extract import extract_files  # noqa: E402
from iacgrade.graders.ingest import discover, read_answer  # noqa: E402
from iacgrade.graders.kinds import KINDS, BuildSettings, Services, kind_of_metadata  # noqa: E402
from iacgrade.graders.kinds.cloudformation import is_outline  # noqa: E402
from iacgrade.graders.models import Extraction, Sample, SynthResult  # noqa: E402

_ROOT = Path(__file__).resolve().parents[1]
_CORPORA = [_ROOT.parent / "shared" / "corpus" / "cfn-yaml", _ROOT.parent / "shared" / "corpus" / "cfn-json"]
_TARGET_PARSE = 0.95
# A top-level Resources section: ``Resources:`` at the start of a line (YAML) or ``"Resources": {``.
_RESOURCES = re.compile(r'^(?:Resources\s*:\s*(?:#.*)?$|\s{0,4}"Resources"\s*:\s*\{)', re.M)
_TYPE = re.compile(r"\bAWS::\w+::\w+")
_OPEN_FENCE = re.compile(r"fence at line \d+ is never closed|its fence was never closed")


@dataclass
class Answer:
    sample: Sample
    extraction: Extraction
    templates: list[str]
    complete: bool
    why_not: str = ""
    synth: SynthResult | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)  # cfn-lint errors, with "file"


def _complete(extraction: Extraction, templates: list[str], synth: SynthResult | None) -> tuple[bool, str]:
    if not templates:
        if any(f.language in ("yaml", "json") and is_outline(f.content) for f in extraction.files):
            return False, "an outline ({...} for its entries), no template"
        return False, "no template"
    by_path = {f.path: f for f in extraction.files}
    if not any(_RESOURCES.search(by_path[p].content) and _TYPE.search(by_path[p].content) for p in templates):
        return False, "no top-level Resources section"
    if synth is not None and synth.status != "ok" and synth.file in by_path and synth.line:
        last = by_path[synth.file].content.rstrip().count("\n") + 1
        if synth.line >= last - 2 and any(_OPEN_FENCE.search(n) for n in extraction.notes):
            return False, "cut off (the fence is never closed and the template breaks on its last lines)"
    return True, ""


def _build(answers: list[Answer], work: Path, workers: int) -> None:
    settings = BuildSettings(
        timeout=60.0, scratch_mb=64, isolation="warm", require_sandbox=False, workers=workers
    )
    services = Services(settings)
    try:

        def one(a: Answer) -> None:
            name = a.sample.sample_id.replace("/", "__")
            kind = KINDS[kind_of_metadata(a.sample.metadata) or "cloudformation-yaml"]
            out = work / name
            out.mkdir(parents=True, exist_ok=True)
            a.synth = kind.build(a.sample, a.extraction, work / "ws" / name, out, services).synth
            for stack, matches in a.synth.lint.items():
                file = next((f for f, _, _ in a.synth.marks.get(stack, {}).values()), stack)
                a.errors += [{**m, "file": file} for m in matches if str(m.get("rule", "")).startswith("E")]

        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(one, answers))
    finally:
        services.close()


def _task(sample: Sample) -> str:
    return Path(sample.task_root).name if sample.task_root else sample.sample_id


def report(corpus: Path, role: str, workers: int, work: Path) -> tuple[int, int]:
    """Print the corpus's numbers and errors; return (complete, parsed)."""
    tasks = sorted(p for p in corpus.iterdir() if p.is_dir())
    samples = sorted((s for s in discover(tasks) if s.role == role), key=lambda s: s.sample_id)
    answers = []
    for s in samples:
        text = read_answer(s)
        if text is None:
            print(f"  unreadable: {_task(s)}: {s.error}")
            continue
        extraction = extract_files(text)
        kind = KINDS[kind_of_metadata(s.metadata) or "cloudformation-yaml"]
        templates = [f.path for f in kind.code_files(extraction)]
        answers.append(Answer(s, extraction, templates, False))
    _build(answers, work / corpus.name, workers)
    for a in answers:
        a.complete, a.why_not = _complete(a.extraction, a.templates, a.synth)

    complete = [a for a in answers if a.complete]
    parsed = [a for a in complete if a.synth is not None and a.synth.status == "ok"]
    share = len(parsed) / len(complete) if complete else float("nan")
    verdict = "PASS" if share >= _TARGET_PARSE else "MISS"
    print(f"\n{corpus.name}: {len(answers)} {role.upper()}_RESPONSE answers")
    print(f"  complete template: {len(complete)}; not complete: {len(answers) - len(complete)}", end="")
    reasons = Counter(a.why_not for a in answers if not a.complete)
    print(f" ({', '.join(f'{n} {r}' for r, n in reasons.most_common())})" if reasons else "")
    for a in answers:
        if not a.complete:
            print(f"    {_task(a.sample)}: {a.why_not}")
    print(
        f"  of the complete ones, parsed: {len(parsed)} ({share:.1%}; target >= {_TARGET_PARSE:.0%}: {verdict})"
    )
    for a in complete:
        if a not in parsed and a.synth is not None:
            where = f"{a.synth.file}:{a.synth.line}" if a.synth.line else str(a.synth.file)
            print(f"    not parsed: {_task(a.sample)} {where}: {a.synth.message}")
    errors = [(a, m) for a in parsed for m in a.errors]
    with_errors = len({id(a) for a, _ in errors})
    print(
        f"  cfn-lint errors on the parsed templates: {len(errors)} in {with_errors} of {len(parsed)} answers"
    )
    for a, m in sorted(errors, key=lambda am: (am[1]["rule"], _task(am[0].sample))):
        print(f"    {m['rule']} {_task(a.sample)} {m['file']}:{m.get('line')}: {m['message']}")
    by_rule = Counter(m["rule"] for _, m in errors)
    if by_rule:
        print("  by rule: " + ", ".join(f"{r} {n}" for r, n in by_rule.most_common()))
    return len(complete), len(parsed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, action="append", help="a CloudFormation corpus (repeatable)")
    ap.add_argument("--role", default="ideal", choices=("ideal", "model"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    corpora = args.corpus or _CORPORA
    missing = [c for c in corpora if not c.is_dir()]
    if missing:
        print(f"corpus not found: {missing[0]}", file=sys.stderr)
        return 2
    total_complete = total_parsed = 0
    with tempfile.TemporaryDirectory(prefix="iacgrade-cfn-lint-") as tmp:
        for corpus in corpora:
            complete, parsed = report(corpus, args.role, args.workers, Path(tmp))
            total_complete += complete
            total_parsed += parsed
    share = total_parsed / total_complete if total_complete else float("nan")
    print(f"\nall: {total_parsed} of {total_complete} complete templates parse ({share:.1%}; target >= 95%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
