"""Load and validate rubric.yaml: categories, weights, severities and one entry per check."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graders.models import CATEGORIES

DEFAULT_RUBRIC = Path(__file__).resolve().parent.parent / "rubric.yaml"


class RubricError(ValueError):
    """The rubric file is wrong; the message names the file and the key."""


class CategorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    weight: float = Field(ge=0, allow_inf_nan=False)


class CheckSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str
    severity: str
    title: str
    fix: str = ""
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    categories: dict[str, CategorySpec]
    severities: dict[str, float]
    checks: dict[str, CheckSpec]
    digest: str = ""
    path: str = ""

    @field_validator("categories")
    @classmethod
    def _five_categories(cls, value: dict[str, CategorySpec]) -> dict[str, CategorySpec]:
        missing = [c for c in CATEGORIES if c not in value]
        unknown = [c for c in value if c not in CATEGORIES]
        if missing or unknown:
            raise ValueError(
                f"categories must be exactly {list(CATEGORIES)} (missing {missing}, unknown {unknown})"
            )
        if sum(c.weight for c in value.values()) <= 0:
            raise ValueError("category weights must not all be 0")
        return value

    @field_validator("severities")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for name, penalty in value.items():
            if not 0 <= penalty < float("inf"):  # also refuses NaN
                raise ValueError(f"severity {name!r} needs a finite penalty >= 0, not {penalty}")
        return value

    @model_validator(mode="after")
    def _checks_refer_to_known_names(self) -> Rubric:
        for check_id, spec in self.checks.items():
            if spec.category not in self.categories:
                raise ValueError(f"checks.{check_id}.category: unknown category {spec.category!r}")
            if spec.severity not in self.severities:
                raise ValueError(f"checks.{check_id}.severity: unknown severity {spec.severity!r}")
        return self

    def option(self, check_id: str, key: str, default: Any = None) -> Any:
        spec = self.checks.get(check_id)
        return default if spec is None else spec.options.get(key, default)

    def penalty(self, check_id: str) -> float:
        spec = self.checks[check_id]
        return self.severities[spec.severity] * spec.weight

    def normalized_weights(self) -> dict[str, float]:
        total = sum(c.weight for c in self.categories.values())
        return {name: c.weight / total for name, c in self.categories.items()}


def load_rubric(path: str | Path | None = None, *, known_checks: set[str] | None = None) -> Rubric:
    """Read a rubric file; raise RubricError naming the file and key when it is wrong.

    ``known_checks`` (the registry's ids) makes an id the grader does not know an error too.
    """
    rubric_path = Path(path) if path else DEFAULT_RUBRIC
    try:
        raw_bytes = rubric_path.read_bytes()
    except OSError as exc:
        raise RubricError(f"{rubric_path}: cannot read the rubric ({exc.strerror or exc})") from exc
    try:
        data = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise RubricError(f"{rubric_path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RubricError(f"{rubric_path}: expected a mapping at the top level")
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise RubricError(f"{rubric_path}: {key}: {first['msg']}") from exc
    if known_checks is not None:
        unknown = sorted(set(rubric.checks) - known_checks)
        if unknown:
            raise RubricError(f"{rubric_path}: checks.{unknown[0]}: no check with this id exists")
    rubric.digest = hashlib.sha256(raw_bytes).hexdigest()[:12]
    rubric.path = str(rubric_path)
    return rubric
