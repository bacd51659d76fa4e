"""The jsii package cache is keyed by every jsii package aws-cdk-lib loads."""

from __future__ import annotations

import importlib.metadata

import pytest

from iacgrade.graders.sandbox import jsii_cache


def test_a_different_version_of_a_dependency_gets_a_cache_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """A venv with a newer aws-cdk.cloud-assembly-schema (same aws-cdk-lib and jsii) must not share
    the cache: jsii would extract the missing version into it while grading."""
    real = importlib.metadata.version
    here = jsii_cache._version_tag()
    assert here.startswith(f"cdk{real('aws-cdk-lib')}-jsii{real('jsii')}-")

    def newer_schema(name: str) -> str:
        return "99.0.0" if name == "aws-cdk.cloud-assembly-schema" else real(name)

    monkeypatch.setattr(importlib.metadata, "version", newer_schema)
    other = jsii_cache._version_tag()
    assert other != here and other.split("-")[:2] == here.split("-")[:2]
