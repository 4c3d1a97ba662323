"""Per-account settings of the Mimecast client (immutable, validated on construction).

Secrets are kept out of ``repr()``: every secret field is declared with
``repr=False`` and each credentials class prints a redacted form, so settings
can be logged or shown in an error without leaking anything.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from tagger.mimecast.endpoints import EndpointPaths
from tagger.mimecast.errors import ConfigurationError
from tagger.mimecast.regions import resolve_base_url

__all__ = [
    "AccountSettings",
    "Credentials",
    "EndpointPaths",
    "HmacCredentials",
    "OAuthCredentials",
    "RetryPolicy",
]

_REDACTED = "'<redacted>'"

# Bounds on what one answer may hold (hostile or broken servers).
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_ITEMS = 10_000
DEFAULT_MAX_PAGINATION_S = 900.0


@dataclass(frozen=True, slots=True)
class OAuthCredentials:
    """API 2.0 client credentials (``client_secret`` is secret)."""

    client_id: str
    client_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ConfigurationError("API 2.0 credentials need both client_id and client_secret")

    def __repr__(self) -> str:
        return f"OAuthCredentials(client_id={self.client_id!r}, client_secret={_REDACTED})"


@dataclass(frozen=True, slots=True)
class HmacCredentials:
    """API 1.0 keys. ``access_key``, ``secret_key`` and ``app_key`` are secret.

    Raises :class:`ConfigurationError` on construction if a field is empty or
    ``secret_key`` is not valid base64 (the message never contains the key).
    """

    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    app_id: str
    app_key: str = field(repr=False)

    def __post_init__(self) -> None:
        missing = [
            n for n in ("access_key", "secret_key", "app_id", "app_key") if not getattr(self, n)
        ]
        if missing:
            raise ConfigurationError(f"API 1.0 credentials are missing: {', '.join(missing)}")
        decode_secret_key(self.secret_key)

    def __repr__(self) -> str:
        return (
            f"HmacCredentials(access_key={_REDACTED}, secret_key={_REDACTED}, "
            f"app_id={self.app_id!r}, app_key={_REDACTED})"
        )


Credentials = OAuthCredentials | HmacCredentials


def decode_secret_key(secret_key: str) -> bytes:
    """Decode an API 1.0 secret key (standard base64).

    Returns the raw HMAC key bytes. Raises :class:`ConfigurationError` when the
    key is not valid base64; the message says so without quoting the key.
    """
    try:
        key = base64.b64decode(secret_key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            "the API 1.0 secret key is not valid base64: copy it again from the Mimecast"
            " Administration Console (Services | API and Platform Integrations)"
        ) from None
    if not key:
        raise ConfigurationError("the API 1.0 secret key is empty")
    return key


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to retry transient failures (429, 5xx, network errors, bad JSON).

    ``max_attempts`` counts the HTTP attempts of one call that failed for real
    (5xx, network, malformed answers); a 429 is backpressure and spends none.
    ``max_total_s`` bounds the time one call may spend including waits. Delays
    grow exponentially from ``base_delay_s`` up to ``max_delay_s`` with full
    jitter. ``max_wait_s`` caps any single wait a rate-limit header asks for.
    """

    max_attempts: int = 6
    max_total_s: float = 120.0
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_wait_s: float = 900.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError("retry.max_attempts must be at least 1")
        if self.max_total_s <= 0 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ConfigurationError("retry durations must be positive")
        if self.max_wait_s <= 0:
            raise ConfigurationError("retry durations must be positive")


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """Everything the client needs to talk to one Mimecast account.

    ``base_url`` may be given as a region name or a URL; after construction it
    always holds the resolved base URL (see
    :func:`tagger.mimecast.regions.resolve_base_url`). ``ca_bundle`` adds
    CAs to the default trust; with ``ca_bundle_only`` only the bundle is
    trusted. ``max_response_bytes`` caps a decoded response body,
    ``max_items`` the items of one answer (``data[]``, ``trackedEmails[]``)
    and ``max_pagination_s`` the time one paginated listing may take.
    ``quota_group`` names the API quota the account shares with others (None:
    the one its credentials imply, see :mod:`tagger.mimecast.quota`). Raises
    :class:`ConfigurationError` (a ``ValueError``) when a value cannot work.
    """

    name: str
    api_version: str
    base_url: str
    credentials: Credentials
    endpoints: EndpointPaths = field(default_factory=EndpointPaths)
    ca_bundle: str | None = None
    ca_bundle_only: bool = False
    concurrency: int = 8
    timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_items: int = DEFAULT_MAX_ITEMS
    max_pagination_s: float = DEFAULT_MAX_PAGINATION_S
    quota_group: str | None = None

    def __post_init__(self) -> None:
        try:
            resolved = resolve_base_url(self.base_url, self.api_version)
        except ValueError as exc:
            raise ConfigurationError(f"account {self.name!r}: {exc}") from None
        # Frozen: store the resolved URL once so every consumer sees the same value.
        object.__setattr__(self, "base_url", resolved)
        if self.api_version == "2.0" and not isinstance(self.credentials, OAuthCredentials):
            raise ConfigurationError(
                f"account {self.name!r}: API 2.0 needs client_id and client_secret"
            )
        if self.api_version == "1.0" and not isinstance(self.credentials, HmacCredentials):
            raise ConfigurationError(
                f"account {self.name!r}: API 1.0 needs access_key, secret_key, app_id and app_key"
            )
        if self.concurrency < 1:
            raise ConfigurationError(f"account {self.name!r}: concurrency must be at least 1")
        if self.timeout_s <= 0:
            raise ConfigurationError(f"account {self.name!r}: timeout_s must be positive")
        if self.ca_bundle_only and self.ca_bundle is None:
            raise ConfigurationError(f"account {self.name!r}: ca_bundle_only needs ca_bundle")
        if self.max_response_bytes < 1 or self.max_items < 1 or self.max_pagination_s <= 0:
            raise ConfigurationError(f"account {self.name!r}: response limits must be positive")
