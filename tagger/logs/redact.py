"""Masking credentials in text: registered secrets, live tokens and credential-shaped values.

:func:`redact` is pure: given a text and the secret strings to hide, it
returns the text with each of them, and every value that looks like an HTTP
credential (``Bearer …``, ``MC accessKey:signature``, an ``Authorization``
header, an ``access_token`` field), replaced by ``***``. A hostile or broken
server may echo our request headers back in an error body; error messages,
log lines and stored failures pass through here before anyone can read them.

A :class:`Redactor` holds what to hide: the configured credentials, kept for
the life of the process, and the OAuth access tokens just issued (only the
most recent, since each lives about half an hour). :data:`REDACTOR` is the
process's one instance: the configuration registers its secrets there, the
client its tokens, and every log line passes it as a structlog processor.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from collections import deque
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

__all__ = ["MASK", "REDACTOR", "SECRET_KEY_RE", "Redactor", "redact"]

MASK = "***"
# Keys whose values are masked whatever they hold (matched anywhere in the key).
SECRET_KEY_RE = re.compile(
    r"secret|passw|token|authori[sz]ation|access_?key|api_?key|credential|cookie", re.IGNORECASE
)
# Past this depth a value is masked whole: no leak and no endless recursion.
MAX_DEPTH = 20
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


class Redactor:
    """What this process hides: registered secrets and live tokens; masks them anywhere.

    Thread-safe: secrets and tokens may be registered while other threads log.
    An instance is also a structlog processor (:meth:`__call__`).
    """

    def __init__(self, live_tokens: int = LIVE_TOKENS) -> None:
        """Start with nothing registered; keep the last ``live_tokens`` tokens."""
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._tokens: deque[str] = deque(maxlen=live_tokens)
        self._all: tuple[str, ...] = ()

    def add_secret(self, value: str) -> None:
        """Mask ``value`` (and its URL-encoded forms) for good; empty values are ignored."""
        if not value:
            return
        with self._lock:
            self._secrets |= forms(value)
            self._rebuild()

    def add_token(self, value: str) -> None:
        """Mask an access token just issued; the oldest of the live ones is forgotten."""
        if not value:
            return
        with self._lock:
            if value not in self._tokens:
                self._tokens.append(value)
                self._rebuild()

    def registered(self) -> tuple[str, ...]:
        """Return every registered secret and live token form, longest first."""
        return self._all

    def text(self, text: str) -> str:
        """Return ``text`` with the registered values and credential-shaped values masked."""
        return redact(text, self._all)

    def value(self, value: Any, depth: int = 0) -> Any:
        """Return ``value`` with secrets masked, recursing into containers.

        Strings are scanned; mapping values under secret-looking keys are
        masked whole; other objects are replaced by their redacted text when
        their ``str`` or ``repr`` would reveal a secret.
        """
        if depth > MAX_DEPTH:
            return MASK
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                k: (
                    MASK
                    if isinstance(k, str) and SECRET_KEY_RE.search(k)
                    else self.value(v, depth + 1)
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v, depth + 1) for v in value]
        try:
            shown = str(value)
            if self.text(shown) != shown or self.text(repr(value)) != repr(value):
                return self.text(shown)
        except Exception:  # a broken __str__ must not break logging
            return f"<unprintable {type(value).__name__}>"
        return value

    def __call__(
        self, _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """structlog processor: the whole event with :meth:`value` applied to each entry."""
        out: dict[str, Any] = {}
        for key, value in event_dict.items():
            if key.startswith("_"):
                out[key] = value  # structlog internals (_record, _from_structlog)
            elif SECRET_KEY_RE.search(key):
                out[key] = MASK
            else:
                out[key] = self.value(value)
        return out

    def _rebuild(self) -> None:
        values = set(self._secrets)
        for token in self._tokens:
            values |= forms(token)
        self._all = tuple(sorted((v for v in values if v), key=len, reverse=True))


REDACTOR = Redactor()
"""The process's redactor: credentials from the config, tokens from the client."""
