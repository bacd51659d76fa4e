"""cfn-lint on a synthesized template, in-process, as plain match dicts.

The sandbox worker holds one :class:`WarmLinter` for its life and lints every template it
synthesizes with it; the results reach ``CheckContext.lint`` (template -> matches) and the
``cfn-lint-error`` check reads them. Each match is ``{"rule": "E3012", "level": "error",
"message": "...", "path": ["Resources", "X", "Properties", ...], "resource": "X"}``
(``resource`` is None for matches outside the Resources section).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any


class WarmLinter:
    """cfn-lint loaded once, its rules built once and reused for every template."""

    def __init__(self, regions: list[str] | None = None) -> None:
        import cfnlint.api as api  # imported here: loading cfn-lint's rules and schemas takes a while
        from cfnlint.runner import Runner

        self._api = api
        self._config = api.ConfigMixIn(regions=regions or ["us-east-1"])
        self._rules = Runner(self._config).rules

    def lint(self, text: str) -> list[dict[str, Any]]:
        """Lint one template given as JSON or YAML text; matches sorted by path, then rule."""
        template, errors = self._api.decode_str(text)
        matches = list(errors or [])
        if template is not None and not errors:
            matches = list(self._api.run_template_by_data(template, self._config, self._rules))
        out = [_as_dict(m) for m in matches]
        out.sort(key=lambda m: ([str(p) for p in m["path"]], m["rule"], m["message"]))
        return out


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
    }


# cfn-lint's rule id prefix -> level, for a match whose rule carries no severity.
_LEVELS = {"E": "error", "W": "warning", "I": "informational"}

__all__ = ["WarmLinter", "lint_template"]
