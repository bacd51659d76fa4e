"""Start a new check: its module, a bad and a good fixture, and its rubric entry.

    python scripts/new_check.py s3-insecure-transport security --lenses source,template

writes graders/checks/<category>/<id>.py (the @check function first, its docstring sections to
fill in, a body that raises until it is written), tests/fixtures/checks/<id>/bad_example.py and
good_example.py, and an entry in rubric.yaml after the last check of the category. Nothing else
needs to change: the registry finds the module, docs/checks.md is made from its docstring
(`make docs`), and tests/test_check_fixtures.py runs its fixtures. The new files fail the tests
until the check and its fixtures say something true.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEVERITIES = ("critical", "high", "medium", "low", "info")

_MODULE = '''"""{id}: {summary}"""

from __future__ import annotations

from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.checks import check


@check("{id}", lenses=({lenses}){kinds})
def {fn}(ctx: CheckContext) -> Iterator[Hit]:
    """{summary}

    What it finds: (which resources or source constructs, and when they count.)

    Why it matters: (what goes wrong in production.)

    Bad example:

        (a few lines of an answer that this check reports)

    Fix: {fix}
    """
    raise NotImplementedError("write {id}: see README, 'Adding a check'")
    yield  # a generator, like every check
'''

_FIXTURE = """# expect: {expect}
import aws_cdk as cdk
from constructs import Construct


class FixtureStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # ({what})


app = cdk.App()
FixtureStack(app, "FixtureStack")
app.synth()
"""


def _scalar(text: str) -> str:
    """``text`` as a YAML value: plain when that reads back the same, else double-quoted."""
    plain = not re.search(r":\s|\s#|^[\[\]{}&*!|>'\"%@`,?:-]", text)
    return text if plain else json.dumps(text)


def categories(rubric_text: str) -> list[str]:
    block = rubric_text.split("\ncategories:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  (\w+):", block, flags=re.M)


def add_rubric_entry(text: str, check_id: str, category: str, entry: str) -> str:
    """``text`` with ``entry`` after the last check of ``category`` (or at the end of the checks)."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if re.match(r"^  [a-z0-9-]+:\s*$", line)]
    last = None
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        if any(line.strip() == f"category: {category}" for line in lines[start:end]):
            last = end
    at = last if last is not None else len(lines)
    return "".join(lines[:at]) + entry + "".join(lines[at:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("id", help="the check id, lower-case words joined by '-', e.g. s3-insecure-transport")
    parser.add_argument("category", help="a category of the bundled rubric, e.g. security")
    parser.add_argument("--lenses", default="template", help="template, source or source,template")
    parser.add_argument("--severity", default="medium", choices=SEVERITIES)
    parser.add_argument("--title", default=None, help="the finding's title (default: from the id)")
    parser.add_argument("--fix", default="(one sentence: what to change)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)  # for tests
    args = parser.parse_args(argv)
    root: Path = args.root

    check_id, category = args.id, args.category
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", check_id):
        parser.error(f"{check_id!r}: an id is lower-case words joined by '-'")
    rubric_path = root / "rubric.yaml"
    rubric = rubric_path.read_text(encoding="utf-8")
    known = categories(rubric)
    if category not in known:
        parser.error(f"{category!r} is not a category of rubric.yaml ({', '.join(known)})")
    if re.search(rf"^  {re.escape(check_id)}:\s*$", rubric, flags=re.M):
        parser.error(f"{check_id} already has a rubric entry")
    lenses = [lens.strip() for lens in args.lenses.split(",") if lens.strip()]
    if not lenses or set(lenses) - {"source", "template", "synth"}:
        parser.error("--lenses: template, source, synth or a comma-separated mix")
    module = root / "graders" / "checks" / category / f"{check_id.replace('-', '_')}.py"
    fixtures = root / "tests" / "fixtures" / "checks" / check_id
    if module.exists() or fixtures.exists():
        parser.error(f"{module.relative_to(root)} or {fixtures.relative_to(root)} already exists")

    title = args.title or check_id.replace("-", " ").capitalize()
    summary = f"{title}."
    module.write_text(
        _MODULE.format(
            id=check_id,
            fn=check_id.replace("-", "_"),
            summary=summary,
            fix=args.fix,
            lenses=", ".join(f'"{lens}"' for lens in lenses) + ("," if len(lenses) == 1 else ""),
            kinds=', kinds=("cdk-python",)' if "source" in lenses else "",
        ),
        encoding="utf-8",
    )
    fixtures.mkdir(parents=True)
    lens_list = ",".join(lenses)
    (fixtures / "bad_example.py").write_text(
        _FIXTURE.format(
            expect=f"{check_id} lens={lens_list} construct=FixtureStack", what="what the check reports"
        ),
        encoding="utf-8",
    )
    (fixtures / "good_example.py").write_text(
        _FIXTURE.format(expect="none", what="the same done right"), encoding="utf-8"
    )
    entry = (
        f"  {check_id}:\n    category: {category}\n    severity: {args.severity}\n"
        f"    title: {_scalar(title)}\n    fix: {_scalar(args.fix)}\n"
    )
    rubric_path.write_text(add_rubric_entry(rubric, check_id, category, entry), encoding="utf-8")
    for path in (module, fixtures / "bad_example.py", fixtures / "good_example.py", rubric_path):
        print(f"wrote {path.relative_to(root)}")
    print(
        "next: write the check and its fixtures, then `make docs` and `pytest tests/test_check_fixtures.py`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
