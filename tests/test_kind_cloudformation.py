"""CloudFormation answers: their templates found in the markdown, parsed (bounded), linted and graded."""

from __future__ import annotations

from graders.extract import extract_files

_TEMPLATE = (
    "AWSTemplateFormatVersion: '2010-09-09'\n"
    "Parameters:\n"
    "  Env:\n"
    "    Type: String\n"
    "Resources:\n"
    "  Data:\n"
    "    Type: AWS::S3::Bucket\n"
    "    Properties:\n"
    "      BucketName: !Sub '${AWS::StackName}-data'\n"
    "  Table:\n"
    "    Type: AWS::DynamoDB::Table\n"
    "    Properties:\n"
    "      BillingMode: PAY_PER_REQUEST\n"
    "      AttributeDefinitions:\n"
    "        - AttributeName: id\n"
    "          AttributeType: S\n"
    "      KeySchema:\n"
    "        - AttributeName: id\n"
    "          KeyType: HASH\n"
)
_FENCED = f"Here is the template:\n\n```yaml\n{_TEMPLATE}```\n\nDeploy it with the CLI.\n"


# ---- extraction ----------------------------------------------------------------------------------
def test_an_unnamed_yaml_template_is_extracted_as_template_yaml() -> None:
    files = extract_files(_FENCED).files
    assert [(f.path, f.language, f.line) for f in files] == [("template.yaml", "yaml", 3)]


def test_an_untagged_fence_holding_a_template_is_yaml() -> None:
    files = extract_files(f"```\n{_TEMPLATE}```\n").files
    assert [(f.path, f.language) for f in files] == [("template.yaml", "yaml")]


def test_a_named_template_keeps_its_name() -> None:
    files = extract_files(f"## lib/TapStack.yml\n\n```yaml\n{_TEMPLATE}```\n").files
    assert [f.path for f in files] == ["lib/TapStack.yml"]


def test_a_json_template_is_template_json_and_a_yaml_snippet_is_not_a_template() -> None:
    md = (
        '```json\n{\n  "AWSTemplateFormatVersion": "2010-09-09",\n  "Resources": {\n'
        '    "B": {"Type": "AWS::S3::Bucket"}\n  }\n}\n```\n\n'
        "```yaml\nversion: 0.2\nphases:\n  build:\n    commands: [make]\n```\n"
    )
    extraction = extract_files(md)
    assert [(f.path, f.language) for f in extraction.files] == [("template.json", "json")]
    assert [s.reason for s in extraction.skipped] == ["unnamed yaml block"]


def test_several_unnamed_templates_are_numbered_in_order() -> None:
    md = f"## Network\n\n```yaml\n{_TEMPLATE}```\n\n## Storage\n\n```yaml\n{_TEMPLATE}```\n"
    assert [f.path for f in extract_files(md).files] == ["template.yaml", "template-2.yaml"]


def test_a_fenceless_answer_is_the_template_from_its_first_section_on() -> None:
    md = f"## Model Response\n{_TEMPLATE}"
    extraction = extract_files(md)
    [file] = extraction.files
    assert (file.path, file.language, file.line) == ("template.yaml", "yaml", 1)
    assert file.content.startswith("AWSTemplateFormatVersion")
    assert file.md_line(1) == 2  # the template's first line is the answer's second
    assert any("reads as a yaml template" in n for n in extraction.notes)


def test_a_template_that_a_stray_fence_closes_is_read_up_to_the_fence() -> None:
    extraction = extract_files(f"{_TEMPLATE}```\n")
    assert [f.path for f in extraction.files] == ["template.yaml"]
    assert "```" not in extraction.files[0].content


def test_prose_only_answers_give_no_template() -> None:
    md = "# Model response\n\nThe template creates a VPC, an `AWS::S3::Bucket` and Resources: many.\n"
    assert extract_files(md).files == []
