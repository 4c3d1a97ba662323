"""The API 2.0 token request: what is posted to ``/oauth/token`` and how its answer is read.

Pure: the requester sends the form (retried like any call) and hands the
answer to :func:`read_token`. Neither function logs or raises a secret.
"""

from __future__ import annotations

from typing import Any

from tagger.mimecast.errors import AuthenticationError, MalformedResponse
from tagger.mimecast.httperrors import http_error
from tagger.mimecast.ratelimit import RateLimitInfo
from tagger.mimecast.settings import OAuthCredentials
from tagger.mimecast.transfer import NOT_JSON, Reply

# Used when the token response has no usable expires_in (Mimecast issues ~30 min).
DEFAULT_TOKEN_LIFETIME_S = 600.0


def token_form(creds: OAuthCredentials) -> dict[str, str]:
    """Return the form-encoded fields of a client-credentials token request."""
    return {
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "grant_type": "client_credentials",
    }


def read_token(reply: Reply, endpoint: str, account: str) -> tuple[str, float]:
    """Return ``(access_token, expires_in)`` from the token endpoint's answer.

    ``expires_in`` falls back to :data:`DEFAULT_TOKEN_LIFETIME_S` when missing
    or unusable. Raises :class:`AuthenticationError` (not retryable) when the
    credentials are refused (400/401/403), the :func:`http_error` of any other
    non-2xx status, and :class:`MalformedResponse` for a body without a token
    (retryable when it is not JSON at all: most likely a broken proxy).
    """
    status, request_id = reply.status, reply.request_id
    ctx: dict[str, Any] = {"endpoint": endpoint, "status": status, "request_id": request_id}
    body, why = reply.decoded()
    if status in (400, 401, 403):
        code = body.get("error") if isinstance(body, dict) else None
        raise AuthenticationError(
            f"account {account!r}: the OAuth token request was rejected:"
            " check client_id and client_secret and that the API 2.0 application is enabled",
            code=code if isinstance(code, str) else None,
            **ctx,
        )
    if status < 200 or status >= 300:
        raise http_error(status, body, ctx, False, RateLimitInfo.from_headers(reply.headers))
    if body is NOT_JSON:
        raise MalformedResponse(f"token response: {why}", retryable=True, **ctx)
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise MalformedResponse("token response has no access_token", **ctx)
    expires = body.get("expires_in")
    if isinstance(expires, str) and expires.isdigit():
        expires = int(expires)
    lifetime = float(expires) if isinstance(expires, (int, float)) and expires > 0 else None
    return token, lifetime or DEFAULT_TOKEN_LIFETIME_S
