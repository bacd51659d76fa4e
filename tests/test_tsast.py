"""The TypeScript/JavaScript syntax tree the source lens reads (graders/analysis/tsast.py)."""

from __future__ import annotations

from iacgrade.graders.analysis.names import ACCOUNT_REGION
from iacgrade.graders.analysis.source import SourceFile, SourceModel
from iacgrade.graders.analysis.tsast import MAX_SOURCE_BYTES, TsFile, camel, ts_files


def _file(text: str, path: str = "lib/tap-stack.ts") -> TsFile:
    return TsFile.parse(SourceFile(path, text, None, None))


def _name_of(text: str) -> list | None:
    f = _file(text + "\nnew s3.Bucket(this, 'B', { bucketName: NAME });")
    (new,) = f.news()
    return f.name_parts(f.props(new.arg(2))["bucketName"])


def test_name_parts_read_literals_templates_and_concatenation() -> None:
    assert _name_of("const NAME = 'orders';") == ["orders"]
    assert _name_of("const NAME = `logs-${this.account}-${cdk.Aws.REGION}`;") == [
        "logs-",
        ACCOUNT_REGION,
        "-",
        ACCOUNT_REGION,
    ]
    assert _name_of("const NAME = 'Orders-' + 'Table'.toLowerCase();") == ["Orders-", "table"]
    assert _name_of("const NAME = `logs-${process.env.CDK_DEFAULT_REGION}`;") == ["logs-", ACCOUNT_REGION]


def test_a_name_with_any_other_variable_part_varies() -> None:
    assert _name_of("const suffix = props.environmentSuffix;\nconst NAME = `orders-${suffix}`;") is None
    assert _name_of("const NAME = props?.tableName ?? 'orders';") is None
    # Declared in two scopes: which one the use means is not known, so it is not resolved.
    assert _name_of("function a() { const NAME = 'x'; }\nfunction b() { const NAME = 'y'; }") is None


def test_a_cut_off_file_keeps_the_constructs_before_the_cut() -> None:
    f = _file(
        "import * as s3 from 'aws-cdk-lib/aws-s3';\n"
        "export class S extends cdk.Stack {\n  constructor(scope, id) {\n    super(scope, id);\n"
        "    new s3.Bucket(this, 'Kept', { bucketName: 'kept' });\n"
        "    new dynamodb.Table(this, 'Cut', { tableName: "
    )
    names = [(n.qualified, f.construct_id(n.arg(1))) for n in f.news() if n.arg(1) is not None]
    assert ("s3.Bucket", "Kept") in names
    assert f.imports_cdk() and "S" in f.stack_classes()


def test_construct_ids_and_members_as_written() -> None:
    f = _file(
        "const t = new dynamodb.Table(this, `Orders-${env}`, { removalPolicy: cdk.RemovalPolicy.DESTROY });"
    )
    (new,) = f.news()
    assert new.cls == "Table" and f.construct_id(new.arg(1)) == "Orders-{}"
    assert f.member(f.props(new.arg(2))["removalPolicy"]) == "RemovalPolicy.DESTROY"
    assert f.constructed(f.bindings["t"]) is not None


def test_hostile_text_parses_without_exhausting_the_stack() -> None:
    deep = _file("const x = " + "[" * 50_000 + "]" * 50_000 + ";")
    assert not list(deep.news())
    assert deep.name_parts(deep.root) is None


def test_only_the_apps_own_readable_typescript_files_are_parsed() -> None:
    files = [
        SourceFile("lib/tap-stack.ts", "new s3.Bucket(this, 'B');", None, None),
        SourceFile("bin/tap.mjs", "new App();", None, None),
        SourceFile("test/tap-stack.unit.test.ts", "new s3.Bucket(this, 'T');", None, None),
        SourceFile("lib/huge.ts", "x;" * (MAX_SOURCE_BYTES // 2 + 1), None, None),
        SourceFile("lib/binary.ts", "\x00\x01\x02" * 100, None, None),
        SourceFile("lib/handler.py", "import boto3", None, None),
    ]
    assert [t.src.path for t in ts_files(SourceModel(files))] == ["lib/tap-stack.ts", "bin/tap.mjs"]


def test_python_keywords_in_typescript_spelling() -> None:
    assert camel("table_name") == "tableName"
    assert camel("from_generated_secret") == "fromGeneratedSecret"
    assert camel("name") == "name"
