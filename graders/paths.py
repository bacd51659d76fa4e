"""Rules about the paths of an answer's files, shared by extraction, the workspace, the sandbox
and the checks. Kept free of imports: the sandbox worker loads it."""

from __future__ import annotations

import re

# Folders whose files are tests, at any depth (tests/unit/..., lib/__tests__/...).
TEST_DIRS = frozenset({"test", "tests", "__tests__"})
_TEST_NAME = re.compile(r"^(test_.*\.py|.*_test\.py|conftest\.py|.*\.(test|spec)\.[cm]?[jt]sx?)$")


def is_test_file(path: str) -> bool:
    """Whether a file of the answer is a test of it rather than the app (any kind of answer)."""
    parts = path.replace("\\", "/").split("/")
    return any(p in TEST_DIRS for p in parts[:-1]) or _TEST_NAME.match(parts[-1]) is not None
