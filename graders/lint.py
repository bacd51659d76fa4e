"""cfn-lint on a synthesized template, in-process, as plain match dicts.

The sandbox worker holds one :class:`WarmLinter` for its life and lints every template it
synthesizes with it; the results reach ``CheckContext.lint`` (template -> matches) and the
``cfn-lint-error`` check reads them. Each match is ``{"rule": "E3012", "level": "error",
"message": "...", "path": ["Resources", "X", "Properties", ...], "resource": "X"}``
(``resource`` is None for matches outside the Resources section; ``line`` is the match's
line in the text linted, which for a CloudFormation answer is the answer's own template file).

Speed: cfn-lint 1.x spends about a third of a CDK template's lint on bookkeeping that gives the
same answer every time: ``cfnlint.jsonschema.validators.create`` builds and ``exec``s a brand-new
dataclass on every ``extend_validator`` call (once per resource per schema rule, ~16 distinct
argument sets over a whole corpus), and every ``evolve`` (hundreds of thousands per template)
calls ``dataclasses.fields()``. :func:`install_speedups` memoizes the first and precomputes the
field names for the second. It changes only that code, only when the code is the exact version the
speed-ups were checked against (a source fingerprint), so every rule still runs and the matches
are the ones plain ``cfnlint.api.lint`` gives (tests/test_lint.py compares them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import threading
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from functools import lru_cache
from typing import Any


class WarmLinter:
    """cfn-lint loaded once, its rules built once and reused for every template."""

    def __init__(self, regions: list[str] | None = None, speedups: bool = True) -> None:
        import cfnlint.api as api  # imported here: loading cfn-lint's rules and schemas takes a while
        from cfnlint.runner import Runner

        if speedups:
            install_speedups()
        self._api = api
        self._config = api.ConfigMixIn(regions=regions or ["us-east-1"])
        self._rules = Runner(self._config).rules
        # Template text -> its matches: the same template (an answer graded twice, two answers that
        # synthesize alike) is linted once. Sound because a lint depends on nothing but the text.
        self._seen: dict[str, list[dict[str, Any]]] = {}

    def lint(self, text: str, template: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Lint one template given as JSON or YAML text; matches sorted by path, then rule.

        ``template``: ``text`` as ``cfnlint.decode.decode_str`` already decoded it, when the caller
        has it (the CloudFormation parse worker): the same template, not decoded twice."""
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        out = self._seen.get(key)
        if out is None:
            out = self._lint(text, template)
            if len(self._seen) >= _SEEN_MAX:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = out
        return [{**m, "path": list(m["path"])} for m in out]

    def _lint(self, text: str, decoded: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        template, errors = (decoded, []) if decoded is not None else self._api.decode_str(text)
        matches = list(errors or [])
        if template is not None and not errors:
            matches = list(self._api.run_template_by_data(template, self._config, self._rules))
        out = [_as_dict(m) for m in matches]
        out.sort(key=_sort_key)
        return out


def _sort_key(match: dict[str, Any]) -> tuple[list[str], str, str]:
    return [str(p) for p in match["path"]], match["rule"], match["message"]


_SEEN_MAX = 256  # templates remembered per linter; a few hundred KB at most


@lru_cache(maxsize=4)
def _linter(regions: tuple[str, ...]) -> WarmLinter:
    return WarmLinter(list(regions))


def lint_template(template: dict[str, Any], regions: list[str] | None = None) -> list[dict[str, Any]]:
    """Run cfn-lint on ``template`` (a parsed template) with a linter kept for the process."""
    return _linter(tuple(regions or ["us-east-1"])).lint(json.dumps(template))


def _as_dict(match: Any) -> dict[str, Any]:
    rule = getattr(match, "rule", None)
    rule_id = str(getattr(rule, "id", "") or "")
    path = [p if isinstance(p, int) else str(p) for p in (getattr(match, "path", None) or [])]
    resource = path[1] if len(path) >= 2 and path[0] == "Resources" else None
    return {
        "rule": rule_id,
        "level": str(getattr(rule, "severity", "") or "") or _LEVELS.get(rule_id[:1], "error"),
        "message": str(match.message),
        "path": path,
        "resource": resource,
        "line": getattr(match, "linenumber", None),  # 1-based, in the text that was linted
    }


# cfn-lint's rule id prefix -> level, for a match whose rule carries no severity.
_LEVELS = {"E": "error", "W": "warning", "I": "informational"}


# ---- speed-ups ---------------------------------------------------------------------------------
# sha256 (first 16 hex digits) of the source each speed-up was checked against: cfn-lint 1.58.
# When cfn-lint changes one of these functions the speed-up is skipped, never applied blind;
# tests/test_lint.py then fails until someone re-checks it and updates the fingerprint.
_FINGERPRINTS = {
    "cfnlint.jsonschema.validators.create": "2d1dd51fbc7a640b",
    "cfnlint.context.context.Context.evolve": "05aa695393629cc4",
    "cfnlint.context.context.Path.evolve": "a8bbd390c03c955a",
    "cfnlint.context.context.Path.descend": "9e072b7330800127",
    "cfnlint.jsonschema._filter.FunctionFilter.evolve": "58dfb27d5ccfea44",
    # whole modules: the speed-up swaps the module's ``re`` (every function there that uses it)
    "cfnlint.jsonschema._keywords": "b64d5ac5b5b0d098",
    "cfnlint.jsonschema._utils": "3dee726dc087cd76",
}
_installed: dict[str, bool] = {}
_install_lock = threading.Lock()


def install_speedups() -> dict[str, bool]:
    """Apply the speed-ups whose target code matches its fingerprint (once per process).

    Returns each speed-up's name -> whether it is active.
    """
    with _install_lock:
        if not _installed:
            _install()
        return dict(_installed)


def _install() -> None:
    import cfnlint.jsonschema._keywords as keywords
    import cfnlint.jsonschema._utils as utils
    import cfnlint.jsonschema.validators as validators
    from cfnlint.context import context
    from cfnlint.jsonschema._filter import FunctionFilter

    if _matches("cfnlint.jsonschema.validators.create", validators.create):
        validators.create = _memoized_create(validators.create)  # type: ignore[assignment]
        _installed["cfnlint.jsonschema.validators.create"] = True
    for cls in (context.Context, context.Path):
        name = f"cfnlint.context.context.{cls.__name__}.evolve"
        if _matches(name, cls.evolve):
            cls.evolve = _evolve_frozen(cls, cls.evolve, merge_ref_values=cls is context.Context)
            _installed[name] = True
    if _matches("cfnlint.context.context.Path.descend", context.Path.descend):
        context.Path.descend = _path_descend(context.Path, context.FUNCTIONS)  # type: ignore[method-assign]
        _installed["cfnlint.context.context.Path.descend"] = True
    if _matches("cfnlint.jsonschema._filter.FunctionFilter.evolve", FunctionFilter.evolve):
        fast = _evolve_with_known_fields(FunctionFilter)
        fast.__wrapped__ = FunctionFilter.evolve  # type: ignore[attr-defined]
        FunctionFilter.evolve = fast  # type: ignore[method-assign]
        _installed["cfnlint.jsonschema._filter.FunctionFilter.evolve"] = True
    for module in (keywords, utils):
        if _matches(module.__name__, module) and module.re is _regex():
            module.re = _CompiledSearch(module.re)  # type: ignore[attr-defined]
            _installed[module.__name__] = True
    for name in _FINGERPRINTS:
        _installed.setdefault(name, False)


def _regex() -> Any:
    import regex

    return regex


def _matches(name: str, obj: Any) -> bool:
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):  # no source shipped: cannot tell what the code is
        return False
    return hashlib.sha256(source.encode()).hexdigest()[:16] == _FINGERPRINTS[name]


def _memoized_create(create: Callable[..., type]) -> Callable[..., type]:
    """``create`` returning one class per distinct argument set.

    Sound because the class ``create`` returns depends only on its arguments' values: it closes over
    them as the instances' defaults, and neither cfn-lint nor we mutate them afterwards (``extend``
    copies the dicts before changing them). Arguments we cannot key (unhashable values) go uncached.
    """
    classes: dict[Hashable, type] = {}

    def memoized(
        validators: Mapping[str, Any] | None = None,
        function_filter: Any = None,
        fn_resolvers: Mapping[str, Any] | None = None,
    ) -> type:
        key = _create_key(validators, function_filter, fn_resolvers)
        if key is None:
            return create(validators, function_filter, fn_resolvers)
        cls = classes.get(key)
        if cls is None:
            cls = create(validators, function_filter, fn_resolvers)
            # Validator.evolve is fields(Validator) + cls(**kwargs): same, with the field names known.
            cls.evolve = _evolve_with_known_fields(cls)  # type: ignore[attr-defined]
            classes[key] = cls
        return cls

    memoized.__wrapped__ = create  # type: ignore[attr-defined]
    return memoized


def _create_key(validators: Any, function_filter: Any, fn_resolvers: Any) -> Hashable | None:
    try:
        key = (
            tuple((validators or {}).items()),
            None if function_filter is None else (type(function_filter), _frozen(vars(function_filter))),
            tuple((fn_resolvers or {}).items()),
        )
        hash(key)
    except TypeError:
        return None
    return key


def _frozen(attrs: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in attrs.items()))


def _evolve_frozen(cls: type, original: Callable[..., Any], merge_ref_values: bool) -> Callable[..., Any]:
    """``evolve`` for a frozen dataclass with no ``__post_init__`` and only init fields (cfn-lint's
    Context and Path): the copy's attributes written straight into a new instance.

    Such a class's ``__init__`` does nothing but set each field (through ``object.__setattr__``,
    as it is frozen), so this is the instance ``cls(**kwargs)`` builds, minus the call overhead.
    Anything else (a subclass, an argument that is not a field) goes to the original.
    ``merge_ref_values``: Context.evolve merges new ref_values into the old.
    """
    fields = dataclasses.fields(cls)
    assert cls.__dataclass_params__.frozen and not hasattr(cls, "__post_init__")  # type: ignore[attr-defined]
    assert all(f.init for f in fields)
    names = tuple(f.name for f in fields)
    known = frozenset(names)
    new_object = object.__new__

    def evolve(self: Any, **kwargs: Any) -> Any:
        if self.__class__ is not cls or not known.issuperset(kwargs):
            return original(self, **kwargs)
        if merge_ref_values and "ref_values" in kwargs:
            ref_values = self.__dict__["ref_values"].copy()
            ref_values.update(kwargs["ref_values"])
            kwargs["ref_values"] = ref_values
        mine = self.__dict__
        new = new_object(cls)
        attrs = new.__dict__
        for name in names:
            attrs[name] = kwargs[name] if name in kwargs else mine[name]
        return new

    evolve.__wrapped__ = original  # type: ignore[attr-defined]
    return evolve


def _path_descend(cls: Any, functions: Any) -> Callable[..., Any]:
    """cfn-lint's ``Path.descend`` (each given part appended to a copy of its deque) with the field
    names known instead of read from ``dataclasses.fields`` on every call."""
    names = tuple(f.name for f in dataclasses.fields(cls))

    def descend(self: Any, **kwargs: Any) -> Any:
        if kwargs.get("cfn_path") in functions:
            raise ValueError(f"{kwargs['cfn_path']!r} cannot be in 'cfn_path'")
        elif isinstance(kwargs.get("cfn_path"), int):
            raise ValueError(f"{kwargs['cfn_path']!r} cannot be an integer")
        for name in names:
            if kwargs.get(name) is not None:
                kwargs[name] = getattr(self, name) + deque([kwargs[name]])
            else:
                kwargs[name] = getattr(self, name)
        return self.evolve(**kwargs)  # every field given: the instance the original cls(**kwargs) builds

    descend.__wrapped__ = cls.descend  # type: ignore[attr-defined]
    return descend


class _CompiledSearch:
    """The ``regex`` module as a cfn-lint module sees it, with ``search``'s patterns compiled once.

    ``regex.search(p, s)`` is ``regex.compile(p).search(s)`` through regex's own cache, whose look-up
    (a key built from the pattern, flags, version and locale on each call) cost more than the
    search itself in a profile of a lint: here a plain dict keyed by the pattern text. Other calls,
    and searches with flags or options, go to the module unchanged.
    """

    _MAX = 4096  # distinct patterns kept (the schemas' own are a few hundred)

    def __init__(self, module: Any) -> None:
        self._module = module
        self._compiled: dict[str, Any] = {}

    def search(self, pattern: Any, string: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or type(pattern) is not str:
            return self._module.search(pattern, string, *args, **kwargs)
        compiled = self._compiled.get(pattern)
        if compiled is None:
            compiled = self._module.compile(pattern)
            if len(self._compiled) >= self._MAX:
                self._compiled.clear()
            self._compiled[pattern] = compiled
        return compiled.search(string)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def _evolve_with_known_fields(cls: type) -> Callable[..., Any]:
    """cfn-lint's ``evolve`` for a dataclass: a copy with ``kwargs`` changed, init fields listed once
    (Context's ref_values merge is `_evolve_frozen`'s)."""
    names = tuple(f.name for f in dataclasses.fields(cls) if f.init)

    def evolve(self: Any, **kwargs: Any) -> Any:
        for name in names:
            if name not in kwargs:
                kwargs[name] = getattr(self, name)
        return self.__class__(**kwargs)

    return evolve


__all__ = ["WarmLinter", "install_speedups", "lint_template"]
