"""Keep the suite off the user's own result cache: every test (and the commands it starts) caches
results under a temporary folder unless it names a --cache-dir of its own. Only the result cache:
the sandbox's jsii cache stays where it is, shared and watched by the hostile tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_result_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("result-cache")
    before = os.environ.get("IACGRADE_CACHE_DIR")
    os.environ["IACGRADE_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("IACGRADE_CACHE_DIR", None)
    else:
        os.environ["IACGRADE_CACHE_DIR"] = before
