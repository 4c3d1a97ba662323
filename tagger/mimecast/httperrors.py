"""Mapping of HTTP outcomes (status codes, transport failures) to typed client errors."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from tagger.mimecast.envelope import error_detail
from tagger.mimecast.errors import (
    ApiFailure,
    AuthenticationError,
    FailItem,
    KeyBindingExpired,
    MimecastError,
    RateLimited,
    ServerError,
    TransportError,
    describe_failures,
    parse_failures,
)
from tagger.mimecast.ratelimit import RateLimitInfo

KEY_BINDING_MESSAGE = (
    "the API key binding has expired: re-create the API 1.0 access key and secret key for"
    " this application in the Mimecast Administration Console, update the credentials,"
    " then restart tagger"
)


# fail[] codes that concern the whole account, whatever the request was.
BINDING_EXPIRED = "err_xdk_binding_expired"
ACCOUNT_AUTH_CODES = frozenset(
    {"err_xdk_invalid_signature", "err_developer_key", "err_xdk_invalid_access_key"}
)


def failure_error(failed: tuple[FailItem, ...], ctx: dict[str, Any]) -> MimecastError:
    """Map the ``fail[]`` items of an answered request to a typed error.

    An expired key binding (``err_xdk_binding_expired``) is
    :class:`KeyBindingExpired`, as HTTP 418 is; a refused signature or
    developer key is :class:`AuthenticationError` (account-level, never one
    message's fault); anything else is :class:`ApiFailure`, retryable only when
    every error says so.
    """
    errors = [e for f in failed for e in f.errors]
    codes = [e.code for e in errors if e.code]
    code = codes[0] if codes else None
    lowered = {c.lower() for c in codes}
    if BINDING_EXPIRED in lowered:
        return KeyBindingExpired(KEY_BINDING_MESSAGE, code=BINDING_EXPIRED, **ctx)
    refused = sorted(lowered & ACCOUNT_AUTH_CODES)
    if refused:
        return AuthenticationError(
            f"the service refused this account's credentials ({refused[0]}): check the"
            " access key, secret key, application id and key, and this host's clock",
            code=refused[0],
            **ctx,
        )
    return ApiFailure(
        describe_failures(failed),
        failures=failed,
        code=code,
        retryable=bool(errors) and all(e.retryable for e in errors),
        **ctx,
    )


# OpenSSL reasons meaning the other end answered, but not in TLS (a plain-HTTP port).
NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)


def transport_error(
    exc: httpx.TransportError,
    path: str,
    request_id: str | None,
    *,
    url: str = "",
    account: str = "",
) -> TransportError:
    """Map an httpx transport failure to a :class:`TransportError` naming where and the fix.

    Given the failure, the endpoint path, the request id, and the account's
    base URL and name (for the message). TLS failures are final: a
    certificate that does not verify, or a server that does not speak TLS
    (``https://`` against a plain-HTTP port), will not change on a retry. A
    connection that could not be opened is :attr:`TransportError.connect`
    (retried only briefly: nothing was sent).
    """
    where = f"{url}{path}" if url else path
    who = f" for account {account!r}" if account else ""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            error = TransportError(
                f"TLS certificate verification failed at {where}{who}: if a proxy re-signs"
                " traffic, set ca_bundle to its CA certificate file",
                endpoint=path,
                request_id=request_id,
            )
            error.tls = True
            return error
        if isinstance(cause, ssl.SSLError) and not isinstance(
            cause, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)
        ):
            reason = getattr(cause, "reason", None) or type(cause).__name__
            if reason in NOT_TLS_REASONS:
                hint = (
                    "this server does not speak TLS on that port: use its https:// port,"
                    " or http:// (allowed on loopback only)"
                )
            else:
                hint = "the TLS handshake cannot succeed as configured; check base_url"
            error = TransportError(
                f"TLS error at {where}{who} ({reason}): {hint}",
                endpoint=path,
                request_id=request_id,
            )
            error.tls = True
            return error
        cause = cause.__cause__ or cause.__context__
    kind = type(exc).__name__
    detail = str(exc)[:160] or "no detail"
    if isinstance(exc, httpx.ConnectError):
        error = TransportError(
            f"cannot connect to {where}{who} ({detail}): check base_url (or region) and that"
            " this host can reach it (DNS, firewall, proxy)",
            endpoint=path,
            retryable=True,
            request_id=request_id,
        )
        error.connect = True
        return error
    return TransportError(
        f"connection to {where}{who} failed ({kind}): {detail}",
        endpoint=path,
        retryable=True,
        request_id=request_id,
    )


def http_error(
    status: int, body: Any, ctx: dict[str, Any], hmac_mode: bool, rate: RateLimitInfo
) -> MimecastError:
    """Map a non-2xx status (and its body, if JSON) to a typed error."""
    failures = parse_failures(body.get("fail")) if isinstance(body, dict) else ()
    codes = [e.code for f in failures for e in f.errors if e.code]
    code = codes[0] if codes else None
    detail = error_detail(body) or (describe_failures(failures) if failures else "")
    suffix = f": {detail}" if detail else ""
    if status == 418 or BINDING_EXPIRED in {c.lower() for c in codes}:
        return KeyBindingExpired(KEY_BINDING_MESSAGE, code=code, **ctx)
    if status == 401:
        hint = (
            "check the access key, secret key, application id and application key, and"
            " that this host's clock is correct (signatures are time-stamped)"
            if hmac_mode
            else "check client_id and client_secret"
        )
        return AuthenticationError(f"authentication failed{suffix}: {hint}", code=code, **ctx)
    if status == 403:
        return AuthenticationError(
            f"permission denied{suffix}: the API application's role lacks access to this"
            " endpoint or product",
            code=code,
            **ctx,
        )
    if status == 429:
        return RateLimited(
            f"rate limited by Mimecast{suffix}", reset_s=rate.wait_s() or None, code=code, **ctx
        )
    if status >= 500:
        return ServerError(f"Mimecast server error{suffix}", code=code, retryable=True, **ctx)
    if status == 404:
        return ApiFailure(
            f"endpoint not found{suffix}: check the configured endpoint path and base URL",
            failures=failures,
            code=code,
            **ctx,
        )
    return ApiFailure(f"request refused{suffix}", failures=failures, code=code, **ctx)
