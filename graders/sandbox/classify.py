"""Turn what a failed synth raised into a cause, a one-line message and the answer's file:line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from iacgrade.graders.models import SYNTH_CAUSES

_INVALID_API_TYPE = re.compile(
    r"unexpected keyword argument|required (positional|keyword-only) argument|positional argument|"
    r"type of argument|must be one of|got .* instead|Expected object reference|is not a function|"
    r"not callable|object is not subscriptable|unhashable|Cannot read properties of|has no attribute|"
    r"takes no arguments|not iterable|unsupported operand|can only concatenate"
)
_ENV_REQUIRED = re.compile(
    r"account/region are not specified|StackAccountRegionNotSpecified|"
    r"requires an? (explicit )?(account|region|env)|"
    r"needs? an? (account|region|environment)|Cannot (retrieve|determine) .*region|unresolved .*region|"
    r"region-agnostic|environment-agnostic|env-agnostic|\"env\" with an account"
)
_ASSET = re.compile(r"Cannot find asset at (\S+)")
_FLAG = re.compile(r"Unsupported feature flag '([^']+)'")
_NO_SPACE = re.compile(r"ENOSPC|No space left on device")
_ENOSPC = 28
_EFBIG = 27

# Every cause a synth failure can have: ``classify`` and the pool produce only these.
CAUSES = tuple(SYNTH_CAUSES)


@dataclass
class Classified:
    """The classified failure of one synth attempt."""

    cause: str
    error_type: str
    message: str
    file: str | None
    line: int | None
    detail: str

    def __post_init__(self) -> None:
        if self.cause not in CAUSES:
            raise ValueError(f"unknown synth failure cause {self.cause!r}; add it to CAUSES")


def answer_frame(
    frames: list[list[Any]], job_dir: str, driver: str | None = None
) -> tuple[str | None, int | None]:
    """Deepest traceback frame inside the job folder (the answer's code), as a relative path."""
    for filename, lineno, _ in reversed(frames or []):
        if isinstance(filename, str) and filename.startswith(job_dir + "/"):
            rel = filename[len(job_dir) + 1 :]
            if driver and rel == driver:
                continue
            return rel, lineno
    return None, None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


# CDK numbers its unresolved tokens per process (``${Token[TOKEN.9665]}``): a warm worker's numbers
# depend on the answers it built before, so messages keep a token's name and drop its number.
_TOKEN_NUMBER = re.compile(r"(\$\{Token\[[^\]\s]*?)\.\d+(\]\})")


def without_token_numbers(text: str) -> str:
    """``text`` with CDK's per-process token numbers left out (the same on a warm or fresh worker)."""
    return _TOKEN_NUMBER.sub(r"\1\2", text)


def classify(
    error: dict[str, Any], answer_classes: set[str], job_dir: str, driver: str | None = None
) -> Classified:
    """Classify the worker's description of an exception."""
    etype = error.get("type") or "Error"
    text = without_token_numbers(error.get("message") or "")
    js = error.get("js_name") or ""
    file, line = answer_frame(error.get("frames") or [], job_dir, driver)
    cause = "other"
    if etype in ("SyntaxError", "IndentationError", "TabError"):
        cause = "syntax"
    elif etype in ("NameError", "UnboundLocalError"):
        cause = "undefined-name"
    elif etype == "ModuleNotFoundError":
        cause = "missing-module"
    elif etype == "ImportError":
        found = re.search(r"cannot import name '(\w+)' from '([\w.]+)'", text)
        if found and found.group(2).split(".")[0] in ("aws_cdk", "constructs"):
            cause = "invalid-api"
        else:
            cause = "undefined-name" if found else "missing-module"
    elif etype == "AttributeError":
        owner = re.search(r"'(\w+)' object has no attribute", text) or re.search(r"type object '(\w+)'", text)
        cause = "undefined-name" if owner and owner.group(1) in answer_classes else "invalid-api"
    elif etype == "TypeError":
        cause = "invalid-api"
    elif etype == "MemoryError" or "heap out of memory" in text or "Cannot allocate" in text:
        cause = "memory"
    elif etype == "SystemExit":
        cause = "exited"
    elif etype == "RecursionError":
        cause = "other"
    elif error.get("errno") == _EFBIG:
        cause = "other"
        text = "output limit exceeded (file size limit): " + text
    elif error.get("errno") == _ENOSPC or _NO_SPACE.search(text):
        cause = "other"
        text = "scratch space exhausted (the sandbox's size limit on the folders a job writes): " + text
    elif _FLAG.search(text) or js == "UnsupportedFeatureFlag":
        cause = "unsupported-feature-flag"
    elif _ASSET.search(text):
        cause = "missing-asset"
    elif _ENV_REQUIRED.search(text):
        cause = "config"
    elif etype == "RuntimeError":
        # jsii errors: construct validation unless it reads like wrong API use.
        if _INVALID_API_TYPE.search(text):
            cause = "invalid-api"
        else:
            cause = "validation"
    where = f" ({file}:{line})" if file else ""
    message = f"{etype}: {_first_line(text)}{where}"
    return Classified(cause, etype, message, file, line, text)


def env_required(text: str) -> bool:
    """The error says a stack needs an account/region (a dummy env may get past it)."""
    return bool(_ENV_REQUIRED.search(text))


def missing_asset(text: str) -> str | None:
    """The asset path CDK could not find, when that is the error."""
    found = _ASSET.search(text)
    return found.group(1) if found else None


def unsupported_flag(text: str) -> str | None:
    """The removed CDK v1 feature flag the context sets, when that is the error."""
    found = _FLAG.search(text)
    return found.group(1) if found else None
