"""What the task's prompt asks for, where it changes what a check should demand.

An answer is graded against its prompt: a prompt that says "all resources must be destroyable"
makes `RemovalPolicy.DESTROY` on a table the requested behaviour, and a prompt that names the
tags to apply (`Project: CloudMigration`) decides which keys are required. The prompt is the
task's ``lib/PROMPT.md`` (or ``PROMPT.md`` beside the answer). Only these narrow, explicit
statements are read; anything vaguer leaves the rubric's defaults in force.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from iacgrade.graders.models import Sample

PROMPT_MAX_BYTES = 1_000_000

# Statements that make deleting everything with the stack a requirement of the task.
_DESTROYABLE = re.compile(
    r"\bdestroyab(?:le|ility)\b"
    r"|RemovalPolicy\.DESTROY\b(?![^.\n]*\b(?:not|never|avoid)\b)"
    r"|\bno\s+(?:RemovalPolicy\.)?retain\b"
    r"|\b(?:cleanly|fully|completely)\s+(?:torn\s+down|destroyed|deleted)\b"
    r"|\b(?:cleanly|neatly|fully|completely)\s+tear\s+down\b"
    r"|\btear\s+down\s+(?:cleanly|neatly|fully|completely)\b"
    r"|\bwhen\s+the\s+stack\s+is\s+deleted\b[^.\n]*\b(?:tear|deleted|removed)"
    r"|\bteardown\b",
    re.IGNORECASE,
)
# "must not be destroyable" and similar turn the statement around.
_NEGATED = re.compile(r"\b(?:not|never)\s+(?:be\s+)?(?:fully\s+)?destroyable\b", re.IGNORECASE)

_KEY = r"[A-Za-z][A-Za-z0-9_.:/-]{0,40}?"
# Within a sentence that talks about tags: `Key: value`, 'Key=value' (quoted or in backticks) ...
_QUOTED_PAIR = re.compile(rf"[`'\"]\s*({_KEY})\s*[:=]\s*[^`'\"\n]*[`'\"]")
# ... Key=value / Key='value' written bare (CamelCase keys only, to stay clear of prose) ...
_BARE_PAIR = re.compile(r"\b([A-Z][A-Za-z0-9]+)\s*=\s*(?=['\"\w])")
# ... the tag 'Environment' with a value ...
_NAMED_TAG = re.compile(rf"\btag\s+[`'\"]({_KEY})[`'\"]", re.IGNORECASE)
# ... the 'DR-Role' tag ...
_QUOTED_KEY_TAG = re.compile(rf"[`'\"]({_KEY})[`'\"]\s+tags?\b", re.IGNORECASE)
# ... tagged with Environment, Team, and CostCenter / mandatory tags: 'Environment', 'Owner' /
# with Environment, Team, and CostCenter tags: a list of two or more CamelCase or quoted keys.
_ITEM = r"(?:[`'\"][A-Za-z][\w-]*[`'\"]|[A-Z][A-Za-z0-9]+)"
_LIST = rf"({_ITEM}(?:(?:,\s*and\s+|,\s*|\s+and\s+){_ITEM})+)"
_LISTED = (
    re.compile(rf"\btag(?:s|ged)?\b[^.:\n]{{0,30}}?(?:\bwith|:)\s+{_LIST}", re.IGNORECASE),
    re.compile(rf"\bwith\s+{_LIST}\s+tags\b"),
)


def read_prompt(sample: Sample) -> str | None:
    """The prompt's text, or None when there is none (or it is not a plain, small file).

    A prompt that came with the sample (a dataset row's prompt field, a library call) wins; a
    dataset row without one has none (a PROMPT.md beside the dataset file is not its prompt).
    Otherwise the task folder's ``lib/PROMPT.md`` or ``PROMPT.md``, or one beside the answer.
    """
    if sample.prompt is not None or sample.text is not None or sample.row_id is not None:
        return sample.prompt
    candidates: list[Path] = []
    if sample.task_root:
        candidates.append(Path(sample.task_root) / "lib" / "PROMPT.md")
        candidates.append(Path(sample.task_root) / "PROMPT.md")
    candidates.append(Path(sample.source).parent / "PROMPT.md")
    for path in candidates:
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > PROMPT_MAX_BYTES:
                continue
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return None


def prompt_digest(prompt: str | None) -> str | None:
    """A short hash of the prompt's text (whitespace-normalised), so runs can pair answers by prompt."""
    if not prompt or not prompt.strip():
        return None
    return hashlib.sha256(" ".join(prompt.split()).encode("utf-8")).hexdigest()[:16]


def asks_destroyable(prompt: str | None) -> str | None:
    """The prompt's words that require everything to be deletable with the stack, else None."""
    if not prompt:
        return None
    for _, sentence in _sentences(prompt):
        if _DESTROYABLE.search(sentence) and not _NEGATED.search(sentence):
            return _clip(sentence.strip(" -*#>\t"))
    return None


# Statements that make a publicly readable bucket (a static website) a requirement of the task.
_PUBLIC_BUCKET = re.compile(
    r"\bpublic(?:ly)?[\s-]+read(?:able)?\b|\bpublicly\s+(?:accessible|readable)\b"
    r"|\bpublic\s+(?:static\s+)?website\b",
    re.IGNORECASE,
)
_BUCKET_WORDS = re.compile(r"\b(?:s3|buckets?|website)\b", re.IGNORECASE)
_PUBLIC_DENIED = re.compile(
    r"\b(?:not|never|no|without|block(?:s|ing|ed)?|prevent\w*|den(?:y|ies)|disabl\w*)\b|n't\b", re.I
)
# A sentence about finding public buckets (a Config rule, an alarm) asks for none.
_PUBLIC_WATCHED = re.compile(r"prohibited|\b(?:flag|alert|monitor|detect|check|audit|config)\w*", re.I)


def asks_public_bucket(prompt: str | None) -> str | None:
    """The prompt's words that require a bucket anyone may read (a public static website), else None."""
    if not prompt:
        return None
    for _, sentence in _sentences(prompt):
        found = _PUBLIC_BUCKET.search(sentence)
        if (
            found
            and _BUCKET_WORDS.search(sentence)
            and not _PUBLIC_DENIED.search(sentence[: found.start()])
            and not _PUBLIC_WATCHED.search(sentence)
        ):
            return _clip(sentence.strip(" -*#>\t"))
    return None


_FUNCTION_WORDS = re.compile(r"\b(?:lambda|functions?)\b", re.IGNORECASE)
_SIZE = re.compile(
    r"\b\d{2,5}\s*(?:MB|GB|MiB)\b|\b\d+[- ]?(?:seconds?|secs?|minutes?|mins?)\b", re.IGNORECASE
)
_MEMORY_OR_TIMEOUT = re.compile(r"\bmemory\b|\btimeout\b", re.IGNORECASE)


def asks_function_size(prompt: str | None) -> str | None:
    """The prompt's sentence that fixes the Lambda functions' memory or timeout, else None.

    A sentence counts when it is about functions (or sits in a list under one that is) and gives
    a memory size or a timeout with its number: "All functions should have 512MB memory
    allocation and a 30-second timeout", "Memory: 512MB per function"."""
    if not prompt:
        return None
    lines = prompt.splitlines()
    for at, sentence in _sentences(prompt):
        if _MEMORY_OR_TIMEOUT.search(sentence) and _SIZE.search(sentence):
            # A list item's heading a few lines up says what the item is about.
            context = "\n".join(lines[max(0, at - 6) : at])
            if _FUNCTION_WORDS.search(sentence) or _FUNCTION_WORDS.search(context):
                return _clip(sentence.strip(" -*#>\t"))
    return None


# A requirement that every resource name carry the environment suffix ("Resource names must include
# **environmentSuffix** for uniqueness", "All resources must use the environmentSuffix variable in
# their names"): a sentence about resources and their names, the suffix, and a word that asks.
_ENV_SUFFIX = re.compile(r"environment[\s_-]?suffix", re.IGNORECASE)
_RESOURCE_NAMES = re.compile(
    r"\bresources?\b[^.]{0,200}?\bnam(?:e|es|ed|ing)\b|\bnamed\s+resources\b", re.IGNORECASE
)
_ASKS = re.compile(
    r"\b(?:must|should|shall|needs?\s+to|required?|includ\w*|contain\w*|append\w*|suffix(?:ed)?|use)\b",
    re.IGNORECASE,
)


def asks_suffixed_names(prompt: str | None) -> str | None:
    """The prompt's sentence that asks every resource name to include the environment suffix, else None."""
    if not prompt:
        return None
    for _, sentence in _sentences(prompt):
        if _ENV_SUFFIX.search(sentence) and _RESOURCE_NAMES.search(sentence) and _ASKS.search(sentence):
            return _clip(sentence.strip(" -*#>\t"))
    return None


def _sentences(prompt: str) -> Iterator[tuple[int, str]]:
    """(line index, sentence) for every sentence of the prompt, line by line."""
    for at, line in enumerate(prompt.splitlines()):
        for sentence in re.split(r"(?<=[.!?])\s+", line):
            yield at, sentence


def tag_keys(prompt: str | None) -> list[str]:
    """The tag keys the prompt names (in its order, first spelling kept), or [] when it names none."""
    if not prompt:
        return []
    keys: list[str] = []
    for _, sentence in _sentences(prompt):
        if not re.search(r"\btag", sentence, re.IGNORECASE):
            continue
        found: list[tuple[int, str]] = []
        for pattern in (_QUOTED_PAIR, _BARE_PAIR, _NAMED_TAG, _QUOTED_KEY_TAG):
            found += [(m.start(1), m.group(1)) for m in pattern.finditer(sentence)]
        for listed in _LISTED:
            for m in listed.finditer(sentence):
                items = re.split(r",\s*and\s+|,\s*|\s+and\s+", m.group(1))
                found += [(m.start(1) + i, k.strip("`'\"")) for i, k in enumerate(items) if k]
        for _, key in sorted(found):
            key = key.rstrip(":.")
            if key and key.lower() not in {k.lower() for k in keys} and not _looks_like_prose(key):
                keys.append(key)
    return keys


def _looks_like_prose(key: str) -> bool:
    # "Note: ...", "Example: ..." inside a tag sentence are not tag keys, nor is the "any" of
    # "Project, Team, and any other necessary tags".
    return key.lower() in {
        "note", "example", "e.g", "i.e", "http", "https", "value", "key", "tag", "tags",
        "any", "all", "other", "others", "more", "etc", "additional",
    }  # fmt: skip


def _clip(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


__all__ = ["asks_destroyable", "asks_function_size", "prompt_digest", "read_prompt", "tag_keys"]
