"""Typed errors raised by the Mimecast client.

Every error carries where it happened (``endpoint``), the HTTP ``status``, the
Mimecast error ``code`` when there is one, whether retrying could help
(``retryable``) and the ``request_id`` to quote to Mimecast support. None of
them ever holds a secret, a token or a signature: messages are built only
from our own wording, endpoint paths and the codes and messages the service
returned, and whatever the service returned passes :meth:`tagger.logs.redact.Redactor.text`
here, where every error is built (a server may echo our ``Authorization`` header).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tagger.logs.redact import REDACTOR


class MimecastError(Exception):
    """Base class of every error the Mimecast client raises."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        request_id: str | None = None,
    ) -> None:
        message = REDACTOR.text(message)
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.status = status
        self.code = REDACTOR.text(code) if code else code
        self.retryable = retryable
        self.request_id = REDACTOR.text(request_id) if request_id else request_id

    def __str__(self) -> str:
        context = []
        if self.endpoint:
            context.append(f"endpoint {self.endpoint}")
        if self.status is not None:
            context.append(f"HTTP {self.status}")
        if self.code:
            context.append(f"code {self.code}")
        if self.request_id:
            context.append(f"request id {self.request_id}")
        return f"{self.message} ({', '.join(context)})" if context else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, endpoint={self.endpoint!r}, "
            f"status={self.status!r}, code={self.code!r}, retryable={self.retryable!r}, "
            f"request_id={self.request_id!r})"
        )


class ConfigurationError(MimecastError, ValueError):
    """The account settings cannot work (bad base URL, undecodable secret key, ...)."""


class QuotaDeferred(MimecastError):
    """The call's turn at the endpoint's quota comes after its cycle's bound: deferred, not failed.

    Nothing was sent. The work it belonged to is picked up by the next cycle;
    ``wait_s`` is how long the call would have had to wait for its turn.
    """

    def __init__(self, message: str, *, wait_s: float, endpoint: str = "") -> None:
        super().__init__(message, endpoint=endpoint, retryable=True)
        self.wait_s = wait_s


class AuthenticationError(MimecastError):
    """The service rejected our credentials (wrong keys, clock skew, revoked app)."""


class KeyBindingExpired(AuthenticationError):
    """HTTP 418 (API 1.0): the access key binding expired; only the operator can fix it."""


class RateLimited(MimecastError):
    """HTTP 429 and the retry budget could not cover the wait the service asked for."""

    def __init__(self, message: str, *, reset_s: float | None = None, **kw: Any) -> None:
        kw.setdefault("retryable", True)
        super().__init__(message, **kw)
        self.reset_s = reset_s


class ServerError(MimecastError):
    """HTTP 5xx from the service."""


class TransportError(MimecastError):
    """No usable HTTP response: connection refused or dropped, TLS failure, timeout.

    ``connect`` is True when no connection could be opened (nothing was sent);
    ``tls`` when TLS itself failed (a certificate that does not verify, a
    server that does not speak TLS): it concerns the whole account, never one
    message, and no retry changes it.
    """

    connect: bool = False
    tls: bool = False


class MalformedResponse(MimecastError):
    """The response is not the JSON envelope we expect."""


class ResponseTooLarge(MalformedResponse):
    """The response exceeds a configured limit (body size, items); ``limit`` names the setting.

    Not retryable: the same request gets the same answer. The message says
    which limit was exceeded and how to raise it; ``items`` is how many items
    the answer held, when that was counted.
    """

    def __init__(
        self, message: str, *, limit: str = "", items: int | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.limit = limit
        self.items = items


@dataclass(frozen=True, slots=True)
class FailError:
    """One error of a ``fail[]`` item."""

    code: str = ""
    message: str = ""
    retryable: bool = False


@dataclass(frozen=True, slots=True)
class FailItem:
    """One ``fail[]`` item: the echo of the request item and its errors."""

    key: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[FailError, ...] = ()


class ApiFailure(MimecastError):
    """The service answered but refused the request: a non-empty ``fail[]`` or a 4xx.

    ``failures`` holds every ``fail[]`` item with its errors; ``code`` is the
    first error code.
    """

    def __init__(self, message: str, *, failures: tuple[FailItem, ...] = (), **kw: Any) -> None:
        super().__init__(message, **kw)
        self.failures = failures

    @property
    def codes(self) -> tuple[str, ...]:
        """Return every error code of every failed item, in order."""
        return tuple(e.code for f in self.failures for e in f.errors if e.code)


def parse_failures(value: Any) -> tuple[FailItem, ...]:
    """Parse a ``fail[]`` array; never raises, malformed parts become empty values.

    Given the decoded ``fail`` value; returns one :class:`FailItem` per object in it.
    """
    if not isinstance(value, list):
        return ()
    items = []
    for raw in value:
        if not isinstance(raw, Mapping):
            continue
        key = raw.get("key")
        errors = []
        raw_errors = raw.get("errors")
        for err in raw_errors if isinstance(raw_errors, list) else []:
            if not isinstance(err, Mapping):
                continue
            errors.append(
                FailError(
                    code=str(err.get("code") or ""),
                    message=str(err.get("message") or ""),
                    retryable=err.get("retryable") is True,
                )
            )
        items.append(
            FailItem(key=dict(key) if isinstance(key, Mapping) else {}, errors=tuple(errors))
        )
    return tuple(items)


def describe_failures(failures: tuple[FailItem, ...]) -> str:
    """Return a one-line summary of ``fail[]`` items: ``code: message; ...`` (max 3)."""
    parts = []
    for item in failures:
        for err in item.errors:
            # Masked before it is shortened: a cut could leave part of an echoed credential.
            message = REDACTOR.text(err.message)[:300]
            parts.append(f"{err.code or 'error'}: {message}" if message else err.code)
    if not parts:
        return "the request failed without an error code"
    more = f" (+{len(parts) - 3} more)" if len(parts) > 3 else ""
    return "; ".join(parts[:3]) + more
