"""One rule tells an answer's test files from its app, for every stage and kind."""

from __future__ import annotations

import pytest

from iacgrade.graders.paths import is_test_file


@pytest.mark.parametrize(
    ("path", "test"),
    [
        ("tests/unit/test_tap_stack.py", True),
        ("lib/tests/helpers.py", True),
        ("test_stack.py", True),
        ("lib/stack_test.py", True),
        ("conftest.py", True),
        ("test/tap-stack.unit.test.ts", True),
        ("lib/api.spec.mjs", True),
        ("lib/__tests__/stack.ts", True),
        ("lib/tap_stack.py", False),
        ("lib/testing_utils.py", False),
        ("lib/integration/api.py", False),  # an API integration, not an integration test
        ("lib/contest.ts", False),
        ("bin/tap.ts", False),
    ],
)
def test_test_files(path: str, test: bool) -> None:
    assert is_test_file(path) is test
