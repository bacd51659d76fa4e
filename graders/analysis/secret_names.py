"""Secret-named settings: a name that ends with a secret word (``DB_PASSWORD``, ``apiKey``)."""

from __future__ import annotations

import functools
import re

# Words that make a setting secret-named when its name ends with one.
SECRET_WORDS: tuple[str, ...] = (
    "password", "passwd", "secret", "api_key", "apikey", "access_key", "secret_key",
    "private_key", "token", "auth_token", "client_secret", "credentials",
)  # fmt: skip


def name_tokens(name: str) -> list[str]:
    return list(_tokens(name))


@functools.lru_cache(maxsize=8192)
def _tokens(name: str) -> tuple[str, ...]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return tuple(t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t)


def is_secret_name(name: str, secret_names: list[str] | tuple[str, ...]) -> bool:
    """`DB_PASSWORD`, `apiKey`, `client_secret`: the name ends with a secret word."""
    # A template's every property name is asked about, against the same few words: both are
    # tokenized once (per process), not once per question.
    return _is_secret_name(name, tuple(secret_names))


@functools.lru_cache(maxsize=8192)
def _is_secret_name(name: str, secret_names: tuple[str, ...]) -> bool:
    tokens = _tokens(name)
    if not tokens:
        return False
    for word in secret_names:
        wt = _tokens(word)
        if not wt:
            continue
        if (
            tokens[-len(wt) :] == wt
            or "".join(tokens[-len(wt) :]) == "".join(wt)
            or tokens[-1] == "".join(wt)
        ):
            return True
    return False
