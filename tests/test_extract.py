"""Tests for graders.extract: naming rules, fences, skipped blocks, unsafe paths, corpus quirks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iacgrade.graders.extract import extract_files, safe_relpath
from iacgrade.graders.models import Extraction

DATA = Path(__file__).parent / "data" / "markdown"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "cdk-py"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")


def _extract(name: str) -> Extraction:
    return extract_files((DATA / name).read_text())


def _paths(extraction: Extraction) -> dict[str, tuple[str, int]]:
    return {f.path: (f.path_source, f.line) for f in extraction.files}


def test_heading_styles() -> None:
    files = _paths(_extract("headings.md"))
    assert files == {
        "lib/tap_stack.py": ("heading", 5),
        "lib/vpc_stack.py": ("heading", 15),
        "main.py": ("heading", 21),
        "tap.py": ("heading", 27),
        "cdk.json": ("heading", 35),
    }


def test_bold_sentence_info_comment_docstring_labels() -> None:
    files = _paths(_extract("labels.md"))
    assert files == {
        "app.py": ("bold", 3),
        "lib/bold_label.py": ("bold", 9),
        "lambda/handler.py": ("sentence", 15),
        "lib/info_colon.py": ("info-string", 23),
        "lib/info_title.py": ("info-string", 27),
        "lib/first_comment.py": ("comment", 31),
        "first_docstring.py": ("docstring", 36),
        "lib/html_comment.py": ("comment", 45),
    }


def test_file_lines_map_to_markdown_lines() -> None:
    text = (DATA / "headings.md").read_text().split("\n")
    stack = next(f for f in _extract("headings.md").files if f.path == "lib/tap_stack.py")
    for k, line in enumerate(stack.content.split("\n")[:-1], start=1):
        assert text[stack.md_line(k) - 1] == line
    assert stack.end_line == 10
    assert stack.language == "python"


def test_nested_tilde_quoted_listed_and_unterminated_fences() -> None:
    extraction = _extract("fences.md")
    files = {f.path: f for f in extraction.files}
    assert set(files) == {
        "docs/example.md",
        "lib/tilde.py",
        "lib/quoted.py",
        "lib/listed.py",
        "lib/unterminated.py",
    }
    assert "```bash" in files["docs/example.md"].content  # the inner fence stays inside the outer one
    assert files["lib/quoted.py"].content == "import os\n"
    assert files["lib/unterminated.py"].content.rstrip().endswith('print("this fence is never closed")')
    assert any("never closed" in note for note in extraction.notes)


def test_duplicate_paths_later_wins_and_fragment_never_replaces() -> None:
    extraction = _extract("duplicates.md")
    assert len(extraction.files) == 1
    final = extraction.files[0]
    assert "VERSION = 3" in final.content
    assert final.overrides == [3, 12]
    assert [(s.line, s.reason) for s in extraction.skipped] == [(28, "fragment")]


def test_traversal_paths_are_refused_or_sanitised() -> None:
    extraction = _extract("traversal.md")
    assert [f.path for f in extraction.files] == ["abs/path.py", "temp/win.py", "lib/dotted.py"]
    assert any("refused" in n and "../../etc/x.py" in n for n in extraction.notes)
    assert any("rewritten" in n and "abs/path.py" in n for n in extraction.notes)
    assert all(".." not in f.path.split("/") for f in extraction.files)


def test_shell_tree_output_and_fragments_are_skipped() -> None:
    extraction = _extract("skipped.md")
    reasons = {s.line: s.reason for s in extraction.skipped}
    assert reasons == {
        3: "directory tree",
        12: "shell commands",
        17: "shell commands",
        21: "unnamed json block",
        27: "fragment",
        40: "output listing",
        47: "output listing",
    }
    assert [f.path for f in extraction.files] == ["deploy.sh"]  # a named script is a file


def test_one_block_holding_several_files_is_split() -> None:
    extraction = _extract("multi_file_block.md")
    files = {f.path: f for f in extraction.files}
    assert list(files) == ["app.py", "infrastructure/vpc_stack.py", "infrastructure/security_stack.py"]
    assert files["app.py"].content.rstrip().endswith("app.synth()")
    assert "VPC and Networking" not in files["app.py"].content
    assert files["infrastructure/vpc_stack.py"].content.startswith("from aws_cdk import Stack")
    text = (DATA / "multi_file_block.md").read_text().split("\n")
    vpc = files["infrastructure/vpc_stack.py"]
    assert text[vpc.md_line(1) - 1] == "from aws_cdk import Stack"


def test_unnamed_python_blocks_get_documented_defaults() -> None:
    extraction = _extract("unnamed.md")
    assert [(f.path, f.path_source) for f in extraction.files] == [
        ("lib/tap_stack.py", "default"),
        ("app.py", "default"),
        ("lib/data_pipeline_construct.py", "default"),
        ("lambda/lambda_function.py", "default"),
    ]
    assert extraction.skipped[-1].reason == "unnamed"


def test_unnamed_entry_is_tap_py_when_the_answer_talks_about_tap_py() -> None:
    md = "Save this as the entry point, tap.py style:\n\n```python\nimport aws_cdk as cdk\napp = cdk.App()\napp.synth()\n```\n"
    assert [f.path for f in extract_files(md).files] == ["tap.py"]


def test_default_never_replaces_a_named_file() -> None:
    md = (
        "## File: app.py\n\n```python\nimport aws_cdk as cdk\napp = cdk.App()\napp.synth()\n```\n\n"
        "Again:\n\n```python\nimport aws_cdk as cdk\napp = cdk.App()\napp.synth()\n```\n"
    )
    extraction = extract_files(md)
    assert [(f.path, f.line) for f in extraction.files] == [("app.py", 3)]
    assert "given by another block" in extraction.skipped[0].reason


def test_never_closed_fences_are_cut_at_the_next_file_label() -> None:
    md = "## File: lib/a.py\n\n```python\nimport os\n\n## File: lib/b.py\n\n```python\nimport sys\n"
    files = {f.path: f for f in extract_files(md).files}
    assert files["lib/a.py"].content.strip() == "import os"
    assert files["lib/b.py"].content == "import sys\n"
    assert files["lib/b.py"].line == 8


def test_a_closed_longer_fence_keeps_its_nested_example_whole() -> None:
    """A README in ```` or ~~~ showing a file label and a ``` example is one file, not cut."""
    for outer in ("````", "~~~"):
        md = (
            f"## File: docs/guide.md\n\n{outer}markdown\n# Guide\n\n## Example: app.py\n\n"
            f"```python\nprint(1)\n```\n{outer}\n\n## File: app.py\n\n```python\nprint(2)\n```\n"
        )
        extraction = extract_files(md)
        files = {f.path: f for f in extraction.files}
        assert set(files) == {"docs/guide.md", "app.py"}, outer
        assert "print(1)" in files["docs/guide.md"].content and files["app.py"].content == "print(2)\n"
        assert files["app.py"].overrides == [] and not any("never closed" in n for n in extraction.notes)
    # the same nesting with an outer fence that is never closed is still cut at the label
    md = "## File: lib/a.py\n\n````python\nimport os\n\n## File: lib/b.py\n\n```python\nimport sys\n```\n"
    extraction = extract_files(md)
    assert {f.path: f.content.strip() for f in extraction.files} == {
        "lib/a.py": "import os",
        "lib/b.py": "import sys",
    }
    assert any("never closed" in n for n in extraction.notes)


@pytest.mark.parametrize(
    ("label", "path"),
    [
        ("## File: lib/tap_stack.py.", "lib/tap_stack.py"),
        ("**File:** lib/tap_stack.py,", "lib/tap_stack.py"),
        ("### File: the main stack in lib/tap_stack.py", "lib/tap_stack.py"),
        ("### File: Main Stack", "lib/tap_stack.py"),  # prose, not a path: the default applies
        ("## File: Dockerfile", "Dockerfile"),
        ("## File: .gitignore", ".gitignore"),
    ],
)
def test_file_label_words_are_paths_only_when_they_can_be(label: str, path: str) -> None:
    md = f"{label}\n\n```python\nfrom aws_cdk import Stack\n\n\nclass TapStack(Stack):\n    pass\n```\n"
    assert [f.path for f in extract_files(md).files] == [path]


def test_mispaired_fence_is_read_again_as_markdown() -> None:
    md = (
        "```markdown\n# Readme\n```bash\nls\n```\n\nMore readme text.\n```\n\n"
        "## File: lib/after.py\n\n```python\nimport os\n```\n"
    )
    files = {f.path: f for f in extract_files(md).files}
    assert files["lib/after.py"].content == "import os\n"
    assert files["lib/after.py"].line == 12


def test_line_references_do_not_name_files() -> None:
    md = "**Location**: `lib/tap_stack.py` lines 27-39\n\n```python\nimport os\nx = 1\n```\n"
    extraction = extract_files(md)
    assert all(f.path != "lib/tap_stack.py" for f in extraction.files)


def test_answer_without_fences_that_is_python_code() -> None:
    md = "from aws_cdk import App, Stack\n\nclass Foo(Stack):\n    pass\n\napp = App()\napp.synth()\n"
    extraction = extract_files(md)
    assert [(f.path, f.line) for f in extraction.files] == [("app.py", 0)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("lib/tap_stack.py", "lib/tap_stack.py"),
        ("`./lib/x.py`", "lib/x.py"),
        ("/abs/path.py", "abs/path.py"),
        ("C:\\temp\\x.py", "temp/x.py"),
        ("lib\\x.py", "lib/x.py"),
        ("~/x.py", "x.py"),
        ("lib//./x.py", "lib/x.py"),
        ("../../etc/passwd", None),
        ("lib/../../x.py", None),
        ("..\\..\\x.py", None),
        ("x\x00.py", None),
        ("x\n.py", None),
        ("a" * 300 + ".py", None),
        ("/".join(["d"] * 40) + "/x.py", None),
        ("", None),
        ("/", None),
        ("x.py:24", None),
        (None, None),
    ],
)
def test_safe_relpath(raw: object, expected: str | None) -> None:
    assert safe_relpath(raw) == expected


def _assert_safe(path: str) -> None:
    assert path and not path.startswith("/") and "\\" not in path and "\x00" not in path
    assert ".." not in path.split("/") and safe_relpath(path) == path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_extract_never_raises_and_paths_are_safe(text: str) -> None:
    for file in extract_files(text).files:
        _assert_safe(file.path)


_FENCE_PARTS = st.sampled_from(
    [
        "```",
        "```python",
        "~~~",
        "````",
        "## File: ",
        "../",
        "/",
        "\\",
        "x.py",
        "lib/",
        "# ",
        "**",
        "\n",
        " ",
        "`",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_FENCE_PARTS, st.text(max_size=5)), max_size=60).map("".join))
def test_extract_never_raises_on_markdown_like_text(text: str) -> None:
    for file in extract_files(text).files:
        _assert_safe(file.path)


def test_garbage_and_large_inputs() -> None:
    import random

    rng = random.Random(0)
    garbage = bytes(rng.randrange(256) for _ in range(20000)).decode("latin-1")
    assert isinstance(extract_files(garbage), Extraction)
    many = "".join(f"## File: lib/m{i}.py\n\n```python\nimport os\n```\n\n" for i in range(10000))
    assert len(extract_files(many).files) == 10000
    huge_line = "```python\n" + "x = 1; " * 200000 + "\n```\n"
    assert len(extract_files(huge_line).skipped) == 1  # unnamed, no import: a fragment
    deep = ">" * 5000 + " ```python\nimport os\n"
    assert isinstance(extract_files(deep), Extraction)
    assert extract_files(123).files == []  # type: ignore[arg-type]


@needs_corpus
def test_corpus_pr4792_model_files() -> None:
    extraction = extract_files((CORPUS / "Pr4792" / "lib" / "MODEL_RESPONSE.md").read_text())
    assert [(f.path, f.line + 1, f.end_line) for f in extraction.files] == [
        ("main.py", 53, 281),
        ("lambda/handler.py", 287, 481),
        ("tests/test_lambda.py", 487, 693),
        ("requirements.txt", 699, 704),
        ("cdk.json", 710, 736),
    ]


@needs_corpus
def test_corpus_pr4348_split_matches_hand_labels() -> None:
    extraction = extract_files((CORPUS / "Pr4348" / "lib" / "MODEL_RESPONSE.md").read_text())
    assert [(f.path, f.line + 1, f.end_line) for f in extraction.files] == [
        ("app.py", 43, 166),
        ("infrastructure/vpc_stack.py", 170, 278),
        ("infrastructure/security_stack.py", 282, 442),
        ("infrastructure/ecr_stack.py", 446, 554),
        ("infrastructure/rds_stack.py", 558, 730),
        ("infrastructure/ecs_stack.py", 734, 801),
    ]


@needs_corpus
def test_corpus_every_answer_extracts_without_error() -> None:
    for path in sorted(CORPUS.glob("*/lib/*RESPONSE.md")):
        for file in extract_files(path.read_text()).files:
            _assert_safe(file.path)


def test_a_module_docstring_opening_with_a_file_name_starts_a_new_file() -> None:
    text = (
        "# Answer\n\n```python\n"
        '"""tap_stack.py\nThe main stack.\n"""\n'
        "from aws_cdk import Stack\n\nclass TapStack(Stack):\n    pass\n\n"
        '"""lambda_func_stack.py\nThe functions, in a stack of their own.\n"""\n'
        "from aws_cdk import Stack\n\nclass LambdaFuncStack(Stack):\n    pass\n"
        "```\n"
    )
    files = {f.path: f for f in extract_files(text).files}
    assert set(files) >= {"tap_stack.py", "lambda_func_stack.py"}, sorted(files)
    assert "class LambdaFuncStack" in files["lambda_func_stack.py"].content
    assert "class LambdaFuncStack" not in files["tap_stack.py"].content


_STACK = "from aws_cdk import Stack\n\n\nclass FooStack(Stack):\n    pass\n"


@pytest.mark.parametrize(
    "info",
    [
        "python {file=lib/tap_stack.py}",
        'python {filename="lib/tap_stack.py", linenos}',
        "python file: lib/tap_stack.py",
        "python [lib/tap_stack.py]",
    ],
)
def test_info_string_name_forms(info: str) -> None:
    files = extract_files(f"```{info}\n{_STACK}```\n").files
    assert [(f.path, f.path_source) for f in files] == [("lib/tap_stack.py", "info-string")]


@pytest.mark.parametrize(
    "first",
    [
        "# lib/tap_stack.py - the main stack",
        "# lib/tap_stack.py: main stack definition",
        "# lib/tap_stack.py \u2014 main stack",
        "# lib/tap_stack.py (updated)",
        "# ---- lib/tap_stack.py ----",
        "# ===== File: lib/tap_stack.py =====",
    ],
)
def test_first_line_comment_with_a_description_or_banner_names_the_block(first: str) -> None:
    files = extract_files(f"```python\n{first}\n{_STACK}```\n").files
    assert [(f.path, f.path_source) for f in files] == [("lib/tap_stack.py", "comment")]


def test_a_described_comment_on_a_sketch_that_does_not_parse_names_nothing() -> None:
    """``# x.py - full version in the repo`` over pseudo-code must not replace the real x.py."""
    md = (
        "## lib/optimize.py\n\n```python\nimport os\n\n\nclass Optimizer:\n    pass\n```\n\n"
        "Summary:\n\n```python\n# lib/optimize.py - complete implementation in the repository\n\n"
        "class Optimizer:\n    def run(self) -> Dict\n```\n"
    )
    files = extract_files(md).files
    assert [(f.path, f.line) for f in files] == [("lib/optimize.py", 3)]
    for prose in ("# config.py values are loaded here", "# See app.py for the entry point"):
        files = extract_files(f"```python\n{prose}\n{_STACK}```\n").files
        assert [f.path for f in files] == ["lib/foo_stack.py"], prose  # the default, not config.py


@pytest.mark.parametrize("banner", ["# ---- {} ----", "# ===== {} =====", "# --- File: {} ---", "## {}"])
def test_one_block_split_at_comment_banners(banner: str) -> None:
    body = "".join(
        f"{banner.format(p)}\nfrom aws_cdk import Stack\n\n\nclass {c}(Stack):\n    pass\n\n"
        for p, c in (("lib/a_stack.py", "Alpha"), ("lib/b_stack.py", "Beta"))
    )
    extraction = extract_files(f"```python\n{body}```\n")
    files = {f.path: f for f in extraction.files}
    assert list(files) == ["lib/a_stack.py", "lib/b_stack.py"]
    assert "class Beta" in files["lib/b_stack.py"].content
    assert "class Beta" not in files["lib/a_stack.py"].content


@pytest.mark.parametrize("outer", ["````markdown", "````", "~~~md"])
def test_an_answer_wrapped_in_one_outer_markdown_fence_is_read_as_the_answer(outer: str) -> None:
    close = outer.rstrip("markdown")
    md = (
        f"{outer}\n# Solution\n\n## lib/tap_stack.py\n\n```python\n" + _STACK + "```\n\n"
        "## app.py\n\n```python\nimport aws_cdk as cdk\napp = cdk.App()\napp.synth()\n```\n"
        f"{close}\n"
    )
    extraction = extract_files(md)
    files = {f.path: f for f in extraction.files}
    assert {p: f.path_source for p, f in files.items()} == {
        "lib/tap_stack.py": "heading",
        "app.py": "heading",
    }
    lines = md.split("\n")
    stack = files["lib/tap_stack.py"]
    assert lines[stack.md_line(1) - 1] == "from aws_cdk import Stack"
    assert any("read as the answer" in n for n in extraction.notes)


def test_a_heading_in_an_unnamed_markdown_block_does_not_name_it() -> None:
    md = "````markdown\n# Notes\n\n## tap_stack.py\n\nThe stack holds the VPC.\n````\n"
    extraction = extract_files(md)
    assert extraction.files == []
    assert [s.reason for s in extraction.skipped] == ["unnamed markdown block"]


def test_details_summary_and_html_headings_name_the_block() -> None:
    app = "import aws_cdk as cdk\napp = cdk.App()\napp.synth()\n"
    md = (
        "<details>\n<summary><b>lib/tap_stack.py</b></summary>\n\n```python\n"
        + _STACK
        + "```\n\n</details>\n"
        "<details><summary>Click to expand</summary>\n\n```python\n" + _STACK.replace("Foo", "Bar") + "```\n"
        "</details>\n\n<h3>main.py</h3>\n\n```python\n" + app + "```\n"
    )
    files = extract_files(md).files
    assert [(f.path, f.path_source) for f in files] == [
        ("lib/tap_stack.py", "heading"),
        ("lib/bar_stack.py", "default"),  # a summary without a path names nothing
        ("main.py", "heading"),
    ]


def test_a_code_block_takes_the_label_path_of_its_own_language() -> None:
    app = "import aws_cdk as cdk\napp = cdk.App()\napp.synth()\n"
    md = f"## Pin `requirements.txt` and update `app.py`\n\n```python\n{app}```\n\n```text\naws-cdk-lib==2.150.0\n```\n"
    extraction = extract_files(md)
    assert [(f.path, f.path_source) for f in extraction.files] == [("app.py", "heading")]
    # a block labelled only with another type's file keeps it
    md = "## requirements.txt\n\n```python\naws-cdk-lib==2.150.0\nconstructs>=10\n```\n"
    assert [f.path for f in extract_files(md).files] == ["requirements.txt"]


def test_a_bare_file_name_on_the_first_line_names_the_block_and_is_left_out() -> None:
    md = f"Intro.\n\n```python\nlib/tap_stack.py\n\n{_STACK}```\n"
    extraction = extract_files(md)
    assert [(f.path, f.path_source) for f in extraction.files] == [("lib/tap_stack.py", "comment")]
    stack = extraction.files[0]
    assert "lib/tap_stack.py" not in stack.content and "class FooStack" in stack.content
    lines = md.split("\n")
    for k, line in enumerate(stack.content.split("\n")[:-1], start=1):
        assert lines[stack.md_line(k) - 1] == line
    # a name of another type, or a name that is all the block holds, is left alone
    md = "```python\nrequirements.txt\nimport os\n```\n"
    assert [f.path for f in extract_files(md).files] == []  # not requirements.txt; unnamed, so skipped


@pytest.mark.parametrize("name_line", ["lib/tap_stack.py", "# lib/tap_stack.py"])
def test_a_block_holding_only_a_file_name_labels_the_next_block(name_line: str) -> None:
    md = f"```\n{name_line}\n```\n\n```python\n{_STACK}```\n"
    files = extract_files(md).files
    assert [(f.path, f.path_source, f.line) for f in files] == [("lib/tap_stack.py", "comment", 5)]


def test_a_reasoning_block_never_closed_gives_way_to_the_answers_own_block() -> None:
    # The reasoning opens a TypeScript block, drifts into prose and never closes it; the answer
    # then opens a fresh one. CommonMark reads one block from the first fence to the last.
    md = (
        "Thinking it through:\n\n```typescript\nimport * as cdk from 'aws-cdk-lib';\n\n"
        "Now I will also add the bucket and finish the stack.\n\n### Answer\n\n"
        "```typescript\nimport * as cdk from 'aws-cdk-lib';\nimport { Construct } from 'constructs';\n\n"
        "export class TapStack extends cdk.Stack {\n"
        "  constructor(scope: Construct, id: string) {\n    super(scope, id);\n  }\n}\n```\n"
    )
    extraction = extract_files(md)
    (only,) = extraction.files
    assert (only.path, only.line) == ("lib/tap-stack.ts", 10)
    assert only.content.startswith("import * as cdk") and "Now I will" not in only.content
    # the same with a longer outer fence, which the answer's shorter one cannot close
    longer = md.replace(
        "```typescript\nimport * as cdk from 'aws-cdk-lib';\n\nNow",
        "````typescript\nimport * as cdk from 'aws-cdk-lib';\n\nNow",
    )
    longer = longer[: longer.rindex("```")] + "````\n"
    (again,) = extract_files(longer).files
    assert again.line == 10 and again.content == only.content
    # a fence that only closes (no language) still closes, and a markdown block keeps its examples
    kept = "```markdown\n# Readme\n\n```typescript\nconst x = 1;\n```\n"
    assert not any("runs into" in n for n in extract_files(kept).notes)


def test_a_typescript_file_shown_in_parts_is_joined_with_its_lines_in_place() -> None:
    md = (
        "## Core\n\n```typescript\nimport * as cdk from 'aws-cdk-lib';\n"
        "export class TapStack extends cdk.Stack {\n  constructor(scope: any, id: string) {\n"
        "    super(scope, id);\n    const tags = { a: '{' };\n```\n\n"
        "## Storage\n\nThe bucket:\n\n```typescript\n    new cdk.aws_s3.Bucket(this, 'B', {\n"
        "      versioned: true,\n    });\n```\n\n## End\n\n```typescript\n  }\n}\n```\n"
    )
    extraction = extract_files(md)
    (only,) = extraction.files
    assert only.path == "lib/tap-stack.ts" and not extraction.skipped
    lines, md_lines = only.content.split("\n"), md.split("\n")
    for k, text in enumerate(lines, start=1):
        if text.strip():
            assert md_lines[only.md_line(k) - 1] == text  # file line k is still markdown line line + k
    assert "versioned: true" in only.content and only.content.rstrip().endswith("}")
    # parts that do not close the braces are left as they were: a file and skipped fragments
    open_only = md.replace("```typescript\n  }\n}\n```\n", "")
    left = extract_files(open_only)
    assert [f.path for f in left.files] == ["lib/tap-stack.ts"] and "versioned" not in left.files[0].content
    assert [s.reason for s in left.skipped] == ["fragment"]


def test_a_named_markdown_document_showing_same_fence_blocks_is_read_whole() -> None:
    """An answer giving its folder's MODEL_RESPONSE.md (or a README) in a ```markdown block: the
    document's own ```json template and bare ``` output block are its content, not files."""
    template = '{\n  "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}\n}\n'
    md = (
        "## File: lib/MODEL_RESPONSE.md\n\n```markdown\n# Old answer\n\n## File: lib/old.json\n\n"
        f"```json\n{template}```\n\nIt failed with:\n```\nCircular dependency\n```\n\nThe end.\n```\n\n"
        f"## File: lib/TapStack.json\n\n```json\n{template}```\n"
    )
    extraction = extract_files(md)
    files = {f.path: f for f in extraction.files}
    assert set(files) == {"lib/MODEL_RESPONSE.md", "lib/TapStack.json"}
    doc = files["lib/MODEL_RESPONSE.md"].content
    assert "lib/old.json" in doc and "Circular dependency" in doc and doc.rstrip().endswith("The end.")
    assert files["lib/TapStack.json"].line == md.split("\n").index("## File: lib/TapStack.json") + 3
    assert any("read whole" in n for n in extraction.notes)
    # the same blocks under a name that is not a markdown document are still cut at the label
    cut = extract_files(md.replace("lib/MODEL_RESPONSE.md", "lib/notes.txt", 1))
    assert "lib/old.json" in {f.path for f in cut.files}
