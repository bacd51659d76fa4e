"""CDK TypeScript answers, synthesized for real on one warm Node worker (shared by the module)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from iacgrade.graders.extract import extract_files
from iacgrade.graders.kinds import KINDS
from iacgrade.graders.kinds.base import BuildSettings, Services
from iacgrade.graders.kinds.cdk_typescript import NODE_TOOLCHAIN, NodeWorker, diagnostic_category, place_files
from iacgrade.graders.models import Sample, SynthResult
from iacgrade.graders.pipeline import GradeOptions, grade
from iacgrade.graders.workspace import assemble

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
    pytest.mark.skipif(
        not (NODE_TOOLCHAIN / "node_modules" / "aws-cdk-lib").is_dir(), reason="make install not run"
    ),
]

APP = """```typescript
// bin/tap.ts
import * as cdk from 'aws-cdk-lib';
import { TapStack } from '../lib/tap-stack';

const app = new cdk.App();
new TapStack(app, 'TapStack', {});
```
"""


def _stack(body: str, head: str = "") -> str:
    return f"""```typescript
// lib/tap-stack.ts
import * as cdk from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {{ Construct }} from 'constructs';
{head}
export class TapStack extends cdk.Stack {{
  constructor(scope: Construct, id: string, props?: cdk.StackProps) {{
    super(scope, id, props);
{body}
  }}
}}
```
"""


GOOD = APP + _stack("    new s3.Bucket(this, 'Data', { versioned: true });")
TYPE_ERROR = APP + _stack(
    "    new s3.Bucket(this, 'Data', { versioning: true });\n    const n: number = 'x';\n    void n;"
)
MISSING_MODULE = APP + _stack("    new Thing(this, 'T');", head="import { Thing } from '@acme/cdk-things';")
SYNTAX = APP + _stack("    new s3.Bucket(this, 'Data', { versioned: true );")


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    svc = Services(
        BuildSettings(timeout=120, scratch_mb=256, isolation="warm", require_sandbox=False, workers=1)
    )
    yield svc
    svc.close()


def _build(services: Services, tmp_path: Path, markdown: str) -> SynthResult:
    extraction = extract_files(markdown)
    sample = Sample(sample_id="t", source=str(tmp_path / "answer.md"))
    built = KINDS["cdk-typescript"].build(sample, extraction, tmp_path / "ws", tmp_path / "out", services)
    return built.synth


def test_a_good_answer_synthesizes_warm_with_no_diagnostics(services: Services, tmp_path: Path) -> None:
    first = _build(services, tmp_path / "a", GOOD)
    again = _build(services, tmp_path / "b", GOOD)
    assert first.status == "ok", first.message
    assert first.stacks == ["TapStack"] and first.entry == "bin/tap.ts"
    assert first.diagnostics == []
    assert again.worker.warm and again.status == "ok"
    template = (tmp_path / "b" / "out" / again.templates["TapStack"]).read_text()
    assert "AWS::S3::Bucket" in template and '"Status": "Enabled"' in template
    assert (tmp_path / "a" / "out" / first.templates["TapStack"]).read_text() == template
    assert "TapStack" in first.lint  # cfn-lint ran on the template


def test_math_random_gives_the_same_template_on_every_run(services: Services, tmp_path: Path) -> None:
    # Pr2411's IDEAL names its resources with Math.random(): each synth used to give other names.
    body = (
        "    new s3.Bucket(this, 'Data', { bucketName: 'data-' + Math.random().toString(36).slice(2, 10) });"
    )
    runs = [_build(services, tmp_path / d, APP + _stack(body)) for d in "ab"]
    assert [r.status for r in runs] == ["ok", "ok"] and runs[1].worker.warm
    first, again = (
        (tmp_path / d / "out" / r.templates["TapStack"]).read_text() for d, r in zip("ab", runs, strict=True)
    )
    assert first == again and '"BucketName": "data-' in first


def test_type_errors_are_reported_and_the_template_still_built(services: Services, tmp_path: Path) -> None:
    synth = _build(services, tmp_path, TYPE_ERROR)
    assert synth.status == "ok"  # transpile-only: the bucket is built without versioning
    found = {(d.code, d.file, d.line) for d in synth.diagnostics}
    assert (2353, "lib/tap-stack.ts", 9) in found  # 'versioning' is not a BucketProps prop
    assert (2322, "lib/tap-stack.ts", 10) in found  # string into number
    assert {diagnostic_category(code) for code, _, _ in found} == {"invalid-api"}


def test_an_error_line_is_the_jobs_own_when_an_earlier_job_had_the_same_file(
    services: Services, tmp_path: Path
) -> None:
    vpc = "    new cdk.aws_ec2.Vpc(this, 'V', { maxAzs: 2, availabilityZones: ['us-east-1a'] });"
    first = _build(services, tmp_path / "a", APP + _stack(vpc))
    second = _build(services, tmp_path / "b", APP + _stack("\n" * 20 + vpc))
    assert (first.file, first.line) == ("lib/tap-stack.ts", 9), first
    assert (second.file, second.line) == ("lib/tap-stack.ts", 29), second  # not the first job's map
    # each failed attempt keeps its place too (the invalid-api finding's evidence is read from them)
    assert second.attempts and all((a.file, a.line) == ("lib/tap-stack.ts", 29) for a in second.attempts)


def test_a_package_the_harness_lacks_is_a_missing_module(services: Services, tmp_path: Path) -> None:
    synth = _build(services, tmp_path, MISSING_MODULE)
    assert synth.status == "failed" and synth.cause == "missing-module"
    assert "@acme/cdk-things" in (synth.message or "")
    assert synth.file == "lib/tap-stack.ts"
    assert any(d.code == 2307 for d in synth.diagnostics)


def test_a_syntax_error_is_a_parse_failure_with_its_line(services: Services, tmp_path: Path) -> None:
    synth = _build(services, tmp_path, SYNTAX)
    assert synth.status == "failed" and synth.cause == "syntax", synth
    assert (synth.file, synth.line) == ("lib/tap-stack.ts", 9)
    assert synth.stacks == ["TapStack"]  # what the recovered transpile built still feeds the template lens
    assert any(
        d.code is not None and diagnostic_category(d.code) == "syntax" and d.line == 9
        for d in synth.diagnostics
    )


def test_a_file_run_again_reports_its_syntax_error_again(services: Services, tmp_path: Path) -> None:
    stack_file = "lib/tap-stack.ts"
    # the worker keeps what it transpiled for the next job with the same file: its errors too
    first = _build(services, tmp_path / "a", SYNTAX)
    again = _build(services, tmp_path / "b", SYNTAX)
    assert again.worker.warm
    for synth in (first, again):
        assert (synth.status, synth.cause, synth.file, synth.line) == ("failed", "syntax", stack_file, 9)


def test_a_warm_job_says_where_its_time_went_and_records_no_creation_stacks(
    services: Services, tmp_path: Path
) -> None:
    # the app counts the creation stack traces aws-cdk-lib recorded for its bucket (none: the worker's context)
    traces = APP + _stack(
        "    const b = new s3.Bucket(this, 'Data');\n"
        "    const kinds = b.node.defaultChild!.node.metadata.map((m) => m.type);\n"
        "    new cdk.CfnOutput(this, 'Traces', { value: kinds.filter((k) => k.endsWith('creationStack')).length + '/' + kinds.length });"
    )
    _build(services, tmp_path / "a", GOOD)
    synth = _build(services, tmp_path / "b", traces)
    assert synth.status == "ok" and synth.diagnostics == [], synth
    timing = synth.worker.timing
    phases = {"transpile", "run", "app_synth", "collect", "reset", "program", "diagnostics", "tamper"}
    assert phases <= set(timing)
    assert 0 < timing["cpu_synth"] <= timing["cpu"]
    template = json.loads((tmp_path / "b" / "out" / synth.templates["TapStack"]).read_text())
    assert template["Outputs"]["Traces"]["Value"] == "0/1"  # its logical id's entry only


def test_a_javascript_module_answer_runs_as_commonjs(services: Services, tmp_path: Path) -> None:
    md = (
        "```javascript\n// bin/tap.mjs\nimport * as cdk from 'aws-cdk-lib';\n"
        "import { QueueStack } from '../lib/queue-stack.mjs';\nnew QueueStack(new cdk.App(), 'Queues');\n```\n"
        "```javascript\n// lib/queue-stack.mjs\nimport * as cdk from 'aws-cdk-lib';\n"
        "import * as sqs from 'aws-cdk-lib/aws-sqs';\nexport class QueueStack extends cdk.Stack {\n"
        "  constructor(scope, id) {\n    super(scope, id);\n    new sqs.Queue(this, 'Q');\n"
        "    sqs.Queue.nope(this);\n  }\n}\n```\n"
    )
    sample = Sample(sample_id="j", source=str(tmp_path / "answer.md"))
    built = KINDS["cdk-javascript"].build(
        sample, extract_files(md), tmp_path / "ws", tmp_path / "out", services
    )
    synth = built.synth
    assert synth.status == "failed" and synth.cause == "invalid-api", synth
    assert (synth.file, synth.line) == ("lib/queue-stack.mjs", 8)  # mapped back through the source map
    assert synth.diagnostics == []  # JavaScript is not type-checked


def test_an_error_only_an_env_agnostic_app_hits_is_tried_again_with_the_dummy_env(
    services: Services, tmp_path: Path
) -> None:
    # `cdk synth` always passes a region: a KMS alias built from `this.region` is valid there,
    # and only the harness's env-agnostic first run sees the unresolved (lowercased) token.
    body = (
        "    const kms = cdk.aws_kms;\n"
        "    new kms.Alias(this, 'A', { aliasName: `alias/app-${this.region.replace('-', '')}`.toLowerCase(),\n"
        "      targetKey: new kms.Key(this, 'K') });"
    )
    app = APP.replace(
        "{}", "{ env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } }"
    )
    synth = _build(services, tmp_path, app + _stack(body))
    assert synth.status == "ok", synth.message
    assert synth.dummy_env and synth.fallbacks == ["dummy-env"] and synth.entry == "bin/tap.ts"
    # a real error stays the answer's: tried again with the env, then reported
    bad = "    new cdk.aws_kms.Alias(this, 'A', { aliasName: 'alias/bad name!', targetKey: new cdk.aws_kms.Key(this, 'K') });"
    broken = _build(services, tmp_path / "b", app + _stack(bad))
    assert broken.status == "failed" and broken.cause == "validation", broken
    assert "Alias name must be" in (broken.message or "")


def test_when_the_scaffold_cannot_import_the_answer_its_own_files_are_type_checked(
    services: Services, tmp_path: Path
) -> None:
    task = tmp_path / "task"
    (task / "bin").mkdir(parents=True)
    (task / "bin" / "tap.ts").write_text(APP.split("\n", 2)[2].rsplit("```", 1)[0])
    (task / "cdk.json").write_text('{"app": "npx ts-node --prefer-ts-exts bin/tap.ts"}')
    answer = (
        _stack("    new s3.Bucket(this, 'Data', { versioning: true });\n    (undefined as any).boom();")
        .replace("lib/tap-stack.ts", "lib/web-stack.ts")
        .replace("TapStack", "WebStack")
    )
    sample = Sample(
        sample_id="s", source=str(task / "lib" / "MODEL_RESPONSE.md"), task_root=str(task),
        scaffold_files=["bin/tap.ts", "cdk.json"], entry_file="bin/tap.ts",
    )  # fmt: skip
    built = KINDS["cdk-typescript"].build(
        sample, extract_files(answer), tmp_path / "ws", tmp_path / "out", services
    )
    synth = built.synth
    assert synth.status == "failed" and synth.cause == "invalid-api", synth
    found = {(d.code, d.file) for d in synth.diagnostics}
    assert (2353, "lib/web-stack.ts") in found  # the answer's own misuse, not the scaffold's import
    assert not [d for d in synth.diagnostics if d.file == "bin/tap.ts"]


def test_an_app_that_requires_the_pipelines_environment_suffix_gets_it(
    services: Services, tmp_path: Path
) -> None:
    app = APP.replace(
        "const app = new cdk.App();",
        "const app = new cdk.App();\nconst suffix = app.node.tryGetContext('environmentSuffix');\n"
        "if (!suffix) throw new Error('pass -c environmentSuffix');",
    )
    synth = _build(services, tmp_path, app + _stack("    new s3.Bucket(this, 'Data');"))
    assert synth.status == "ok" and synth.entry == "bin/tap.ts", synth.message


def test_lookup_caches_of_an_answers_cdk_json_are_not_passed_to_the_app(tmp_path: Path) -> None:
    cdk_json = (
        '```json\n// cdk.json\n{"app": "npx ts-node bin/tap.ts", "context": {"@aws-cdk/core:checkSecretUsage": true,'
        ' "vpc-provider:account=123456789012:filter.isDefault=true:region=us-east-1": {"vpcId": "vpc-1"},'
        ' "availability-zones:account=123456789012:region=us-east-1": ["us-east-1a"]}}\n```\n'
    )
    extraction = extract_files(GOOD + cdk_json)
    sample = Sample(sample_id="c", source=str(tmp_path / "answer.md"))
    kind = KINDS["cdk-typescript"]
    workspace = assemble(sample, extraction, tmp_path / "ws")
    context = kind.job(workspace, extraction)["context"]  # type: ignore[attr-defined]
    assert context["@aws-cdk/core:checkSecretUsage"] is True
    assert not [k for k in context if ":account=" in k]


def test_a_worker_that_never_starts_is_an_infra_error_never_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A toolchain the sandbox cannot read (a node_modules symlinked outside its binds) kills the
    # worker at start: that is the grader's failure (infra_error, kept out of the scores), not a
    # deployment failure of every answer.
    monkeypatch.setattr(NodeWorker, "command", lambda self: [sys.executable, "-c", "raise SystemExit(1)"])
    (tmp_path / "answer.md").write_text(GOOD)
    opts = GradeOptions(out=tmp_path / "out", workers=1, cache_dir=tmp_path / "cache", kind="cdk-typescript")
    grade([tmp_path / "answer.md"], opts)
    result = json.loads(next((tmp_path / "out").glob("**/result.json")).read_text())
    assert result["status"] == "infra_error" and "does not start" in result["error"], result
    assert not list((tmp_path / "cache").glob("v1/*/*/entry.json"))  # graded again next time


def test_unnamed_blocks_are_placed_where_the_app_imports_them() -> None:
    md = GOOD.replace("// bin/tap.ts\n", "").replace("// lib/tap-stack.ts\n", "")
    assert [f.path for f in extract_files(md).files] == ["bin/tap.ts", "lib/tap-stack.ts"]


def test_files_named_without_lib_go_where_the_imports_look() -> None:
    md = (
        "```typescript\n// tap-stack.ts\nimport { Vpc } from './constructs/vpc';\nexport class TapStack {}\n```\n"
        "```typescript\n// constructs/vpc.ts\nexport class Vpc {}\n```\n"
        "```typescript\n// lambda/handler.ts\nexport const handler = async () => 1;\n```\n"
    )
    files = extract_files(md).files
    moves = place_files(files)
    assert sorted(f.path for f in files) == ["lambda/handler.ts", "lib/constructs/vpc.ts", "lib/tap-stack.ts"]
    assert [(m.src, m.dst) for m in moves] == [
        ("tap-stack.ts", "lib/tap-stack.ts"),
        ("constructs/vpc.ts", "lib/constructs/vpc.ts"),
    ]


def test_a_stack_block_named_as_the_app_becomes_the_stack_module() -> None:
    md = "```typescript\n// bin/tap.ts\nimport * as cdk from 'aws-cdk-lib';\nexport class TapStack extends cdk.Stack {}\n```\n"
    files = extract_files(md).files
    place_files(files)
    assert [(f.path, f.moved_from) for f in files] == [("lib/tap-stack.ts", "bin/tap.ts")]


def test_a_folderless_app_keeps_the_sibling_module_it_imports_beside_it() -> None:
    md = (
        "```typescript\n// main.ts\nimport * as cdk from 'aws-cdk-lib';\nimport { NetStack } from './netstack';\n"
        "new NetStack(new cdk.App(), 'Net');\n```\n"
        "```typescript\n// netstack.ts\nimport * as cdk from 'aws-cdk-lib';\nexport class NetStack extends cdk.Stack {}\n```\n"
        "```typescript\n// tap-stack.ts\nimport * as cdk from 'aws-cdk-lib';\nexport class TapStack extends cdk.Stack {}\n```\n"
    )
    files = extract_files(md).files
    place_files(files)
    # ./netstack resolves from bin/main.ts; the scaffold's tap-stack stays where bin/tap.ts imports it
    assert sorted(f.path for f in files) == ["bin/main.ts", "bin/netstack.ts", "lib/tap-stack.ts"]
