"""Reading a human reviewer's failure report (a task's lib/MODEL_FAILURES.md) by topic.

The corpus' reviewers write free text. We only recognise which topics a report raises, by
keyword, and map each topic to the checks whose findings confirm it. Used by the report (to say
which of the reviewer's claims our checks confirm) and by `make eval`.
"""

from __future__ import annotations

import re
from pathlib import Path

# topic -> (pattern in the reviewer's text, checks whose finding confirms it)
TOPICS: dict[str, tuple[str, frozenset[str]]] = {
    "imports": (
        r"\bimports?\b",
        frozenset({"undefined-name", "unused-import", "parse-error", "inline-code-error"}),
    ),
    "hard-coded names": (
        r"hard-?coded\s+(?:resource\s+)?(?:names?|values?)|naming conflicts|fixed (?:resource )?names?",
        frozenset({"hardcoded-name"}),
    ),
    "removal policy": (r"removal\s*polic|RemovalPolicy|deletion polic", frozenset({"destroy-stateful"})),
    "IAM least privilege": (
        r"least[- ]privilege|overly permissive|wildcard (?:permissions?|actions?|resources?)|FullAccess|"
        r"AdministratorAccess",
        frozenset({"iam-wildcard-action", "iam-wildcard-resource", "broad-managed-policy"}),
    ),
    "throttling": (r"throttl", frozenset({"api-throttling-missing"})),
    "tags": (r"\btag(?:s|ging)\b", frozenset({"tags-missing"})),
    "CORS": (r"\bCORS\b", frozenset({"cors-allow-all"})),
    "log retention": (
        r"log(?:s|\s+group)?\s+retention|retention (?:period|polic)",
        frozenset({"log-retention-missing"}),
    ),
    "PITR": (r"point[- ]in[- ]time|\bPITR\b", frozenset({"pitr-disabled"})),
    "public access": (
        r"public(?:ly)?[- ]access|public read|block_public_access|BlockPublicAccess",
        frozenset({"s3-public-access"}),
    ),
    "encryption": (r"\bencrypt", frozenset({"encryption-missing"})),
    "tracing": (r"\btracing\b|X-?Ray", frozenset({"tracing-disabled"})),
    "DLQ": (r"dead[- ]letter|\bDLQ", frozenset({"dlq-missing"})),
    "alarms": (r"\balarms?\b", frozenset({"alarms-missing"})),
    "region": (r"\bregion\b", frozenset({"region-not-set"})),
    "secrets": (
        r"secrets? manager|hard-?coded (?:secrets?|credentials?|passwords?)|sensitive data",
        frozenset({"hardcoded-secret"}),
    ),
    "Lambda sizing": (
        r"memory and timeout|memory size|same memory",
        frozenset({"lambda-uniform-config", "lambda-default-config"}),
    ),
}


def topics_in(text: str) -> list[str]:
    """The topics a reviewer's text raises, in TOPICS order."""
    return [topic for topic, (pattern, _) in TOPICS.items() if re.search(pattern, text, re.I)]


def reviewer_report(task_root: str | None) -> str | None:
    """The task's MODEL_FAILURES.md text, when the task folder has one."""
    if not task_root:
        return None
    path = Path(task_root) / "lib" / "MODEL_FAILURES.md"
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
