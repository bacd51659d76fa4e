"""cfn-lint on a synthesized template, in-process, as plain match dicts.

The sandbox worker holds one :class:`WarmLinter` for its life and lints every template it
synthesizes with it; the results cross to the parent as JSON, become the template model's
``lint`` (template -> ``LintMatch`` list) and the ``cfn-lint-error`` check reads them. Each match is ``{"rule": "E3012", "level": "error",
"message": "...", "path": ["Resources", "X", "Properties", ...], "resource": "X"}``
(``resource`` is None for matches outside the Resources section; ``line`` is the match's
line in the text linted, which for a CloudFormation answer is the answer's own template file).

Speed: cfn-lint 1.x spends about a third of a CDK template's lint on bookkeeping that gives the
same answer every time: ``cfnlint.jsonschema.validators.create`` builds and ``exec``s a brand-new
dataclass on every ``extend_validator`` call (once per resource per schema rule, ~16 distinct
argument sets over a whole corpus), and every ``evolve`` (hundreds of thousands per template)
calls ``dataclasses.fields()``. :func:`install_speedups` memoizes the first and precomputes the
field names for the second. Three rules get the same treatment on each linter's own rule objects:
E1101 finds the rules of a schema keyword in a table instead of a walk over all of them, E3062
validates an RDS instance against its engine's part of a 5 MB schema, and E3016 skips resources
with no ``UpdatePolicy``. It changes only that code, only when the code is the exact version the
speed-ups were checked against (a source fingerprint), so every rule still runs and the matches
are the ones plain ``cfnlint.api.lint`` gives (tests/test_lint.py compares them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import threading
import types
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
        self._regions = tuple(regions or ["us-east-1"])
        # One rule set serves every region: cfn-lint builds its rules from the config's rule
        # options alone, and the regions reach a run through the config it is given (its Template).
        # A config per region list is kept (``set_template_args`` rewrites it for each template).
        self._configs: dict[tuple[str, ...], Any] = {}
        self._rules = Runner(self._config(self._regions)).rules
        if speedups:
            _narrow_rds_rule(self._rules)
            _index_keyword_rules(self._rules)
            _skip_absent_update_policy(self._rules)
        # Template text -> its matches: the same template (an answer graded twice, two answers that
        # synthesize alike) is linted once. Sound because a lint depends on nothing but the text.
        self._seen: dict[str, list[dict[str, Any]]] = {}

    def lint(
        self, text: str, template: dict[str, Any] | None = None, regions: tuple[str, ...] | None = None
    ) -> list[dict[str, Any]]:
        """Lint one template given as JSON or YAML text; matches sorted by path, then rule.

        ``template``: ``text`` as ``cfnlint.decode.decode_str`` already decoded it, when the caller
        has it (the CloudFormation parse worker): the same template, not decoded twice. ``regions``:
        the regions to lint for (default: the linter's own)."""
        regions = tuple(regions or self._regions)
        key = hashlib.sha256("\0".join((*regions, text)).encode("utf-8", "surrogatepass")).hexdigest()
        out = self._seen.get(key)
        if out is None:
            out = self._lint(text, template, regions)
            if len(self._seen) >= _SEEN_MAX:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = out
        return [{**m, "path": list(m["path"])} for m in out]

    def _lint(
        self, text: str, decoded: dict[str, Any] | None, regions: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        template, errors = (decoded, []) if decoded is not None else self._api.decode_str(text)
        matches = list(errors or [])
        if template is not None and not errors:
            matches = list(self._api.run_template_by_data(template, self._config(regions), self._rules))
        out = [_as_dict(m) for m in matches]
        out.sort(key=_sort_key)
        return out

    def _config(self, regions: tuple[str, ...]) -> Any:
        config = self._configs.get(regions)
        if config is None:
            config = self._configs[regions] = self._api.ConfigMixIn(regions=list(regions))
        return config


def _sort_key(match: dict[str, Any]) -> tuple[list[str], str, str]:
    return [str(p) for p in match["path"]], match["rule"], match["message"]


_SEEN_MAX = 256  # templates remembered per linter; a few hundred KB at most


@lru_cache(maxsize=1)
def _linter() -> WarmLinter:
    """The process's linter, for every region (its rules are built once)."""
    return WarmLinter()


def lint_template(template: dict[str, Any], regions: list[str] | None = None) -> list[dict[str, Any]]:
    """Run cfn-lint on ``template`` (a parsed template) with a linter kept for the process."""
    return _linter().lint(json.dumps(template), regions=tuple(regions or ["us-east-1"]))


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
    "cfnlint.rules.jsonschema.Base.BaseJsonSchema.extend_validator": "512d7e20846250f7",
    # whole modules: the speed-up swaps the module's ``re`` (every function there that uses it), or
    # (the resolver) two methods that use the module's schema search
    "cfnlint.schema.resolver._resolver": "b0a4bf119e37225d",
    "cfnlint.jsonschema._keywords": "b64d5ac5b5b0d098",
    "cfnlint.jsonschema._utils": "3dee726dc087cd76",
    "cfnlint.schema._getatts": "2ffbd68edcb3cf1d",
    "cfnlint.template.template": "27cdecd5767e1ba4",
    # the RDS instance-class rule (E3062) and the base class whose schema choice it relies on
    "cfnlint.rules.resources.rds.DbInstanceDbInstanceClassWithEngine.validate": "151287fd5b22e376",
    "cfnlint.rules.jsonschema.CfnLintJsonSchema.CfnLintJsonSchema.validate": "3878814cd909086e",
    # E1101, the rule that hands each schema keyword to the rules that check it
    "cfnlint.rules.jsonschema.CfnLint.CfnLint.cfnLint": "23947c8987cd5a17",
    # E3016, a resource's UpdatePolicy: which schema it loads, and its validate
    "cfnlint.rules.resources.updatepolicy.Configuration.Configuration.__init__": "ca3a7014e9d00401",
    "cfnlint.rules.resources.updatepolicy.Configuration.Configuration.validate": "6914525244580fc5",
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
    import cfnlint.schema._getatts as getatts
    import cfnlint.template.template as template
    from cfnlint.context import context
    from cfnlint.jsonschema._filter import FunctionFilter
    from cfnlint.rules.jsonschema.Base import BaseJsonSchema
    from cfnlint.schema.resolver import _resolver as resolver_module
    from cfnlint.schema.resolver._resolver import RefResolver

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
    name = "cfnlint.rules.jsonschema.Base.BaseJsonSchema.extend_validator"
    if _matches(name, BaseJsonSchema.extend_validator):
        BaseJsonSchema.extend_validator = _extend_validator(BaseJsonSchema.extend_validator)  # type: ignore[method-assign]
        _installed[name] = True
    if _matches(resolver_module.__name__, resolver_module):
        search = _SchemaSearch(resolver_module)
        RefResolver.resolve_fragment = _resolve_fragment(RefResolver.resolve_fragment, search)  # type: ignore[method-assign]
        RefResolver._get_subschemas_cache = _subschemas_cache(RefResolver._get_subschemas_cache, search)  # type: ignore[method-assign]
        _installed[resolver_module.__name__] = True
    for module in (keywords, utils, getatts, template):
        if _matches(module.__name__, module) and module.re is _regex():
            module.re = _CompiledSearch(module.re)  # type: ignore[attr-defined]
            _installed[module.__name__] = True
    # The rule-level speed-ups patch each linter's own rule objects (cfn-lint loads its rule files
    # as top-level modules of their own, so the package's classes are not the ones it runs); here
    # only whether the rules' code is the code they were checked against.
    from cfnlint.rules.jsonschema.CfnLint import CfnLint
    from cfnlint.rules.jsonschema.CfnLintJsonSchema import CfnLintJsonSchema
    from cfnlint.rules.resources.rds.DbInstanceDbInstanceClassWithEngine import (
        DbInstanceDbInstanceClassWithEngine,
    )
    from cfnlint.rules.resources.updatepolicy.Configuration import Configuration

    _installed[_RDS_RULE] = _installed[_RDS_BASE] = _matches(
        _RDS_RULE, DbInstanceDbInstanceClassWithEngine.validate
    ) and _matches(_RDS_BASE, CfnLintJsonSchema.validate)
    _installed[_CFN_LINT] = _matches(_CFN_LINT, CfnLint.cfnLint)
    _installed[_UPDATE_POLICY] = _installed[_UPDATE_POLICY_INIT] = _matches(
        _UPDATE_POLICY, Configuration.validate
    ) and _matches(_UPDATE_POLICY_INIT, Configuration.__init__)
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
            # Validator.evolve is fields(Validator) + cls(**kwargs): the same instance, built directly.
            cls.evolve = _validator_evolve(cls)  # type: ignore[attr-defined]
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


def _validator_evolve(cls: type) -> Callable[..., Any]:
    """cfn-lint's ``Validator.evolve`` (``cls(**kwargs)`` with every init field not given copied from
    ``self``) for one class ``create`` made, without the keyword call into the generated ``__init__``.

    That ``__init__`` (the class is a plain, not frozen, dataclass with no ``__setattr__``) sets each
    field in declaration order: an init field from its argument, an ``init=False`` one from its
    default factory (the arguments ``create`` closed over, the same objects on every call, so a
    validator whose ``validators`` a rule replaced, as GetAtt's does, gets the class's back), then
    runs ``__post_init__``. This does the same writes in the same order and calls the same
    ``__post_init__``. Anything else (a subclass, an argument that is not an init field) goes to the
    generated ``__init__`` as before.
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    assert "__setattr__" not in vars(cls) and not cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert all(f.init or f.default_factory is not dataclasses.MISSING for f in fields)
    plan: tuple[tuple[str, bool, Any], ...] = tuple((f.name, f.init, f.default_factory) for f in fields)
    init_names = frozenset(f.name for f in fields if f.init)
    new_object = object.__new__
    post_init = cls.__post_init__  # type: ignore[attr-defined]

    def evolve(self: Any, **kwargs: Any) -> Any:
        if self.__class__ is not cls or not init_names.issuperset(kwargs):
            for name in init_names:
                if name not in kwargs:
                    kwargs[name] = getattr(self, name)
            return self.__class__(**kwargs)
        new = new_object(cls)
        attrs = new.__dict__
        for name, init, factory in plan:
            if not init:
                attrs[name] = factory()
            elif name in kwargs:
                attrs[name] = kwargs[name]
            else:
                attrs[name] = getattr(self, name)
        post_init(new)
        return new

    evolve.__wrapped__ = cls.evolve  # type: ignore[attr-defined]
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


def _extend_validator(original: Callable[..., Any]) -> Callable[..., Any]:
    """cfn-lint's ``BaseJsonSchema.extend_validator`` without its throwaway validator.

    cfn-lint builds ``cls(schema=schema)`` and at once evolves it with the template, context and a
    new resolver. That first instance costs a ``Template(None, {})`` (an empty template's graph,
    conditions and context: about 4% of a lint) and a resolver, and nothing of it is kept but its
    ``schema`` (the one given) and ``function_filter`` (the class's default). Building the final
    validator directly with the same four arguments is the same instance.
    """
    from cfnlint.schema.resolver import RefResolver

    def extend_validator(
        self: Any, validator: Any, schema: Any, context: Any, validators: dict[str, Any] | None = None
    ) -> Any:
        all_validators = self._get_validators()
        if validators:
            all_validators.update(validators)
        cls = validator.extend(validators=all_validators)
        return cls(
            schema=schema, cfn=validator.cfn, context=context, resolver=RefResolver.from_schema(schema)
        )

    extend_validator.__wrapped__ = original  # type: ignore[attr-defined]
    return extend_validator


class _SchemaSearch:
    """cfn-lint's schema search (``_search_schema``: every dict in a schema that holds a key) run once
    per schema document and key instead of on every look-up.

    cfn-lint gives each validator of each resource a fresh ``RefResolver``, and a resolver searches
    the whole schema for ``id``/``$id`` on each ``$ref`` it resolves (its own caches die with it):
    about 9% of a lint. The search's result depends only on the document, which cfn-lint never
    changes once loaded (schemas are read-only after load; a patch, which iacgrade does not use,
    comes before any lint), so it is kept here, the document held so that its id is not reused.
    """

    _MAX = 4096  # (document, key) pairs kept; resource schemas of a run are a few hundred

    def __init__(self, module: Any) -> None:
        self._module = module
        self._found: dict[tuple[int, str], tuple[Any, Any]] = {}

    def _remember(self, document: Any, key: str, compute: Callable[[], Any]) -> Any:
        entry = self._found.get((id(document), key))
        if entry is None or entry[0] is not document:
            if len(self._found) >= self._MAX:
                self._found.clear()
            entry = self._found[(id(document), key)] = (document, compute())
        return entry[1]

    def holding(self, document: Any, key: str) -> tuple[dict[str, Any], ...]:
        """The dicts in ``document`` that hold ``key``, in the order cfn-lint's search yields them."""
        module = self._module
        return self._remember(  # type: ignore[no-any-return]
            document, key, lambda: tuple(module._search_schema(document, module._match_keyword(key)))
        )

    def subschemas(self, document: Any) -> dict[str, tuple[dict[str, Any], ...]]:
        """``RefResolver._get_subschemas_cache``'s table for ``document``: keyword -> dicts holding it."""
        module = self._module

        def compute() -> dict[str, tuple[dict[str, Any], ...]]:
            table: dict[str, list[dict[str, Any]]] = {key: [] for key in module._SUBSCHEMAS_KEYWORDS}
            for keyword, subschema in module._search_schema(document, module._match_subschema_keywords):
                table[keyword].append(subschema)
            return {key: tuple(found) for key, found in table.items()}

        return self._remember(document, "\0subschemas", compute)  # type: ignore[no-any-return]


def _resolve_fragment(original: Callable[..., Any], search: _SchemaSearch) -> Callable[..., Any]:
    """``RefResolver.resolve_fragment`` with the ``id``/``$id`` search read from ``search``: the first
    dict whose ``id`` (then ``$id``) is ``#fragment``, else the fragment walked as a JSON pointer,
    failing with cfn-lint's own error and message."""
    from collections.abc import Sequence
    from urllib.parse import unquote

    from cfnlint.schema.resolver._exceptions import RefResolutionError

    def resolve_fragment(self: Any, document: Any, fragment: str) -> Any:
        fragment = fragment.lstrip("/")
        if not fragment:
            return document
        target = "#" + fragment
        for keyword in ("id", "$id"):
            for subschema in search.holding(document, keyword):
                if target == subschema[keyword]:
                    return subschema
        for part in unquote(fragment).split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            key: str | int = part
            if isinstance(document, Sequence):  # an array index is a number
                try:
                    key = int(part)
                except ValueError:
                    pass
            try:
                document = document[key]
            except (TypeError, LookupError) as e:
                raise RefResolutionError(f"Unresolvable JSON pointer: {fragment!r}") from e
        return document

    resolve_fragment.__wrapped__ = original  # type: ignore[attr-defined]
    return resolve_fragment


def _subschemas_cache(original: Callable[..., Any], search: _SchemaSearch) -> Callable[..., Any]:
    """``RefResolver._get_subschemas_cache`` (kept on the resolver once built) with the search of the
    resolver's schema read from ``search``; each resolver gets its own lists, as before."""

    def get_subschemas_cache(self: Any) -> dict[str, list[dict[str, Any]]]:
        if self._subschemas_cache is None:
            self._subschemas_cache = {k: list(v) for k, v in search.subschemas(self.referrer).items()}
        return self._subschemas_cache  # type: ignore[no-any-return]

    get_subschemas_cache.__wrapped__ = original  # type: ignore[attr-defined]
    return get_subschemas_cache


class _CompiledSearch:
    """The ``regex`` module as a cfn-lint module sees it, with the patterns of ``search``, ``match``,
    ``fullmatch`` and ``findall`` compiled once.

    ``regex.search(p, s)`` is ``regex.compile(p).search(s)`` through regex's own cache, whose look-up
    (a key built from the pattern, flags, version and locale on each call) cost more than the
    search itself in a profile of a lint: here a plain dict keyed by the pattern text (``match``,
    ``fullmatch`` and ``findall`` likewise). Other calls, and calls with flags or options or a pattern
    that is not text, go to the module unchanged.
    """

    _MAX = 4096  # distinct patterns kept (the schemas' own are a few hundred)

    def __init__(self, module: Any) -> None:
        self._module = module
        self._compiled: dict[str, Any] = {}

    def _pattern(self, pattern: str) -> Any:
        compiled = self._compiled.get(pattern)
        if compiled is None:
            compiled = self._module.compile(pattern)
            if len(self._compiled) >= self._MAX:
                self._compiled.clear()
            self._compiled[pattern] = compiled
        return compiled

    def search(self, pattern: Any, string: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or type(pattern) is not str:
            return self._module.search(pattern, string, *args, **kwargs)
        return self._pattern(pattern).search(string)

    def match(self, pattern: Any, string: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or type(pattern) is not str:
            return self._module.match(pattern, string, *args, **kwargs)
        return self._pattern(pattern).match(string)

    def fullmatch(self, pattern: Any, string: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or type(pattern) is not str:
            return self._module.fullmatch(pattern, string, *args, **kwargs)
        return self._pattern(pattern).fullmatch(string)

    def findall(self, pattern: Any, string: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or type(pattern) is not str:
            return self._module.findall(pattern, string, *args, **kwargs)
        return self._pattern(pattern).findall(string)

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


def _rule_to_patch(rules: Any, rule_id: str, name: str, method: str) -> Any | None:
    """This linter's rule ``rule_id``, when the speed-up ``name`` is installed and the class the
    rule was loaded from (its file runs as a module of its own) has ``method`` as fingerprinted."""
    rule = rules.get(rule_id) if _installed.get(name) else None
    if rule is None or not _matches(name, getattr(type(rule), method)):
        return None
    return rule


_RDS_RULE = "cfnlint.rules.resources.rds.DbInstanceDbInstanceClassWithEngine.validate"
_RDS_BASE = "cfnlint.rules.jsonschema.CfnLintJsonSchema.CfnLintJsonSchema.validate"


def _narrow_rds_rule(rules: Any) -> None:
    """E3062 with the instance's engine's part of its schema only.

    The rule checks an ``AWS::RDS::DBInstance``'s class against a 5 MB schema: an ``allOf`` of 980
    ``if``/``then`` pairs, one per engine and version, each ``if`` requiring its engine as a
    ``const``. It ran all 980 on every instance, about a fifth of the whole lint of a template with
    one. When the instance's ``Engine`` is a string, the ``if`` of another engine's pair fails
    (its error, when unknown, is dropped by the rule like every unknown error) and its ``then`` never
    runs, so only the pairs of that engine can report: those alone are validated. Any other
    ``Engine`` (absent, a function) gets the whole schema, as before.
    """
    from cfnlint.rules.jsonschema.CfnLintJsonSchema import CfnLintJsonSchema

    rule = _rule_to_patch(rules, "E3062", _RDS_RULE, "validate")
    if rule is None or not isinstance(rule, CfnLintJsonSchema):
        return
    tables = _engine_tables(rule._schema)
    if tables is None:  # not the shape the narrowing relies on: leave the rule alone
        return
    original = type(rule).validate
    # The base class validates against the schema it is given once this is set (the rule's own
    # schema otherwise); every schema given below is the rule's own or a part of it.
    rule._use_schema_arg = True

    def validate(self: Any, validator: Any, keywords: Any, instance: Any, schema: Any) -> Any:
        chosen = self._schema
        engine = instance.get("Engine") if isinstance(instance, dict) else None
        if isinstance(engine, str):
            chosen = tables.by_engine.get(engine.lower(), tables.none)
        return original(self, validator, keywords, instance, chosen)

    rule.validate = types.MethodType(validate, rule)


_CFN_LINT = "cfnlint.rules.jsonschema.CfnLint.CfnLint.cfnLint"


def _index_keyword_rules(rules: Any) -> None:
    """E1101's ``cfnLint`` with its rules looked up by keyword.

    At every node of a template the schemas mark, ``cfnLint`` runs the rules registered for the
    node's keywords: cfn-lint finds them by walking every child rule and each of its keywords, a
    few hundred comparisons per node and tens of thousands of nodes per template (a tenth of a
    lint's time in a profile). Here the rules of each keyword are listed once per template run, in
    the order that walk meets them, and each is run as cfn-lint runs it. The list is rebuilt after
    each ``initialize`` (``Rules.run`` calls it on every rule, then wires the child rules anew)."""
    from cfnlint.jsonschema._utils import Unset

    rule = _rule_to_patch(rules, "E1101", _CFN_LINT, "cfnLint")
    if rule is None:
        return
    initialize = rule.initialize
    built: dict[str, dict[str, list[Any]]] = {}

    def reset(self: Any, cfn: Any) -> Any:
        built.clear()
        return initialize(cfn)

    def cfn_lint(self: Any, validator: Any, keywords: Any, instance: Any, schema: Any) -> Any:
        index = built.get("index")
        if index is None:
            index = built["index"] = _rules_by_keyword(self.child_rules)
        validator = validator.evolve(
            function_filter=validator.function_filter.evolve(add_cfn_lint_keyword=False)
        )
        for keyword in keywords:
            for child in index.get(keyword, ()):
                for err in child.validate(validator, keyword, instance, schema):
                    if err.rule is None and isinstance(err.validator, Unset):
                        err.rule = child
                    yield err

    rule.initialize = types.MethodType(reset, rule)
    rule.cfnLint = types.MethodType(cfn_lint, rule)


_UPDATE_POLICY = "cfnlint.rules.resources.updatepolicy.Configuration.Configuration.validate"
_UPDATE_POLICY_INIT = "cfnlint.rules.resources.updatepolicy.Configuration.Configuration.__init__"


def _skip_absent_update_policy(rules: Any) -> None:
    """E3016 only on resources that have an ``UpdatePolicy``.

    The rule validates every resource against its schema: an ``if`` per resource type whose
    ``then`` (or, for the other types, ``else``) says what ``UpdatePolicy`` may be. Each branch
    constrains that one property and allows any other, so a resource without it passes them all
    (an ``if`` that cannot be decided gives only an unknown error, which the rule drops). Yet each
    resource cost a new validator and schema resolver, about a tenth of a CDK template's lint in
    a profile. The schema is checked for that shape before the rule is changed."""
    rule = _rule_to_patch(rules, "E3016", _UPDATE_POLICY, "validate")
    if rule is None or not _only_update_policy(rule._schema):
        return
    original = type(rule).validate

    def validate(self: Any, validator: Any, keywords: Any, instance: Any, schema: Any) -> Any:
        if isinstance(instance, dict) and "UpdatePolicy" not in instance:
            return iter(())
        return original(self, validator, keywords, instance, schema)

    rule.validate = types.MethodType(validate, rule)


def _only_update_policy(schema: Any) -> bool:
    """Whether every branch of the schema's ``allOf`` constrains ``UpdatePolicy`` alone."""
    if not isinstance(schema, dict) or not set(schema) <= {"allOf", "definitions"}:
        return False
    for entry in schema.get("allOf") or []:
        if not isinstance(entry, dict) or not set(entry) <= {"if", "then", "else"}:
            return False
        for branch in (entry.get("then"), entry.get("else")):
            if branch is None:
                continue
            if not isinstance(branch, dict) or set(branch) != {"additionalProperties", "properties"}:
                return False
            if branch["additionalProperties"] is not True or set(branch["properties"]) != {"UpdatePolicy"}:
                return False
    return True


def _rules_by_keyword(child_rules: dict[str, Any]) -> dict[str, list[Any]]:
    """keyword -> the child rules that check it, in child-rule order, once per time a rule lists it."""
    index: dict[str, list[Any]] = {}
    for child in child_rules.values():
        if child is None or not child.id:
            continue
        for keyword in child.keywords:
            index.setdefault(keyword, []).append(child)
    return index


@dataclasses.dataclass(frozen=True)
class _EngineTables:
    by_engine: dict[str, dict[str, Any]]
    none: dict[str, Any]  # an engine no pair names: nothing to validate


def _engine_tables(schema: Any) -> _EngineTables | None:
    """The schema's ``allOf`` pairs grouped by the engine their ``if`` requires, or None when a pair
    is not an ``if`` (requiring ``Engine`` as a string ``const``) with a ``then`` and nothing else."""
    pairs = schema.get("allOf") if isinstance(schema, dict) else None
    if not isinstance(pairs, list):
        return None
    rest = {k: v for k, v in schema.items() if k != "allOf"}
    grouped: dict[str, list[Any]] = {}
    for pair in pairs:
        if not isinstance(pair, dict) or set(pair) != {"if", "then"}:
            return None
        cond = pair["if"]
        engine = (cond.get("properties") or {}).get("Engine") or {}
        if not isinstance(engine.get("const"), str) or "Engine" not in (cond.get("required") or []):
            return None
        grouped.setdefault(engine["const"], []).append(pair)
    by_engine = {name: {**rest, "allOf": group} for name, group in grouped.items()}
    return _EngineTables(by_engine, {**rest, "allOf": []})


__all__ = ["WarmLinter", "install_speedups", "lint_template"]
