"""Test helpers for checks: build a CheckContext from source text and real synthesized templates.

Fixtures live in ``tests/fixtures/checks/<check-id>/{bad,good}*.py`` (a CDK app, synthesized) or
``{bad,good}*.yaml`` (a CloudFormation template, parsed as the cloudformation-yaml kind parses it,
with its line marks) or ``{bad,good}*.ts`` (a CDK TypeScript file, read by the source lens alone,
as when its synth failed; its header comments start with ``//``). Header comments say what the
fixture must produce:

    # expect: iam-wildcard-action lens=source,template construct=HandlerRole
    # expect: none
    # path: lib/tap_stack.py          (where the file sits in the answer; default lib/tap_stack.py)
    # synth: {"deprecations": ["..."]}  (SynthResult fields, only for checks that read synth output)
    # no-synth                          (source lens only: do not synthesize this fixture)

Each ``expect`` line is one finding of that check; ``construct=`` names the construct id that
must appear in the finding's evidence (as a resource's CDK path component or in the message).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iacgrade.graders.analysis.template import TemplateModel
from iacgrade.graders.checks import GRADER_ERROR, CheckContext, run_checks
from iacgrade.graders.models import (
    ExtractedFile,
    Finding,
    LintMatch,
    Sample,
    SynthResult,
    Workspace,
    typed_list,
)
from iacgrade.graders.rubric import Rubric, load_rubric

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "checks"
_CACHE = ROOT / ".pytest_cache" / "iacgrade-fixture-templates"


@dataclass
class Expect:
    check: str
    lenses: set[str] = field(default_factory=set)
    construct: str | None = None


@dataclass
class Fixture:
    path: Path
    check: str
    expects: list[Expect]
    answer_path: str
    synth_fields: dict[str, Any]
    synthesize: bool

    @property
    def id(self) -> str:
        return f"{self.check}/{self.path.name}"


def parse_fixture(path: Path) -> Fixture:
    text = path.read_text()
    expects: list[Expect] = []
    template = path.suffix == ".yaml"
    typescript = path.suffix == ".ts"
    answer_path = {".yaml": "lib/TapStack.yml", ".ts": "lib/tap-stack.ts"}.get(
        path.suffix, "lib/tap_stack.py"
    )
    synth_fields: dict[str, Any] = {}
    synthesize = not (template or typescript)
    for line in text.splitlines()[:40]:
        line = "# " + line[3:] if typescript and line.startswith("// ") else line
        if line.startswith("# expect:"):
            words = line.split(":", 1)[1].split()
            if words == ["none"]:
                continue
            exp = Expect(words[0])
            for word in words[1:]:
                key, _, value = word.partition("=")
                if key == "lens":
                    exp.lenses = set(value.split(","))
                elif key == "construct":
                    exp.construct = value
            expects.append(exp)
        elif line.startswith("# path:"):
            answer_path = line.split(":", 1)[1].strip()
        elif line.startswith("# synth:"):
            synth_fields = json.loads(line.split(":", 1)[1])
        elif line.strip() == "# no-synth":
            synthesize = False
    return Fixture(path, path.parent.name, expects, answer_path, synth_fields, synthesize)


def all_fixtures() -> list[Fixture]:
    found = [*FIXTURES.glob("*/*.py"), *FIXTURES.glob("*/*.yaml"), *FIXTURES.glob("*/*.ts")]
    return [parse_fixture(p) for p in sorted(found)]


def parse_template_fixture(text: str, answer_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A CloudFormation fixture as the kind grades it: ({stack: template}, {stack: marks})."""
    from iacgrade.graders.kinds.cfn_parse import parse_text
    from iacgrade.graders.kinds.cloudformation import with_defaults

    parsed = parse_text(text)
    assert parsed["status"] == "ok", parsed.get("message")
    stack = Path(answer_path).stem
    lines = {**parsed["entries"], **parsed["marks"]}
    marks = {stack: {key: (answer_path, line, line) for key, line in lines.items()}}
    return {stack: json.loads(with_defaults(parsed["template_json"]))}, marks


def synthesize_fixtures(fixtures: list[Fixture]) -> dict[str, dict[str, Any]]:
    """Real synth of every fixture that wants it, in one subprocess; cached by content."""
    wanted = [f.path for f in fixtures if f.synthesize]
    digest = hashlib.sha256()
    for p in wanted + [ROOT / "tests" / "synth_fixtures.py"]:
        digest.update(str(p.relative_to(ROOT)).encode() + p.read_bytes())
    cache = _CACHE / f"{digest.hexdigest()[:20]}.json"
    if not cache.exists():
        _CACHE.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        subprocess.run(
            [sys.executable, str(ROOT / "tests" / "synth_fixtures.py"), str(tmp), *map(str, wanted)],
            check=True,
            timeout=900,
            env=env,
            cwd=ROOT,
        )
        tmp.replace(cache)
    return json.loads(cache.read_text())


def make_context(
    files: dict[str, str],
    templates: dict[str, dict[str, Any]] | None = None,
    *,
    synth: SynthResult | None = None,
    rubric: Rubric | None = None,
    lint: dict[str, list[dict[str, Any]]] | None = None,
    marks: dict[str, Any] | None = None,
    kind: str = "cdk-python",
) -> CheckContext:
    """A CheckContext over the given files (path -> text) and templates (stack -> template)."""
    extracted = [
        ExtractedFile(
            path=p,
            language=_LANGUAGES.get(Path(p).suffix, "text"),
            line=10 * n + 1,
            path_source="heading",
            content=text,
        )
        for n, (p, text) in enumerate(files.items())
    ]
    if synth is None:
        synth = SynthResult(status="ok" if templates else "skipped", stacks=sorted(templates or {}))
    return CheckContext(
        sample=Sample(sample_id="fixture", source="fixture.md"),
        files=extracted,
        workspace=None,
        synth=synth,
        rubric=rubric or load_rubric(),
        template=TemplateModel(
            templates or {}, marks or {}, {s: typed_list(LintMatch, m) for s, m in (lint or {}).items()}
        ),
        kind=kind,
    )


_LANGUAGES = {".py": "python", ".yml": "yaml", ".yaml": "yaml", ".ts": "typescript", ".js": "javascript"}


def only(check_id: str, options: dict[str, Any] | None = None) -> Rubric:
    """The bundled rubric with every check but ``check_id`` turned off (and its options changed)."""
    rubric = load_rubric()
    for cid, spec in rubric.checks.items():
        spec.enabled = cid == check_id
    rubric.checks[check_id].options.update(options or {})
    return rubric


def run_check(
    check_id: str,
    given: CheckContext | dict[str, str] | None = None,
    resources: dict[str, Any] | None = None,
    *,
    templates: dict[str, dict[str, Any]] | None = None,
    template_extra: dict[str, Any] | None = None,
    synth: SynthResult | None = None,
    lint: dict[str, list[dict[str, Any]]] | None = None,
    options: dict[str, Any] | None = None,
    workspace: Workspace | None = None,
    workspace_files: list[str] | None = None,
    task_root: str | None = None,
) -> list[Finding]:
    """Run one check, alone, on a context or on files (path -> text) and a template.

    ``resources`` is the Resources of a one-stack template ("Stack"), ``template_extra`` its other
    sections; ``templates`` gives whole templates instead. A grader error fails the test.
    """
    if isinstance(given, CheckContext):
        ctx = given
    else:
        if resources is not None:
            templates = {"Stack": {"Resources": resources, **(template_extra or {})}}
        ctx = make_context(given or {}, templates, synth=synth, lint=lint)
    ctx.rubric = only(check_id, options)
    if workspace is not None:
        ctx.workspace = workspace
    elif workspace_files is not None:
        ctx.workspace = Workspace(root="/nonexistent", files=workspace_files)
    if task_root is not None:
        ctx.sample.task_root = task_root
    findings = run_checks(ctx)
    errors = [f.message for f in findings if f.check == GRADER_ERROR]
    assert not errors, errors
    return findings
