"""Authentication checks: API 2.0 OAuth tokens and API 1.0 HMAC-SHA1 signatures.

Failure codes the simulator answers with (HTTP status, ``fail[].errors[].code``):
- 401 ``err_missing_authorization``: no ``Authorization`` header at all;
- 401 ``token_expired``: a bearer token that was issued here and has expired;
- 401 ``token_invalid``: a bearer token never issued here;
- 401 ``err_developer_key``: ``x-mc-app-id`` is not the registered application;
- 401 ``err_xdk_invalid_signature``: unknown access key, missing ``x-mc-*``
  header, wrong signature, or ``x-mc-date`` more than 15 minutes off;
- 418 ``err_xdk_binding_expired``: API 1.0 key binding expired (2.0 tokens
  are unaffected: 2.0 has no key binding).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from tagger.simulator.credentials import Credentials

Headers = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a request was refused: HTTP status, error code and message."""

    status: int
    code: str
    message: str


def sign(secret_key: str, date: str, request_id: str, path: str, app_key: str) -> str:
    """Return the API 1.0 signature: base64(hmac_sha1(b64decode(key), date:id:path:appkey))."""
    data = f"{date}:{request_id}:{path}:{app_key}".encode()
    digest = hmac.new(base64.b64decode(secret_key), data, hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class Authenticator:
    """Issues tokens and checks every API request; thread-safe."""

    def __init__(self, creds: Credentials, token_lifetime_s: float, max_skew_s: float) -> None:
        self._creds = creds
        self._lifetime = token_lifetime_s
        self._skew = max_skew_s
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self.binding_expired = False
        self.binding_expired_in_fail = False

    def issue(
        self, form: Mapping[str, str], basic: str | None, now: float
    ) -> tuple[int, dict[str, object]]:
        """Handle ``POST /oauth/token``: returns ``(status, JSON body)``.

        Given the form fields and the ``Authorization`` header (HTTP Basic
        client authentication is accepted as well as form fields).
        """
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if basic and basic.lower().startswith("basic "):
            try:
                pair = base64.b64decode(basic[6:].strip()).decode()
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            client_id, _, client_secret = pair.partition(":")
        ok_id = hmac.compare_digest(client_id.encode(), self._creds.client_id.encode())
        ok_secret = hmac.compare_digest(client_secret.encode(), self._creds.client_secret.encode())
        if not (ok_id and ok_secret):
            return 401, {
                "error": "invalid_client",
                "error_description": "client authentication failed",
            }
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = now + self._lifetime
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self._lifetime),
        }

    def expire_tokens(self) -> None:
        """Expire every token issued so far (they stay known: the code is ``token_expired``)."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = float("-inf")

    def check(self, header: Headers, path: str, now: float) -> AuthFailure | None:
        """Check one API request's credentials; returns None when it may proceed.

        ``header`` looks a request header up by (case-insensitive) name.
        """
        value = (header("Authorization") or "").strip()
        if not value:
            return AuthFailure(401, "err_missing_authorization", "missing Authorization header")
        scheme, _, rest = value.partition(" ")
        if scheme.lower() == "bearer":
            return self._check_token(rest.strip(), now)
        if scheme == "MC":
            return self._check_hmac(header, rest.strip(), path, now)
        return AuthFailure(401, "err_missing_authorization", "unsupported Authorization scheme")

    def _check_token(self, token: str, now: float) -> AuthFailure | None:
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None:
            return AuthFailure(401, "token_invalid", "the access token is not valid")
        if expiry <= now:
            return AuthFailure(401, "token_expired", "the access token has expired")
        return None

    def _check_hmac(self, header: Headers, rest: str, path: str, now: float) -> AuthFailure | None:
        def bad(message: str) -> AuthFailure:
            return AuthFailure(401, "err_xdk_invalid_signature", message)

        access_key, _, signature = rest.partition(":")
        creds = self._creds
        if not hmac.compare_digest(access_key.encode(), creds.access_key.encode()):
            return bad("unknown access key")
        date, req_id, app_id = header("x-mc-date"), header("x-mc-req-id"), header("x-mc-app-id")
        if not (date and req_id and app_id):
            return bad("x-mc-date, x-mc-req-id and x-mc-app-id headers are required")
        if app_id != creds.app_id:
            return AuthFailure(401, "err_developer_key", "unknown application id")
        try:
            sent = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return bad("x-mc-date must look like 'Tue, 24 Nov 2015 12:50:11 UTC'")
        if abs(sent - now) > self._skew:
            return bad("x-mc-date is too far from the server clock (more than 15 minutes)")
        expected = sign(creds.secret_key, date, req_id, path, creds.app_key)
        if not hmac.compare_digest(signature.strip().encode(), expected.encode()):
            return bad("the request signature does not match")
        if self.binding_expired:
            # The service says so with HTTP 418, or with HTTP 200 and a fail[] item.
            status = 200 if self.binding_expired_in_fail else 418
            return AuthFailure(
                status, "err_xdk_binding_expired", "the access key binding has expired"
            )
        return None
