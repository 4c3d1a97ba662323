"""One HTTP exchange with Mimecast, at its turn and within bounds.

:class:`Exchange` owns the account's connection slots and its per-endpoint
rate-limit gates: its own, or those of its quota group in a shared
:class:`~tagger.mimecast.sharedgate.GateRegistry`, where the group's accounts
take turns. :meth:`Exchange.post` waits for the call's turn at the
gate, takes a slot, sends the request (authenticated by the given
:class:`httpx.Auth` as it goes out), reads the answer within the time and
size bounds and tells the gate what the service said. It neither retries
nor interprets the answer, and never logs or raises a header value.

When the registry carries a quota shared with other processes
(:mod:`tagger.mimecast.crossnode`), a call takes its turn there too, after
its place in its quota group and before its turn at the gate, and every
answer tells it what the gate learned.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx

from tagger.mimecast.clearance import Clearance
from tagger.mimecast.errors import QuotaDeferred, RateLimited, TransportError
from tagger.mimecast.httperrors import transport_error
from tagger.mimecast.pacing import turn_deadline
from tagger.mimecast.quota import quota_fingerprint, quota_key
from tagger.mimecast.ratelimit import OutOfTime, RateLimitGate, RateLimitInfo, Stalled, Ticket
from tagger.mimecast.retry import RetryBudget
from tagger.mimecast.settings import AccountSettings
from tagger.mimecast.sharedgate import GateRegistry, SharedGate
from tagger.mimecast.slots import FIRST, NEXT, Slots
from tagger.mimecast.stats import ClientStats, EndpointStats
from tagger.mimecast.transfer import Reply, exchange_limit, read_body


class Exchange:
    """Sends the requests of one account (see the module docstring).

    Given the settings, the httpx client, the monotonic ``clock``, ``sleep``
    and the counters to keep; ``gates`` is the registry of gates shared with
    the other accounts of its quota (None: gates of its own).
    """

    def __init__(
        self,
        settings: AccountSettings,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        stats: ClientStats,
        gates: GateRegistry | None = None,
    ) -> None:
        self.settings = settings
        self._http = http
        self._clock = clock
        self._sleep = sleep
        self.stats = stats
        self._slots = Slots(settings.concurrency)
        # Calls that finish work already paid for take a free slot before new reads.
        self._first = frozenset({settings.endpoints.apply_smart_tag})
        self._gates: dict[str, SharedGate] = {}
        self._member = None if gates is None else gates.join(quota_key(settings))
        # The quota shared with other processes, and this account's bucket in it.
        self._cross = None if gates is None else gates.cross
        self._bucket = quota_fingerprint(settings) if self._cross is not None else ""
        # The last ``Date`` header the server sent: preflight compares the host clock to it.
        self.last_date: str | None = None

    def gate(self, path: str) -> RateLimitGate:
        """Return the rate-limit gate of ``path`` (shared by concurrent calls)."""
        return self._shared(path).gate

    def _shared(self, path: str) -> SharedGate:
        """Return the gate of ``path`` with the queues of its quota group's accounts."""
        shared = self._gates.get(path)
        if shared is None:
            if self._member is None:
                shared = SharedGate(self._new_gate(path), self._clock, lambda: 1)
            else:
                shared = self._member.shared(path, self._clock, lambda: self._new_gate(path))
            self._gates[path] = shared
        return shared

    def _new_gate(self, path: str) -> RateLimitGate:
        return RateLimitGate(
            self._clock, self._sleep, max_wait_s=self.settings.retry.max_wait_s, name=path
        )

    async def post(
        self,
        path: str,
        budget: RetryBudget,
        *,
        auth: httpx.Auth | None,
        slot: bool = True,
        clearance: Clearance | None = None,
        **kw: Any,
    ) -> Reply:
        """POST to ``path`` at the call's turn, within ``budget``; returns the answer read.

        ``kw`` is ``content=`` or ``data=`` for httpx. ``slot=False`` skips
        the connection slots: a token request runs while the call that needs
        the token may hold one (with one slot, waiting for it would never end);
        the pool keeps a connection beyond the slots for it. ``clearance`` is
        entered after every wait (turn, slot), right before the request goes
        out, and left once the exchange is over
        (:mod:`tagger.mimecast.clearance`). The time queued
        for the turn is added to ``budget.queued`` (it is not the call's to
        spend). Raises :class:`QuotaDeferred` when the turn would come after
        the cycle's bound, :class:`TransportError` when no complete answer
        arrives, :class:`ResponseTooLarge`, :class:`Withheld` when the
        clearance refused the send (nothing was sent), and whatever ``auth`` raises.
        """
        shared = self._shared(path)
        gate = shared.gate
        stats = self.stats.endpoint(path)
        # In a quota group the account's calls queue for their place at the gate.
        with self._queueing(path, budget):
            hold = await shared.enter(self, turn_deadline())
        try:
            if self._cross is not None:
                with self._queueing(path, budget):
                    await self._cross.turn(self._bucket, path, turn_deadline() - self._clock())
            while True:
                ticket = await self._turn(gate, path, budget)
                try:
                    priority = FIRST if path in self._first else NEXT
                    async with self._slots.hold(priority) if slot else _no_slot():
                        # The gate may have changed (a 429, a probe under way) while this
                        # call queued for a slot: if so it asks for a new turn.
                        if not gate.claim(ticket):
                            continue
                        hold.release()  # sent: the account's next call may ask for a turn
                        with contextlib.ExitStack() as cleared:
                            if clearance is not None:
                                try:
                                    cleared.enter_context(clearance())
                                except BaseException:
                                    gate.settle(ticket, None, False)  # claimed, never sent
                                    raise
                            return await self._send(
                                gate, ticket, path, stats, budget.deadline, auth, kw
                            )
                finally:
                    gate.give_up(ticket)
        finally:
            hold.release()

    async def _turn(self, gate: RateLimitGate, path: str, budget: RetryBudget) -> Ticket:
        """Wait for the call's turn at the endpoint's rate-limit gate; returns its ticket.

        The call may wait until the cycle's bound (:func:`turn_deadline`), and
        the wait is added to ``budget.queued``. Raises :class:`QuotaDeferred`
        at once when the turn would come after that bound, and
        :class:`RateLimited` when the endpoint has refused every call, accepting
        none, for longer than ``retry.max_total_s`` (out of service, not busy).
        """
        before = self._clock()
        with self._queueing(path, budget):
            ticket = await gate.acquire(turn_deadline(), self.settings.retry.max_total_s)
        if self._clock() > before:
            self.stats.endpoint(path).gate_waits += 1
        return ticket

    @contextlib.contextmanager
    def _queueing(self, path: str, budget: RetryBudget) -> Iterator[None]:
        """Time a wait for the call's turn into ``budget.queued``; translates how it ends.

        :class:`OutOfTime` becomes :class:`QuotaDeferred` (counted as deferred)
        and :class:`Stalled` becomes a retryable :class:`RateLimited`.
        """
        before = self._clock()
        try:
            yield
        except Stalled as out:
            # Not a backlog: the endpoint accepted nothing at all for a whole call budget.
            raise RateLimited(
                f"the endpoint {out}: it is refusing, not busy; the next run retries",
                endpoint=path,
                retryable=True,
            ) from None
        except OutOfTime as out:
            self.stats.endpoint(path).deferred += 1
            raise QuotaDeferred(
                f"deferred to the next cycle: this endpoint's quota has no turn before the"
                f" cycle's bound (about {out.delay_s:.0f} s of queued calls)",
                wait_s=out.delay_s,
                endpoint=path,
            ) from None
        finally:
            budget.queued += self._clock() - before

    async def _send(
        self,
        gate: RateLimitGate,
        ticket: Ticket,
        path: str,
        stats: EndpointStats,
        deadline: float,
        auth: httpx.Auth | None,
        kw: dict[str, Any],
    ) -> Reply:
        """Send one claimed request and read its answer; settles the ticket with it (or none).

        The whole exchange, body included (and any resend of the auth flow),
        must end within ``timeout_s`` and before ``deadline`` (a server
        dripping bytes is cut off); the body is read up to the account's size
        cap. Raises :class:`TransportError` (retryable) when no complete
        answer arrives in time or the connection fails, and
        :class:`ResponseTooLarge` past the cap.
        """
        response: httpx.Response | None = None
        limit = exchange_limit(self.settings.timeout_s, deadline - self._clock())
        headers = {"Accept": "application/json"}
        if "content" in kw:
            headers["Content-Type"] = "application/json"
        # The auth flow signs this very request as it goes out (HMAC date inside the slot).
        request = self._http.build_request("POST", path, headers=headers, **kw)
        stats.requests += 1
        try:
            async with asyncio.timeout(limit):
                response = await self._http.send(request, stream=True, auth=auth)
                self.last_date = response.headers.get("date") or self.last_date
                body = await read_body(
                    response,
                    self.settings.max_response_bytes,
                    endpoint=path,
                    request_id=_request_id(request, response),
                )
        except (TimeoutError, httpx.TimeoutException):
            raise TransportError(
                f"no complete response within {limit:g} s (timeout_s {self.settings.timeout_s:g},"
                f" at most the call's remaining retry.max_total_s)",
                endpoint=path,
                retryable=True,
                request_id=_request_id(request, response),
            ) from None
        except httpx.TransportError as exc:
            raise transport_error(
                exc,
                path,
                _request_id(request, response),
                url=self.settings.base_url,
                account=self.settings.name,
            ) from None
        finally:
            # Whatever happened to the body, the headers (if any came) still tell the gate.
            throttled = response is not None and response.status_code == 429
            info = None if response is None else RateLimitInfo.from_headers(response.headers)
            gate.settle(ticket, info, throttled)
            if self._cross is not None and info is not None:
                self._cross.learned(self._bucket, path, gate, info, throttled)
        resent = len(response.history)
        stats.requests += resent
        if response.status_code == 429:
            stats.throttled += 1
        request_id = _request_id(request, response)
        return Reply(response.status_code, response.headers, body, request_id, request, resent)


@contextlib.asynccontextmanager
async def _no_slot() -> AsyncIterator[None]:
    """Hold no slot (a token request)."""
    yield


def _request_id(request: httpx.Request, response: httpx.Response | None) -> str | None:
    """Return the request id the service echoed, else the one sent (HMAC), else None."""
    echoed: str | None = response.headers.get("x-mc-req-id") if response is not None else None
    sent: str | None = request.headers.get("x-mc-req-id")
    return echoed or sent
