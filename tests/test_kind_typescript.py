"""CDK TypeScript answers, synthesized for real on one warm Node worker (shared by the module)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from iacgrade.graders.extract import extract_files
from iacgrade.graders.kinds import KINDS
from iacgrade.graders.kinds.base import BuildSettings, Services
from iacgrade.graders.kinds.cdk_typescript import NODE_TOOLCHAIN, diagnostic_category, place_files
from iacgrade.graders.models import Sample, SynthResult

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
    assert again.worker["warm"] and again.status == "ok"
    template = (tmp_path / "b" / "out" / again.templates["TapStack"]).read_text()
    assert "AWS::S3::Bucket" in template and '"Status": "Enabled"' in template
    assert (tmp_path / "a" / "out" / first.templates["TapStack"]).read_text() == template
    assert "TapStack" in first.lint  # cfn-lint ran on the template


def test_type_errors_are_reported_and_the_template_still_built(services: Services, tmp_path: Path) -> None:
    synth = _build(services, tmp_path, TYPE_ERROR)
    assert synth.status == "ok"  # transpile-only: the bucket is built without versioning
    found = {(d["code"], d["file"], d["line"]) for d in synth.diagnostics}
    assert (2353, "lib/tap-stack.ts", 9) in found  # 'versioning' is not a BucketProps prop
    assert (2322, "lib/tap-stack.ts", 10) in found  # string into number
    assert {diagnostic_category(code) for code, _, _ in found} == {"invalid-api"}


def test_a_package_the_harness_lacks_is_a_missing_module(services: Services, tmp_path: Path) -> None:
    synth = _build(services, tmp_path, MISSING_MODULE)
    assert synth.status == "failed" and synth.cause == "missing-module"
    assert "@acme/cdk-things" in (synth.message or "")
    assert synth.file == "lib/tap-stack.ts"
    assert any(d["code"] == 2307 for d in synth.diagnostics)


def test_a_syntax_error_is_a_parse_failure_with_its_line(services: Services, tmp_path: Path) -> None:
    synth = _build(services, tmp_path, SYNTAX)
    assert synth.status == "failed" and synth.cause == "syntax", synth
    assert (synth.file, synth.line) == ("lib/tap-stack.ts", 9)
    assert synth.stacks == ["TapStack"]  # what the recovered transpile built still feeds the template lens
    assert any(diagnostic_category(d["code"]) == "syntax" and d["line"] == 9 for d in synth.diagnostics)


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
