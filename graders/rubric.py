"""Load and validate rubric.yaml: categories, weights, severities and one entry per check."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from iacgrade.graders.models import CATEGORIES

DEFAULT_RUBRIC = Path(__file__).resolve().parent.parent / "rubric.yaml"


class RubricError(ValueError):
    """The rubric file is wrong; the message names the file and the key."""


class CategorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    weight: float = Field(ge=0, allow_inf_nan=False)


class RewardRule(BaseModel):
    """How a result becomes a reward in [0, 1] for training loops: total / 100, except that an
    answer that could not be graded, has no code, or (``floor_failed_build``) whose build failed or
    timed out gets ``floor``, so a policy cannot collect the categories it still passes by writing
    code that never deploys."""

    model_config = ConfigDict(extra="forbid")
    floor: float = Field(default=0.0, ge=0, le=1, allow_inf_nan=False)
    floor_failed_build: bool = True


class CheckOptions(BaseModel):
    """A check's options: a typed model beside the check, its fields' defaults the defaults.

    A rubric's ``options:`` for the check may set any field and nothing else; ``load_rubric``
    validates them against the model. Field docstrings describe the options in the docs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    # Set by ``@check(..., options=Model)``: the id whose rubric entry holds these options.
    check_id: ClassVar[str] = ""


_Options = TypeVar("_Options", bound=CheckOptions)


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
    reward: RewardRule = Field(default_factory=RewardRule)
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

    def options(self, model: type[_Options]) -> _Options:
        """The options of ``model``'s check: the rubric's values over the model's defaults."""
        if not model.check_id:
            raise ValueError(f"{model.__name__} is not registered with a check (@check(..., options=...))")
        spec = self.checks.get(model.check_id)
        return model.model_validate(spec.options if spec else {})

    def normalized_weights(self) -> dict[str, float]:
        total = sum(c.weight for c in self.categories.values())
        return {name: c.weight / total for name, c in self.categories.items()}


def load_rubric(
    path: str | Path | None = None,
    *,
    known_checks: set[str] | None = None,
    option_models: Mapping[str, type[CheckOptions]] | None = None,
) -> Rubric:
    """Read a rubric file; raise RubricError naming the file and key when it is wrong.

    ``known_checks`` (the registry's ids) makes an id the grader does not know an error too.
    ``option_models`` (each check's options model, by id; a check not in it takes no options)
    makes an unknown option or a value of the wrong type an error.
    """
    rubric_path = Path(path) if path else DEFAULT_RUBRIC
    try:
        raw_bytes = rubric_path.read_bytes()
    except OSError as exc:
        raise RubricError(f"{rubric_path}: cannot read the rubric ({exc.strerror or exc})") from exc
    try:
        data = _load_yaml_refusing_duplicates(raw_bytes)
    except _DuplicateKey as dup:
        raise RubricError(
            f"{rubric_path}: line {dup.line}: {dup.key}: duplicate key (first at line {dup.first_line});"
            " YAML would silently keep only the last one, so remove or rename one of them"
        ) from None
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
    if option_models is not None:
        for check_id, spec in sorted(rubric.checks.items()):
            problem = _options_problem(spec.options, option_models.get(check_id))
            if problem:
                raise RubricError(f"{rubric_path}: checks.{check_id}.options{problem}")
    rubric.digest = hashlib.sha256(raw_bytes).hexdigest()[:12]
    rubric.path = str(rubric_path)
    return rubric


def _options_problem(options: dict[str, Any], model: type[CheckOptions] | None) -> str | None:
    """What is wrong with a check's options, as ``.key: why``; None when they validate."""
    if model is None:
        return f".{next(iter(options))}: this check takes no options" if options else None
    try:
        model.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = "".join(f".{p}" for p in first["loc"])
        if first["type"] == "extra_forbidden":
            return f"{key}: no such option (it takes {', '.join(model.model_fields)})"
        return f"{key}: {first['msg']} (got {first['input']!r})"
    return None


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first_line: int) -> None:
        super().__init__(key)
        self.key, self.line, self.first_line = key, line, first_line


def _load_yaml_refusing_duplicates(raw: bytes) -> Any:
    """``yaml.safe_load``, but a key given twice in one mapping raises instead of the last one winning."""
    loader = yaml.SafeLoader(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_duplicate_keys(node, (), set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _refuse_duplicate_keys(node: yaml.Node, path: tuple[str, ...], seen: set[int]) -> None:
    if id(node) in seen:  # an alias: its anchor was checked already (and it may be recursive)
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            child = path
            if isinstance(key_node, yaml.ScalarNode):
                line = key_node.start_mark.line + 1
                ident = (key_node.tag, key_node.value)
                if ident in first:
                    raise _DuplicateKey(".".join((*path, key_node.value)), line, first[ident])
                first[ident] = line
                child = (*path, key_node.value)
            _refuse_duplicate_keys(value_node, child, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(item, (*path, str(index)), seen)
