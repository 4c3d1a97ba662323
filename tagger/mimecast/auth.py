"""Request authentication: API 1.0 HMAC-SHA1 signatures and API 2.0 OAuth2 tokens.

The signing function is pure (given the date and request id) so it can be
checked against a test vector. The token cache only decides *when* to fetch;
the fetch itself is a callable supplied by the client, so the HTTP and retry
handling live in one place.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tagger.mimecast.settings import HmacCredentials, decode_secret_key

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Refresh this long before the token expires, or at half-life for short tokens.
REFRESH_MARGIN_S = 60.0
SHORT_TOKEN_S = 120.0


def format_hmac_date(moment: datetime) -> str:
    """Format ``x-mc-date``: ``Tue, 24 Nov 2015 12:50:11 UTC``.

    Given an aware (or naive UTC) datetime; returns the header value. Day and
    month names are spelled out here because ``strftime`` follows the locale.
    """
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (
        f"{_DAYS[utc.weekday()]}, {utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year:04d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} UTC"
    )


def sign_hmac(secret_key: str, date: str, request_id: str, uri: str, app_key: str) -> str:
    """Compute the API 1.0 request signature.

    Given the base64 secret key, the ``x-mc-date`` and ``x-mc-req-id`` values,
    the request path (no host, no query) and the application key; returns
    ``base64(hmac_sha1(base64decode(secret_key), date:request_id:uri:app_key))``.
    Raises :class:`~tagger.mimecast.errors.ConfigurationError` if the secret key
    is not valid base64.
    """
    key = decode_secret_key(secret_key)
    message = ":".join((date, request_id, uri, app_key)).encode("utf-8")
    digest = hmac.new(key, message, digestmod=hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class HmacSigner:
    """Builds the API 1.0 headers of one request (fresh request id every time)."""

    credentials: HmacCredentials
    now: Callable[[], datetime]

    def headers(self, path: str) -> dict[str, str]:
        """Return the authentication headers for a request to ``path``."""
        date = format_hmac_date(self.now())
        request_id = str(uuid.uuid4())
        creds = self.credentials
        signature = sign_hmac(creds.secret_key, date, request_id, path, creds.app_key)
        return {
            "Authorization": f"MC {creds.access_key}:{signature}",
            "x-mc-app-id": creds.app_id,
            "x-mc-date": date,
            "x-mc-req-id": request_id,
        }


@dataclass(frozen=True, slots=True)
class Token:
    """An OAuth2 access token and when (on the client clock) to refresh it."""

    value: str
    refresh_at: float

    def __repr__(self) -> str:
        return f"Token(value='<redacted>', refresh_at={self.refresh_at!r})"


def refresh_time(issued_at: float, expires_in: float) -> float:
    """Return when to refresh a token issued at ``issued_at`` lasting ``expires_in`` s.

    Long-lived tokens are refreshed 60 s early; a token living under 120 s is
    refreshed at half-life so that it is never used right at its end.
    """
    if expires_in < SHORT_TOKEN_S:
        return issued_at + expires_in / 2.0
    return issued_at + expires_in - REFRESH_MARGIN_S


class TokenCache:
    """Holds the current OAuth2 token; concurrent callers share one refresh.

    Given ``fetch`` (an async callable returning ``(access_token, expires_in)``)
    and the monotonic ``clock``.
    """

    def __init__(
        self, fetch: Callable[[], Awaitable[tuple[str, float]]], clock: Callable[[], float]
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self._failures = 0
        self._last_error: Exception | None = None
        self.issued = 0

    def __repr__(self) -> str:
        return f"TokenCache(issued={self.issued})"

    async def get(self) -> str:
        """Return a valid access token, fetching a new one when due.

        Raises whatever ``fetch`` raises. Callers that were waiting for a
        refresh that failed get that same error instead of each trying again.
        """
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        failures_seen = self._failures
        async with self._lock:
            # Another caller may have refreshed while we waited for the lock.
            token = self._token
            if token is not None and self._clock() < token.refresh_at:
                return token.value
            if self._failures != failures_seen and self._last_error is not None:
                raise self._last_error
            issued_at = self._clock()
            try:
                value, expires_in = await self._fetch()
            except Exception as exc:
                self._failures += 1
                self._last_error = exc
                raise
            self._token = Token(value, refresh_time(issued_at, expires_in))
            self.issued += 1
            return value

    def invalidate(self, value: str) -> None:
        """Forget the token ``value`` (the service rejected it) unless already replaced."""
        if self._token is not None and hmac.compare_digest(self._token.value, value):
            self._token = None
