"""Check documentation from the checks' docstrings: `iacgrade explain` and docs/checks.md."""

from __future__ import annotations

import json
import re
import textwrap

from iacgrade.graders.checks import CheckInfo, registry
from iacgrade.graders.rubric import Rubric

HEADINGS = ("What it finds:", "Why it matters:", "Bad example:", "Fix:")


def doc_sections(doc: str) -> dict[str, str]:
    """Split a check docstring into its summary and the four headed parts."""
    text = textwrap.dedent(doc).strip()
    first, _, rest = text.partition("\n")
    rest = textwrap.dedent(rest)
    sections = {"summary": first.strip()}
    pattern = re.compile(r"^(" + "|".join(re.escape(h) for h in HEADINGS) + r")", re.M)
    marks = list(pattern.finditer(rest))
    for n, mark in enumerate(marks):
        end = marks[n + 1].start() if n + 1 < len(marks) else len(rest)
        body = rest[mark.end() : end]
        sections[mark.group(1)[:-1]] = (
            textwrap.dedent(body.strip("\n")).rstrip()
            if mark.group(1) == "Bad example:"
            else " ".join(body.split())
        )
    return sections


def missing_headings(info: CheckInfo) -> list[str]:
    sections = doc_sections(info.doc)
    return [h[:-1] for h in HEADINGS if not sections.get(h[:-1])] + (
        [] if sections["summary"] else ["summary"]
    )


def option_lines(info: CheckInfo) -> list[str]:
    """One markdown bullet per option of the check: name, default and what it does."""
    if info.options is None:
        return []
    defaults = info.options().model_dump(mode="json")
    return [
        f"- `{name}` (default `{json.dumps(defaults[name])}`): {' '.join((field.description or '').split())}"
        for name, field in info.options.model_fields.items()
    ]


def explain_check(info: CheckInfo, rubric: Rubric) -> str:
    s = doc_sections(info.doc)
    spec = rubric.checks.get(info.id)
    head = f"{info.id}: {s['summary']}"
    meta = (
        f"category {spec.category}, severity {spec.severity}, lenses {', '.join(info.lenses)}"
        if spec
        else f"lenses {', '.join(info.lenses)}"
    )
    example = textwrap.indent(s.get("Bad example", ""), "    ")
    options = option_lines(info)
    rubric_options = (
        "\n\nOptions (rubric.yaml `options:` may override):\n" + "\n".join(options) if options else ""
    )
    return (
        f"{head}\n({meta})\n\nWhat it finds: {s.get('What it finds', '')}\n\n"
        f"Why it matters: {s.get('Why it matters', '')}\n\nBad example:\n{example}\n\n"
        f"Fix: {s.get('Fix', '')}{rubric_options}\n\nLives in: {info.path}\n"
    )


def checks_markdown(rubric: Rubric) -> str:
    """The text of docs/checks.md."""
    lines = [
        "# Checks",
        "",
        "Generated from the checks' docstrings by `make docs`; do not edit by hand.",
        "",
        "A finding that several stacks repeat word for word (an app that deploys one stack class twice,"
        " for two environments or regions) is reported once, its evidence naming every stack.",
        "",
        "| id | category | severity | lenses | summary |",
        "|---|---|---|---|---|",
    ]
    checks = registry()
    for cid, info in checks.items():
        spec = rubric.checks.get(cid)
        lines.append(
            f"| [`{cid}`](#{cid}) | {spec.category if spec else ''} | {spec.severity if spec else ''} | "
            f"{', '.join(info.lenses)} | {doc_sections(info.doc)['summary']} |"
        )
    for cid, info in checks.items():
        s = doc_sections(info.doc)
        lines += [
            "",
            f"## {cid}",
            "",
            s["summary"],
            "",
            f"**What it finds.** {s.get('What it finds', '')}",
            "",
            f"**Why it matters.** {s.get('Why it matters', '')}",
            "",
            "**Bad example.**",
            "",
            "```python",
            s.get("Bad example", ""),
            "```",
            "",
            f"**Fix.** {s.get('Fix', '')}",
        ]
        options = option_lines(info)
        if options:
            lines += [
                "",
                "**Options** (a check's `options:` in rubric.yaml may override them):",
                "",
                *options,
            ]
        lines += ["", f"Lives in `{info.path}`."]
    return "\n".join(lines) + "\n"
