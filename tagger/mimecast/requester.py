"""One authenticated, rate-limited, retried POST to Mimecast: the client's engine room.

:class:`Requester` owns the policy every endpoint shares: authentication (an
:class:`httpx.Auth` per API version, see :mod:`tagger.mimecast.httpauth`),
mapping HTTP outcomes to typed errors, and retries with backoff. Each failed
attempt is classified into one :class:`~tagger.mimecast.retry.Failure` and
one code path records it and waits. Sending itself (rate-limit gates,
connection slots, bounds) is :mod:`tagger.mimecast.exchange`. It never logs
or raises a header value, a token or a secret.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import httpx
import structlog

from tagger.logs.redact import REDACTOR
from tagger.mimecast.auth import HmacSigner, TokenCache
from tagger.mimecast.clearance import Clearance
from tagger.mimecast.envelope import Envelope, check_items, parse_envelope
from tagger.mimecast.errors import (
    AuthenticationError,
    FailItem,
    MalformedResponse,
    MimecastError,
    QuotaDeferred,
    RateLimited,
    TransportError,
)
from tagger.mimecast.exchange import Exchange
from tagger.mimecast.httpauth import ApiAuth, BearerAuth, HmacAuth, TokenUnavailable
from tagger.mimecast.httperrors import failure_error, http_error
from tagger.mimecast.oauth import read_token, token_form
from tagger.mimecast.ratelimit import RateLimitGate, RateLimitInfo
from tagger.mimecast.retry import Failure, RetryBudget, backoff_delay
from tagger.mimecast.settings import AccountSettings, HmacCredentials, OAuthCredentials
from tagger.mimecast.sharedgate import GateRegistry
from tagger.mimecast.stats import ClientStats, EndpointStats
from tagger.mimecast.transfer import NOT_JSON, Reply

log = structlog.get_logger("tagger.mimecast")

T = TypeVar("T")
Accept = Callable[[FailItem], bool]

TOKEN_EXPIRED = "token_expired"  # noqa: S105 - an error code, not a password


class Requester:
    """Sends envelope requests for one account; see the module docstring.

    ``gates`` is the registry of rate-limit gates shared with the other
    accounts of its quota (None: gates of its own).
    """

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
        gates: GateRegistry | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._uniform = uniform
        self.stats = stats
        self._exchange = Exchange(
            settings, http, clock=clock, sleep=sleep, stats=stats, gates=gates
        )
        creds = settings.credentials
        self._hmac = isinstance(creds, HmacCredentials)
        self._auth: ApiAuth
        if isinstance(creds, HmacCredentials):
            self._auth = HmacAuth(HmacSigner(creds, utcnow), httpx.URL(settings.base_url).path)
        else:
            self._auth = BearerAuth(TokenCache(self._fetch_token, clock))

    @property
    def last_date(self) -> str | None:
        """Return the last ``Date`` header the server sent (None before any answer)."""
        return self._exchange.last_date

    def gate(self, path: str) -> RateLimitGate:
        """Return the rate-limit gate of ``path`` (shared by concurrent calls)."""
        return self._exchange.gate(path)

    async def call(
        self,
        path: str,
        body: dict[str, Any],
        accept: Accept | None = None,
        clearance: Clearance | None = None,
    ) -> Envelope:
        """POST ``body`` as JSON to ``path`` and return the checked envelope.

        ``accept`` marks ``fail[]`` items that count as success (e.g. "already
        applied"). ``clearance`` is entered right before each attempt is sent
        (:mod:`tagger.mimecast.clearance`). Raises a :class:`MimecastError`
        subclass when the call fails for good (retries exhausted or not
        retryable), and :class:`Withheld` when the clearance refused an attempt.
        """
        content = json.dumps(body, separators=(",", ":")).encode("utf-8")
        return await self._with_retries(
            path, lambda budget: self._attempt(path, content, accept, budget, clearance)
        )

    async def _with_retries(self, path: str, attempt: Callable[[RetryBudget], Awaitable[T]]) -> T:
        """Run ``attempt(budget)`` until it succeeds, a failure is final, or the budget is spent.

        A 429 spends no attempt: the call asks the rate-limit gate for its next
        turn, as long as its cycle has time (:mod:`tagger.mimecast.pacing`).
        Other transient failures spend one each and wait a jittered backoff
        (outside any connection slot). Raises :class:`QuotaDeferred` (not a
        failure) when the call's turn would come after its cycle's bound.
        """
        stats = self.stats.endpoint(path)
        stats.calls += 1
        budget = RetryBudget(self.settings.retry, self._clock())
        while True:
            budget.attempts += 1
            try:
                return await attempt(budget)
            except QuotaDeferred:
                raise  # pacing, not a failure: counted by the exchange
            except (MimecastError, TokenUnavailable) as exc:
                failure = _classify(exc)
            stats.errors[type(failure.error).__name__] += 1
            delay = 0.0
            if failure.throttled:
                budget.throttled()
            elif failure.retry:
                if isinstance(failure.error, TransportError) and failure.error.connect:
                    budget.connect_failures += 1
                delay = backoff_delay(self.settings.retry, budget.attempts, self._uniform)
            # A 429's wait is the gate's to pace (as long as the cycle has time), not the budget's.
            if failure.throttled:
                within = not budget.exhausted_by_throttling()
            else:
                within = budget.allows(self._clock(), delay)
            if not (failure.retry and within):
                stats.failed += 1
                raise failure.error from None
            stats.retries += 1
            self._log_retry(path, failure, budget, delay)
            if delay:
                await self._sleep(delay)

    def _log_retry(self, path: str, failure: Failure, budget: RetryBudget, delay: float) -> None:
        """Log one retry: a 429 with the gate's wait, anything else with its backoff."""
        err = failure.error
        if failure.throttled:
            log.warning(
                "mimecast_rate_limited",
                endpoint=path,
                status=429,
                throttled=budget.throttles,
                delay_s=round(self.gate(path).delay(), 3),
            )
            return
        log.warning(
            "mimecast_retry",
            endpoint=path,
            status=err.status,
            code=err.code,
            error=type(err).__name__,
            attempt=budget.attempts,
            delay_s=round(delay, 3),
        )

    async def _attempt(
        self,
        path: str,
        content: bytes,
        accept: Accept | None,
        budget: RetryBudget,
        clearance: Clearance | None = None,
    ) -> Envelope:
        """Make one HTTP attempt of an API call (within ``budget``) and interpret it."""
        stats = self.stats.endpoint(path)
        # A token that is due is fetched before the call queues for a turn and a slot.
        await self._auth.ready()
        reply = await self._exchange.post(
            path, budget, auth=self._auth, clearance=clearance, content=content
        )
        self._count_refresh(path, stats, reply)
        status, request_id = reply.status, reply.request_id
        ctx: dict[str, Any] = {"endpoint": path, "status": status, "request_id": request_id}
        body, why = reply.decoded()
        if status == 401 and not self._hmac:
            # The auth flow already refreshed the token once and resent the request.
            raise AuthenticationError(
                "the access token was rejected again right after a refresh: check"
                " that the API application is enabled and has this product",
                **ctx,
            )
        if status < 200 or status >= 300:
            rate = RateLimitInfo.from_headers(reply.headers)
            raise http_error(status, body, ctx, self._hmac, rate)
        if body is NOT_JSON:
            raise MalformedResponse(why, retryable=True, **ctx)
        envelope = parse_envelope(body, endpoint=path, status=status, request_id=request_id)
        check_items(len(envelope.data), self.settings.max_items, "data[]", ctx)
        failed = [f for f in envelope.fail if accept is None or not accept(f)]
        if not failed:
            return envelope
        codes = {e.code for f in failed for e in f.errors}
        if TOKEN_EXPIRED in codes and not self._hmac and reply.request is not None:
            # Expired although HTTP said 200: the next attempt fetches a new token.
            self._auth.reject(reply.request)
            raise AuthenticationError(
                "the access token has expired (fail[] token_expired)",
                code=TOKEN_EXPIRED,
                retryable=True,
                **ctx,
            )
        raise failure_error(tuple(failed), ctx)

    def _count_refresh(self, path: str, stats: EndpointStats, reply: Reply) -> None:
        """Count and log a resend of the auth flow: the token was refreshed after a 401."""
        if reply.resent:
            stats.token_refreshes += reply.resent
            log.info("mimecast_token_refresh", endpoint=path, status=401)

    async def _fetch_token(self) -> tuple[str, float]:
        """Obtain an OAuth2 access token (retried like any call); returns (token, expires_in)."""
        path = self.settings.endpoints.token
        token, expires_in = await self._with_retries(
            path, lambda budget: self._token_attempt(path, budget)
        )
        self.stats.tokens_issued += 1
        # From now on the token is masked wherever it might be echoed back.
        REDACTOR.add_token(token)
        log.debug("mimecast_token_issued", endpoint=path, expires_in=expires_in)
        return token, expires_in

    async def _token_attempt(self, path: str, budget: RetryBudget) -> tuple[str, float]:
        """Make one token request; it may run while the call that needs it holds a slot."""
        creds = self.settings.credentials
        assert isinstance(creds, OAuthCredentials)
        form = token_form(creds)
        reply = await self._exchange.post(path, budget, auth=None, slot=False, data=form)
        return read_token(reply, path, self.settings.name)


def _classify(exc: Exception) -> Failure:
    """Return what a failed attempt means for the call.

    Given a :class:`MimecastError` or :class:`TokenUnavailable`.
    """
    if isinstance(exc, TokenUnavailable):
        # The token request already had its own retries: do not multiply them.
        return Failure(exc.error, retry=False)
    assert isinstance(exc, MimecastError)
    if isinstance(exc, RateLimited) and exc.status == 429:
        # Backpressure, not a failure: the gate holds the call back until there is room.
        return Failure(exc, retry=True, throttled=True)
    return Failure(exc, retry=exc.retryable)
