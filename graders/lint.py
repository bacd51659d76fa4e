"""cfn-lint on a synthesized template, in-process, as plain match dicts.

The sandbox worker calls :func:`lint_template` on every template it synthesizes and stores the
result in ``CheckContext.lint`` (stack name -> matches); the ``cfn-lint-error`` check reads it.
Each match is ``{"rule": "E3012", "level": "error", "message": "...",
"path": ["Resources", "X", "Properties", ...], "resource": "X"}`` (``resource`` is None for
matches outside the Resources section).
"""

from __future__ import annotations

import json
from typing import Any

# cfn-lint's rule id prefix -> level; cfn-lint itself names severities the same way.
_LEVELS = {"E": "error", "W": "warning", "I": "informational"}


def lint_template(template: dict[str, Any], regions: list[str] | None = None) -> list[dict[str, Any]]:
    """Run cfn-lint on ``template`` and return its matches, sorted by path then rule."""
    import cfnlint.api  # imported here: loading cfn-lint's rules and schemas takes a while

    config = cfnlint.api.ManualArgs(regions=regions or ["us-east-1"])
    matches = cfnlint.api.lint(json.dumps(template), config=config)
    out = [_as_dict(m) for m in matches]
    out.sort(key=lambda m: ([str(p) for p in m["path"]], m["rule"], m["message"]))
    return out


def _as_dict(match: Any) -> dict[str, Any]:
    rule_id = str(getattr(match.rule, "id", "") or "")
    path = [p if isinstance(p, int) else str(p) for p in (getattr(match, "path", None) or [])]
    resource = path[1] if len(path) >= 2 and path[0] == "Resources" else None
    return {
        "rule": rule_id,
        "level": _LEVELS.get(rule_id[:1], "error"),
        "message": str(match.message),
        "path": path,
        "resource": resource,
    }


__all__ = ["lint_template"]
