"""Masking credentials in text: registered secrets, live tokens and credential-shaped values.

:func:`redact` is pure: given a text and the secret strings to hide, it
returns the text with each of them, and every value that looks like an HTTP
credential (``Bearer …``, ``MC accessKey:signature``, an ``Authorization``
header, an ``access_token`` field), replaced by ``***``. A hostile or broken
server may echo our request headers back in an error body; error messages,
log lines and stored failures pass through here before anyone can read them.

The registry (:func:`register_secret` for the configured credentials, kept
for the life of the process, and :func:`register_token` for OAuth access
tokens, of which only the most recent are kept since each lives about half an
hour) feeds :func:`redact_text`, which callers use when they do not hold the
secrets themselves.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from collections import deque
from collections.abc import Iterable

__all__ = [
    "MASK",
    "redact",
    "redact_text",
    "register_secret",
    "register_token",
    "registered",
]

MASK = "***"
# Access tokens still worth masking: the current one, the ones just replaced
# (requests may still be in flight with them) and a margin.
LIVE_TOKENS = 16

# Credential-shaped values, whoever sent them. Each keeps its label and masks the value.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer <token>   (RFC 6750 token68 characters)
    (re.compile(r"(?i)\b(bearer)(\s+|%20|\+)[A-Za-z0-9\-._~+/]+=*"), r"\1\2" + MASK),
    # Authorization: MC <accessKey>:<signature>   (API 1.0)
    (re.compile(r"\b(MC)(\s+|%20|\+)[^\s:\"',;]+:[A-Za-z0-9+/=_\-%]+"), r"\1\2" + MASK),
    # "Authorization": "<anything>", authorization=<anything>, Authorization: <anything>
    (
        re.compile(r"""(?i)(authori[sz]ation["']?\s*[:=]\s*["']?)(?!\*\*\*)[^"'\r\n,;}&]+"""),
        r"\1" + MASK,
    ),
    # "access_token": "<token>", access_token=<token>
    (
        re.compile(r"""(?i)((?:access|refresh|id)_token["']?\s*[:=]\s*["']?)[^"'\s,;}&]+"""),
        r"\1" + MASK,
    ),
)

# Cheap test before the patterns run: most texts hold none of these words.
_TRIGGERS = ("bearer", "authori", "_token")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()
_tokens: deque[str] = deque(maxlen=LIVE_TOKENS)
_all: tuple[str, ...] = ()


def forms(value: str) -> set[str]:
    """Return ``value`` and its URL-encoded forms (how it may appear in a logged URL or body)."""
    return {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with every one of ``secrets`` and every credential-shaped value masked.

    ``secrets`` should be ordered longest first, so a secret that contains
    another is masked whole; empty strings are ignored. Pure.
    """
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    lowered = text.lower()
    if "MC" in text or any(word in lowered for word in _TRIGGERS):
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
    return text


def _rebuild() -> None:
    global _all
    values = set(_secrets)
    for token in _tokens:
        values |= forms(token)
    _all = tuple(sorted((v for v in values if v), key=len, reverse=True))


def register_secret(value: str) -> None:
    """Mask ``value`` (and its URL-encoded forms) in :func:`redact_text` for good.

    Empty values are ignored: they would match everywhere.
    """
    global _secrets
    if not value:
        return
    with _lock:
        _secrets = tuple(set(_secrets) | forms(value))
        _rebuild()


def register_token(value: str) -> None:
    """Mask an access token just issued; the oldest of :data:`LIVE_TOKENS` is forgotten."""
    if not value:
        return
    with _lock:
        if value not in _tokens:
            _tokens.append(value)
            _rebuild()


def registered() -> tuple[str, ...]:
    """Return every registered secret and live token form, longest first."""
    return _all


def redact_text(text: str) -> str:
    """Return ``text`` with the registered secrets and credential-shaped values masked."""
    return redact(text, _all)
