"""Reading a human reviewer's failure report (a task's lib/MODEL_FAILURES.md) by topic.

The corpus' reviewers write free text. We only recognise which topics a report raises, by
keyword, and map each topic to the checks whose findings confirm it. The pipeline's last stage
(`judge_claims`) saves that judgement in the result, which the report renders; `make eval`
reads the topics too.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from iacgrade.graders.models import Evidence, ExtractedFile, Finding, ReviewerClaim, Sample

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


# topic -> what an answer writes when it does address the topic. For a topic the reviewer raised
# but no check confirmed, the report quotes these lines so a reader can see at once whether
# the claim holds (a throttled stage, an explicit region, a retention period ...).
SETTINGS: dict[str, str] = {
    "throttling": r"throttling_(?:rate|burst)_limit|\bthrottle\s*=|add_usage_plan|UsagePlan\(",
    "region": r"\bregion\s*[=:]|[\"']region[\"']\s*:|CDK_DEFAULT_REGION",
    "tracing": r"\btracing(?:_enabled)?\s*=",
    "log retention": r"\b(?:log_)?retention\s*=|cloudwatch_logs_retention",
    "PITR": r"point_in_time_recovery",
    "encryption": r"\bencryption\s*=|storage_encrypted|\bencrypted\s*=|at_rest_encryption|encryption_key\s*=",
    "DLQ": r"dead_letter_queue|on_failure\s*=|DeadLetterQueue\(",
    "alarms": r"\bAlarm\(|create_alarm\(|CompositeAlarm\(",
    "public access": r"block_public_access|public_read_access",
    "CORS": r"allow_origins|allowed_origins|Access-Control-Allow-Origin",
    "tags": r"Tags\.of\(|\btags\s*=",
    "removal policy": r"removal_policy\s*=|apply_removal_policy|auto_delete_objects",
    "IAM least privilege": r"\.grant_\w+\(|\bactions\s*=|from_aws_managed_policy_name",
    "Lambda sizing": r"\bmemory_size\s*=",
}


_SETTINGS_RE = {topic: re.compile(pattern) for topic, pattern in SETTINGS.items()}
_TOPICS_RE = {topic: re.compile(pattern, re.I) for topic, (pattern, _) in TOPICS.items()}


def judge_claims(
    text: str | None, findings: list[Finding], files: list[ExtractedFile]
) -> list[ReviewerClaim]:
    """Each topic the reviewer's ``text`` raises, the checks among ``findings`` that confirm it,
    and for an unconfirmed one the answer's own lines on that topic (``seen``)."""
    if not text:
        return []
    found = {f.check for f in findings}
    lines: list[tuple[ExtractedFile, int, str]] | None = None  # read once, and only if a topic needs them
    claims = []
    for topic in topics_in(text):
        checks = sorted(confirming_checks(topic, text))
        by = [c for c in checks if c in found]
        if not by and lines is None and topic in SETTINGS:
            lines = _answer_lines(files)
        claims.append(
            ReviewerClaim(
                topic=topic,
                checks=checks,
                confirmed_by=by,
                seen=[] if by or lines is None else _answer_settings(lines, topic),
            )
        )
    return claims


def _answer_lines(files: Iterable[ExtractedFile]) -> list[tuple[ExtractedFile, int, str]]:
    """(file, line number, code) of every non-comment line of the answer's Python files, the
    files in path order (folder by folder)."""
    by_path = {f.path: f for f in files if f.path.endswith(".py")}
    out: list[tuple[ExtractedFile, int, str]] = []
    for path in sorted(by_path, key=lambda p: PurePosixPath(p).parts):
        f = by_path[path]
        out += [
            (f, n, line.strip())
            for n, line in enumerate(f.content.splitlines(), start=1)
            if not line.strip().startswith("#")
        ]
    return out


def _answer_settings(
    lines: list[tuple[ExtractedFile, int, str]], topic: str, limit: int = 3
) -> list[Evidence]:
    """Up to ``limit`` of ``lines`` (see `_answer_lines`) that address ``topic``, the code (cut
    at 100 characters) as the evidence's value; [] when the topic has no pattern or nothing matches."""
    pattern = _SETTINGS_RE.get(topic)
    if pattern is None:
        return []
    found = (
        Evidence(file=f.path, line=n, md_line=f.md_line(n), value=code[:100])
        for f, n, code in lines
        if pattern.search(code)
    )
    return list(itertools.islice(found, limit))


def confirming_checks(topic: str, text: str) -> frozenset[str]:
    """The checks whose findings confirm ``topic`` as this reviewer raised it.

    "Missing imports" is confirmed only by a name used without an import (or code that does
    not parse), not by an unused import elsewhere; a reviewer who names unused imports is
    confirmed only by unused-import.
    """
    checks = TOPICS[topic][1]
    if topic == "imports":
        missing = re.search(
            r"missing\s+imports?|imports?\s+(?:are\s+|is\s+)?missing|not\s+imported", text, re.I
        )
        unused = re.search(r"unused\s+imports?|imports?\s+(?:that\s+are\s+)?(?:never|not)\s+used", text, re.I)
        if missing and not unused:
            return checks - {"unused-import"}
        if unused and not missing:
            return frozenset({"unused-import"})
    return checks


def topics_in(text: str) -> list[str]:
    """The topics a reviewer's text raises, in TOPICS order."""
    return [topic for topic, pattern in _TOPICS_RE.items() if pattern.search(text)]


def reviewer_report(sample: Sample) -> str | None:
    """The reviewer's report on a task's MODEL answer (its MODEL_FAILURES.md), when there is one."""
    if sample.role != "model" or not sample.task_root:
        return None
    path = Path(sample.task_root) / "lib" / "MODEL_FAILURES.md"
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
