"""One authenticated, rate-limited, retried POST to Mimecast: the client's engine room.

:class:`Requester` owns the policy every endpoint shares: authentication
(HMAC or OAuth2 with one shared refresh), the per-endpoint rate-limit gate,
bounded concurrency, mapping HTTP outcomes to typed errors, and retries with
backoff. It never logs or raises a header value, a token or a secret.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx
import structlog

from tagger.logs.redact import REDACTOR
from tagger.mimecast.auth import HmacSigner, TokenCache
from tagger.mimecast.envelope import Envelope, NotJson, check_items, decode_json, parse_envelope
from tagger.mimecast.errors import (
    AuthenticationError,
    FailItem,
    MalformedResponse,
    MimecastError,
    RateLimited,
    TransportError,
)
from tagger.mimecast.httperrors import failure_error, http_error, transport_error
from tagger.mimecast.ratelimit import OutOfTime, RateLimitGate, RateLimitInfo, Ticket
from tagger.mimecast.retry import RetryBudget, backoff_delay
from tagger.mimecast.settings import AccountSettings, HmacCredentials, OAuthCredentials
from tagger.mimecast.stats import ClientStats, EndpointStats
from tagger.mimecast.transfer import exchange_limit, read_body

log = structlog.get_logger("tagger.mimecast")

T = TypeVar("T")
Accept = Callable[[FailItem], bool]

TOKEN_EXPIRED = "token_expired"  # noqa: S105 - an error code, not a password
# Used when the token response has no usable expires_in (Mimecast issues ~30 min).
DEFAULT_TOKEN_LIFETIME_S = 600.0


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer, read whole (within the size cap): status, headers, body and request id."""

    status: int
    headers: httpx.Headers
    body: bytes
    request_id: str | None


class _TokenRejected(Exception):
    """Internal: the service refused our bearer token (401 or ``token_expired``)."""

    def __init__(self, token: str, status: int, request_id: str | None) -> None:
        super().__init__("access token rejected")
        self.token = token
        self.status = status
        self.request_id = request_id


class _OutOfTime(Exception):
    """Internal: the rate-limit gate cannot let the call out before its deadline."""

    def __init__(self, error: RateLimited) -> None:
        super().__init__(str(error))
        self.error = error


class _TokenFetchFailed(Exception):
    """Internal: obtaining a token failed for good (its own retries are spent)."""

    def __init__(self, error: MimecastError) -> None:
        super().__init__(str(error))
        self.error = error


class Requester:
    """Sends envelope requests for one account; see the module docstring."""

    def __init__(
        self,
        settings: AccountSettings,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        utcnow: Callable[[], datetime],
        uniform: Callable[[], float],
        stats: ClientStats,
    ) -> None:
        self.settings = settings
        self._http = http
        self._clock = clock
        self._sleep = sleep
        self._uniform = uniform
        self.stats = stats
        self._sem = asyncio.Semaphore(settings.concurrency)
        self._gates: dict[str, RateLimitGate] = {}
        creds = settings.credentials
        self._signer = HmacSigner(creds, utcnow) if isinstance(creds, HmacCredentials) else None
        self._tokens = TokenCache(self._fetch_token, clock)
        # The last ``Date`` header the server sent: preflight compares the host clock to it.
        self.last_date: str | None = None

    def gate(self, path: str) -> RateLimitGate:
        """Return the rate-limit gate of ``path`` (shared by concurrent calls)."""
        gate = self._gates.get(path)
        if gate is None:
            gate = self._gates[path] = RateLimitGate(
                self._clock, self._sleep, max_wait_s=self.settings.retry.max_wait_s, name=path
            )
        return gate

    async def call(self, path: str, body: dict[str, Any], accept: Accept | None = None) -> Envelope:
        """POST ``body`` as JSON to ``path`` and return the checked envelope.

        ``accept`` marks ``fail[]`` items that count as success (e.g. "already
        applied"). Raises a :class:`MimecastError` subclass when the call fails
        for good (retries exhausted or not retryable).
        """
        content = json.dumps(body, separators=(",", ":")).encode("utf-8")
        return await self._with_retries(
            path, lambda deadline: self._attempt(path, content, accept, deadline)
        )

    async def _with_retries(self, path: str, attempt: Callable[[float], Awaitable[T]]) -> T:
        """Run ``attempt(deadline)`` until it succeeds, a failure is final, or the budget is spent.

        A 429 spends no attempt: the call asks the rate-limit gate for its next
        turn until its deadline. Other transient failures spend one each.
        """
        stats = self.stats.endpoint(path)
        stats.calls += 1
        budget = RetryBudget(self.settings.retry, self._clock())
        refreshed = False
        throttle: RateLimited | None = None  # the last 429, to report if time runs out
        while True:
            budget.attempts += 1
            try:
                return await attempt(budget.deadline)
            except _OutOfTime as out:
                stats.failed += 1
                if throttle is None:
                    stats.errors[type(out.error).__name__] += 1
                    raise out.error from None
                throttle.reset_s = out.error.reset_s
                raise throttle from None
            except _TokenFetchFailed as failed:
                # The token request already had its own retries: do not multiply them.
                stats.errors[type(failed.error).__name__] += 1
                stats.failed += 1
                raise failed.error from None
            except _TokenRejected as rejected:
                if refreshed or self._signer is not None:
                    err: MimecastError = AuthenticationError(
                        "the access token was rejected again right after a refresh: check"
                        " that the API application is enabled and has this product",
                        endpoint=path,
                        status=rejected.status,
                        request_id=rejected.request_id,
                    )
                    stats.errors[type(err).__name__] += 1
                    stats.failed += 1
                    raise err from None
                # An expired token is not a failed attempt: refresh once, try again.
                refreshed = True
                budget.attempts -= 1
                stats.token_refreshes += 1
                self._tokens.invalidate(rejected.token)
                log.info("mimecast_token_refresh", endpoint=path, status=rejected.status)
            except MimecastError as err:
                stats.errors[type(err).__name__] += 1
                if isinstance(err, RateLimited) and err.status == 429:
                    # Backpressure, not a failure: the gate now holds the call back
                    # until the service has room (or the deadline comes).
                    budget.throttled()
                    throttle = err
                    stats.retries += 1
                    log.warning(
                        "mimecast_rate_limited",
                        endpoint=path,
                        status=429,
                        throttled=budget.throttles,
                        delay_s=round(self.gate(path).delay(), 3),
                    )
                    continue
                delay = self._retry_delay(budget.attempts)
                if not err.retryable or not budget.allows(self._clock(), delay):
                    stats.failed += 1
                    raise
                stats.retries += 1
                log.warning(
                    "mimecast_retry",
                    endpoint=path,
                    status=err.status,
                    code=err.code,
                    error=type(err).__name__,
                    attempt=budget.attempts,
                    delay_s=round(delay, 3),
                )
                # Sleep outside the semaphore so waiting calls do not block others.
                await self._sleep(delay)

    def _retry_delay(self, attempt: int) -> float:
        """Return the jittered backoff before the next attempt (the gate adds any wait asked)."""
        return backoff_delay(self.settings.retry, attempt, self._uniform)

    async def _bearer(self) -> str | None:
        """Return the current OAuth2 token (fetching one when due), or None for HMAC."""
        if self._signer is not None:
            return None
        try:
            return await self._tokens.get()
        except MimecastError as err:
            raise _TokenFetchFailed(err) from None

    def _headers(self, path: str, token: str | None) -> dict[str, str]:
        """Return the request headers: a bearer token, or a fresh HMAC signature."""
        if self._signer is not None:
            headers = self._signer.headers(path)
        elif token is not None:
            headers = {"Authorization": f"Bearer {token}"}
        else:
            headers = {}
        headers["Accept"] = "application/json"
        return headers

    async def _turn(self, gate: RateLimitGate, path: str, deadline: float) -> Ticket:
        """Wait for the call's turn at the endpoint's rate-limit gate; returns its ticket.

        Raises :class:`_OutOfTime` at once when the turn comes after
        ``deadline``: waiting could not make this call succeed in time.
        """
        before = self._clock()
        try:
            ticket = await gate.acquire(deadline)
        except OutOfTime as out:
            raise _OutOfTime(
                RateLimited(
                    "the API quota of this endpoint is used up; capacity returns in"
                    f" {out.delay_s:.0f} s",
                    reset_s=out.delay_s,
                    endpoint=path,
                )
            ) from None
        if self._clock() > before:
            self.stats.endpoint(path).gate_waits += 1
        return ticket

    async def _post(
        self, path: str, stats: EndpointStats, token: str | None, deadline: float, **kw: Any
    ) -> Reply:
        """POST within the concurrency bound at the call's turn; returns the answer read.

        Headers are built inside the bound so an HMAC date is never stale when
        sent. Raises :class:`TransportError` when no complete response arrives.
        """
        gate = self.gate(path)
        while True:
            ticket = await self._turn(gate, path, deadline)
            try:
                async with self._sem:
                    # The gate may have changed (a 429, a probe under way) while this
                    # call queued for a slot: if so it asks for a new turn.
                    if not gate.claim(ticket):
                        continue
                    return await self._send(gate, ticket, path, stats, token, deadline, **kw)
            finally:
                gate.give_up(ticket)

    async def _send(
        self,
        gate: RateLimitGate,
        ticket: Ticket,
        path: str,
        stats: EndpointStats,
        token: str | None,
        deadline: float,
        **kw: Any,
    ) -> Reply:
        """Send one claimed request and read its answer; settles the ticket with it (or none).

        The whole exchange, body included, must end within ``timeout_s`` and
        before ``deadline`` (a server dripping bytes is cut off); the body is
        read up to the account's size cap. Raises :class:`TransportError`
        (retryable) when no complete answer arrives in time or the connection
        fails, and :class:`ResponseTooLarge` past the cap.
        """
        response: httpx.Response | None = None
        request_id: str | None = None
        limit = exchange_limit(self.settings.timeout_s, deadline - self._clock())
        try:
            headers = self._headers(path, token)
            if "content" in kw:
                headers["Content-Type"] = "application/json"
            request_id = headers.get("x-mc-req-id")
            stats.requests += 1
            request = self._http.build_request("POST", path, headers=headers, **kw)
            async with asyncio.timeout(limit):
                response = await self._http.send(request, stream=True)
                request_id = response.headers.get("x-mc-req-id") or request_id
                self.last_date = response.headers.get("date") or self.last_date
                body = await read_body(
                    response,
                    self.settings.max_response_bytes,
                    endpoint=path,
                    request_id=request_id,
                )
        except (TimeoutError, httpx.TimeoutException):
            raise TransportError(
                f"no complete response within {limit:g} s (timeout_s {self.settings.timeout_s:g},"
                f" at most the call's remaining retry.max_total_s)",
                endpoint=path,
                retryable=True,
                request_id=request_id,
            ) from None
        except httpx.TransportError as exc:
            raise transport_error(exc, path, request_id) from None
        finally:
            # Whatever happened to the body, the headers (if any came) still tell the gate.
            throttled = response is not None and response.status_code == 429
            gate.settle(ticket, None if response is None else self._rate(response), throttled)
        if response.status_code == 429:
            stats.throttled += 1
        return Reply(response.status_code, response.headers, body, request_id)

    async def _attempt(
        self, path: str, content: bytes, accept: Accept | None, deadline: float
    ) -> Envelope:
        """Make one HTTP attempt of an API call (sent by ``deadline``) and interpret it."""
        stats = self.stats.endpoint(path)
        token = await self._bearer()
        reply = await self._post(path, stats, token, deadline, content=content)
        status, request_id = reply.status, reply.request_id
        ctx: dict[str, Any] = {"endpoint": path, "status": status, "request_id": request_id}
        body, why = _decode(reply.body)
        if status == 401 and token is not None:
            raise _TokenRejected(token, status, request_id)
        if status < 200 or status >= 300:
            raise http_error(status, body, ctx, self._signer is not None, self._rate(reply))
        if body is _NOT_JSON:
            raise MalformedResponse(why, retryable=True, **ctx)
        envelope = parse_envelope(body, endpoint=path, status=status, request_id=request_id)
        check_items(len(envelope.data), self.settings.max_items, "data[]", ctx)
        failed = [f for f in envelope.fail if accept is None or not accept(f)]
        if not failed:
            return envelope
        codes = {e.code for f in failed for e in f.errors}
        if TOKEN_EXPIRED in codes and token is not None:
            raise _TokenRejected(token, status, request_id)
        raise failure_error(tuple(failed), ctx)

    def _rate(self, response: httpx.Response | Reply) -> RateLimitInfo:
        return RateLimitInfo.from_headers(response.headers)

    async def _fetch_token(self) -> tuple[str, float]:
        """Obtain an OAuth2 access token (retried like any call); returns (token, expires_in)."""
        path = self.settings.endpoints.token
        token, expires_in = await self._with_retries(
            path, lambda deadline: self._token_attempt(path, deadline)
        )
        self.stats.tokens_issued += 1
        # From now on the token is masked wherever it might be echoed back.
        REDACTOR.add_token(token)
        log.debug("mimecast_token_issued", endpoint=path, expires_in=expires_in)
        return token, expires_in

    async def _token_attempt(self, path: str, deadline: float) -> tuple[str, float]:
        creds = self.settings.credentials
        assert isinstance(creds, OAuthCredentials)
        stats = self.stats.endpoint(path)
        form = {
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "grant_type": "client_credentials",
        }
        reply = await self._post(path, stats, None, deadline, data=form)
        status, request_id = reply.status, reply.request_id
        ctx: dict[str, Any] = {"endpoint": path, "status": status, "request_id": request_id}
        body, why = _decode(reply.body)
        if status in (400, 401, 403):
            code = body.get("error") if isinstance(body, dict) else None
            raise AuthenticationError(
                f"account {self.settings.name!r}: the OAuth token request was rejected:"
                " check client_id and client_secret and that the API 2.0 application is enabled",
                code=code if isinstance(code, str) else None,
                **ctx,
            )
        if status < 200 or status >= 300:
            raise http_error(status, body, ctx, False, self._rate(reply))
        if body is _NOT_JSON:
            # A 200 without a JSON body is most likely a broken proxy: transient.
            raise MalformedResponse(f"token response: {why}", retryable=True, **ctx)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise MalformedResponse("token response has no access_token", **ctx)
        expires = body.get("expires_in")
        if isinstance(expires, str) and expires.isdigit():
            expires = int(expires)
        lifetime = float(expires) if isinstance(expires, (int, float)) and expires > 0 else None
        return token, lifetime or DEFAULT_TOKEN_LIFETIME_S


_NOT_JSON: Any = object()


def _decode(content: bytes) -> tuple[Any, str]:
    """Return the decoded JSON body and ``""``, or ``_NOT_JSON`` and why it is not JSON."""
    try:
        return decode_json(content), ""
    except NotJson as exc:
        return _NOT_JSON, str(exc)
