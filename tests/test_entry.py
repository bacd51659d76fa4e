"""Entry planning: the answer's own app, the scaffold's tap.py, or a generated driver."""

from __future__ import annotations

import ast
from collections import OrderedDict
from pathlib import Path

import pytest

from iacgrade.graders.analysis import pyast
from iacgrade.graders.sandbox.entry import (
    DRIVER_FILE,
    find_answer_entry,
    find_top_stacks,
    parse_file,
    parse_scope,
    plan_entry,
    scaffold_mismatch,
)

SCAFFOLD_TAP = """\
import aws_cdk as cdk
from lib.tap_stack import TapStack, TapStackProps
app = cdk.App()
props = TapStackProps(environment_suffix="dev", env=cdk.Environment(account=None, region=None))
TapStack(app, "TapStackdev", props=props)
app.synth()
"""


def _write(root: Path, files: dict[str, str]) -> list[str]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return sorted(files)


def test_answer_entry_preferred_over_scaffold(tmp_path: Path) -> None:
    _write(tmp_path, {"tap.py": SCAFFOLD_TAP})
    answer = _write(
        tmp_path,
        {
            "app.py": "import aws_cdk as cdk\napp = cdk.App()\napp.synth()\n",
            "lib/stack.py": "class S: pass\n",
            "tests/test_app.py": "import aws_cdk as cdk\ncdk.App().synth()\n",
        },
    )
    plan = plan_entry(tmp_path, answer, "tap.py")
    assert (plan.kind, plan.path) == ("answer", "app.py")


def test_bin_entry_and_broken_entry_are_found(tmp_path: Path) -> None:
    answer = _write(tmp_path, {"bin/deploy.py": "from aws_cdk import App\napp = App(\napp.synth()\n"})
    assert find_answer_entry(tmp_path, answer) == "bin/deploy.py"


def test_scaffold_used_when_it_fits(tmp_path: Path) -> None:
    _write(tmp_path, {"tap.py": SCAFFOLD_TAP})
    answer = _write(
        tmp_path,
        {
            "lib/tap_stack.py": (
                "from dataclasses import dataclass\nimport aws_cdk as cdk\n"
                "class TapStackProps(cdk.StackProps):\n"
                "    def __init__(self, environment_suffix=None, **kwargs):\n        super().__init__(**kwargs)\n"
                "class TapStack(cdk.Stack):\n"
                "    def __init__(self, scope, construct_id, props=None, **kwargs):\n"
                "        super().__init__(scope, construct_id, **kwargs)\n"
            )
        },
    )
    plan = plan_entry(tmp_path, answer, "tap.py")
    assert (plan.kind, plan.path) == ("scaffold", "tap.py")


def test_scaffold_mismatch_gives_driver(tmp_path: Path) -> None:
    _write(tmp_path, {"tap.py": SCAFFOLD_TAP})
    answer = _write(
        tmp_path,
        {
            "lib/tap_stack.py": (
                "import aws_cdk as cdk\n"
                "class TapStack(cdk.Stack):\n"
                "    def __init__(self, scope, construct_id, environment_suffix: str, **kwargs):\n"
                "        super().__init__(scope, construct_id, **kwargs)\n"
            )
        },
    )
    assert "TapStackProps" in (scaffold_mismatch(tmp_path, "tap.py") or "")
    plan = plan_entry(tmp_path, answer, "tap.py")
    assert plan.kind == "driver" and plan.path == DRIVER_FILE
    assert plan.stacks == ["lib.tap_stack.TapStack"]
    ast.parse(plan.driver_source or "")


def test_scaffold_keyword_mismatch(tmp_path: Path) -> None:
    _write(tmp_path, {"tap.py": SCAFFOLD_TAP})
    _write(
        tmp_path,
        {
            "lib/tap_stack.py": (
                "import aws_cdk as cdk\nfrom dataclasses import dataclass\n"
                "@dataclass\nclass TapStackProps:\n    environment_suffix: str = 'dev'\n"
                "class TapStack(cdk.Stack):\n"
                "    def __init__(self, scope, construct_id, environment_suffix='dev'):\n"
                "        super().__init__(scope, construct_id)\n"
            )
        },
    )
    reason = scaffold_mismatch(tmp_path, "tap.py") or ""
    assert "TapStackProps" in reason or "TapStack(" in reason


def test_top_stacks_skip_nested_created_and_bases(tmp_path: Path) -> None:
    answer = _write(
        tmp_path,
        {
            "lib/base.py": "from aws_cdk import Stack\nclass BaseStack(Stack):\n    pass\n",
            "lib/net.py": "from lib.base import BaseStack\nclass NetStack(BaseStack):\n    pass\n",
            "lib/main.py": (
                "import aws_cdk as cdk\nfrom lib.net import NetStack\n"
                "class Inner(cdk.NestedStack):\n    pass\n"
                "class MainStack(cdk.Stack):\n"
                "    def __init__(self, scope, cid):\n        super().__init__(scope, cid)\n"
                "        NetStack(scope, 'Net')\n        Inner(self, 'In')\n"
            ),
            "tests/test_x.py": "import aws_cdk as cdk\nclass TestStack(cdk.Stack):\n    pass\n",
        },
    )
    assert find_top_stacks(tmp_path, answer) == [("lib.main", "MainStack")]


def test_no_stack_no_entry_is_none(tmp_path: Path) -> None:
    answer = _write(tmp_path, {"handler.py": "def handler(e, c):\n    return 1\n"})
    assert plan_entry(tmp_path, answer, None).kind == "none"


def test_the_planner_parses_each_text_once(tmp_path: Path, monkeypatch) -> None:
    """Choosing an entry reads the answer's files several times; each text is parsed once (the
    parser keeps the trees of the texts it parsed last), and again once a file's text changed."""
    files = _write(
        tmp_path,
        {
            "lib/tap_stack.py": "import aws_cdk as cdk\nclass TapStack(cdk.Stack):\n    pass\n",
            "lib/other.py": "class Helper:\n    pass\n",
        },
    )
    monkeypatch.setattr(pyast, "_TREES", OrderedDict())
    monkeypatch.setattr(pyast, "_trees_size", 0)
    parsed: list[str] = []
    real = ast.parse

    def counting(text: str, *args: object, **kwargs: object) -> ast.Module:
        parsed.append(text)
        return real(text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ast, "parse", counting)
    first = plan_entry(tmp_path, files, None)
    assert first.kind == "driver" and len(parsed) == len(files)
    with parse_scope():
        again = plan_entry(tmp_path, files, None)
        same = parse_file(tmp_path / "lib/tap_stack.py")
        (tmp_path / "lib/other.py").write_text("class Changed:\n    pass\n")
        changed = parse_file(tmp_path / "lib/other.py")
    assert again == first and len(parsed) == len(files) + 1
    assert same is not None and changed is not None
    assert [n.name for n in changed.body if isinstance(n, ast.ClassDef)] == ["Changed"]


def test_parsed_trees_are_kept_within_their_budget(monkeypatch) -> None:
    monkeypatch.setattr(pyast, "_TREES", OrderedDict())
    monkeypatch.setattr(pyast, "_trees_size", 0)
    monkeypatch.setattr(pyast, "_TREES_BUDGET", 800)
    texts = [f"x{i} = {i}\n" + "# padding\n" * 8 for i in range(12)]  # ~90 characters each
    trees = [pyast.parse_module(t) for t in texts]
    assert pyast.parse_module(texts[-1]) is trees[-1]  # the same tree, not parsed again
    assert pyast.parse_module(texts[0]) is not trees[0]  # the oldest made room for the newer
    assert pyast._trees_size <= 800
    big = "y = 1\n" * 200  # over an eighth of the budget: parsed, never kept
    assert pyast.parse_module(big) is not pyast.parse_module(big)
    for _ in range(2):  # a text that does not parse is not kept either: the error, with its file name
        with pytest.raises(SyntaxError) as err:
            pyast.parse_module("def broken(:\n", filename="lib/x.py")
        assert err.value.filename == "lib/x.py"


def test_source_segments_are_the_standard_library_s() -> None:
    """pyast.source_segment splits a text once for all its nodes; every node's segment is the one
    ast.get_source_segment gives, across Unicode, CRLF, CR, form feeds and multi-line nodes."""
    texts = [
        'name = "café ☕"\nbucket = s3.Bucket(\n    self, "B",\n    versioned=True,\n)\n',
        "a = 1\r\nb = f(\r\n  2)\r\nc = 'x'\rd = 3\n",
        "x = 1\n\x0cy = g(x,\n      'é')  # ok\n",
        "def f():\n    return {\n        'k': [1, 2],\n    }\n",
    ]
    for text in texts:
        tree = ast.parse(text)
        for node in ast.walk(tree):
            assert pyast.source_segment(text, node) == ast.get_source_segment(text, node), (text, node)


def test_the_planning_and_the_checks_of_one_answer_share_their_walks() -> None:
    """Inside an open memo scope a nested one reuses it, so a tree walked while the entry is
    chosen is not walked again by the checks (run_checks opens its own scope)."""
    tree = pyast.parse_module("import aws_cdk as cdk\napp = cdk.App()\napp.synth()\n")
    with pyast.memo_scope():
        first = pyast.walk(tree)
        with pyast.memo_scope():
            assert pyast.walk(tree) is first
        assert pyast.walk(tree) is first
    assert pyast.walk(tree) is not first  # outside any scope: walked afresh


def test_lines_split_where_the_parser_splits() -> None:
    texts = ["", "a", "a\n", "a\r\nb\rc\n\nd", "\r\r\n\n", "x\x0cy\x0bz\x1c\x85\u2028w\n", "é\n€"]
    for text in texts:
        assert list(pyast._lines(text)) == ast._splitlines_no_ff(text), repr(text)  # type: ignore[attr-defined]
