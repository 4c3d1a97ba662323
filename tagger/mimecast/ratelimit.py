"""Rate-limit headers and the per-endpoint gate that paces calls to the service's refill.

Mimecast's limits are a leaky bucket: ``X-RateLimit-Limit`` is the size of the
bucket, ``X-RateLimit-Remaining`` the requests left in it, and
``X-RateLimit-Reset`` the milliseconds until the *next one* request is added
back (at least one returns every such interval). It is not the time until the
whole quota returns: releasing every waiting call at the reset bursts straight
into 429s.

:class:`RateLimitGate` mirrors that bucket on the client side as a token
bucket kept in "theoretical arrival time" form (GCRA): it learns the bucket's
size and its refill interval from the headers, gives every call its own send
time (a burst of the credit left, then one call per interval) and re-aligns
with every response. A 429 empties it until the wait the server asked for.
Headers that are missing or garbled mean no pacing; every wait is capped at
``max_wait_s`` (after which one call probes again), so an absurd header can
neither stall the client for ever nor make it spin.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog

from tagger.mimecast.backoff import doubling_delay
from tagger.mimecast.refill import ObservedRefill

log = structlog.get_logger("tagger.mimecast")

# Waits after a 429 that names none (no Reset, no Retry-After, no interval
# learned yet): doubling from the first to the last, one probe at a time.
FALLBACK_WAIT_S = 1.0
FALLBACK_MAX_S = 60.0
DEFAULT_MAX_WAIT_S = 900.0


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    """Return a header as a non-negative int, or None when absent or garbled."""
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = int(float(raw.strip()))
    except (ValueError, OverflowError):  # garbled, NaN or infinite ("1e309")
        return None
    return max(value, 0)


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """The rate-limit headers of one response (each None when absent)."""

    limit: int | None = None
    remaining: int | None = None
    reset_s: float | None = None
    retry_after_s: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo:
        """Parse the headers (case-insensitive mapping, e.g. ``httpx.Headers``)."""
        reset_ms = _int_header(headers, "x-ratelimit-reset")
        retry_after = _int_header(headers, "retry-after")
        return cls(
            limit=_int_header(headers, "x-ratelimit-limit"),
            remaining=_int_header(headers, "x-ratelimit-remaining"),
            reset_s=reset_ms / 1000.0 if reset_ms is not None else None,
            retry_after_s=float(retry_after) if retry_after is not None else None,
        )

    def wait_s(self) -> float:
        """Return the least time to wait before the next call (0 when none is asked)."""
        return max(self.reset_s or 0.0, self.retry_after_s or 0.0)


@dataclass(slots=True)
class Ticket:
    """One call's place in the gate: its send time, and the gate state it was given in."""

    at: float
    epoch: int
    probe: bool = False
    claimed: bool = False  # sent, and not settled yet
    spent: bool = False  # claimed or given up: it counts no longer as waiting
    sent: float = 0.0  # when it was claimed (sent)


class OutOfTime(Exception):
    """The gate cannot let a call out before its deadline; ``delay_s`` is the wait it needs."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(f"capacity returns in {delay_s:.0f} s")
        self.delay_s = delay_s


class Stalled(Exception):
    """The endpoint has refused every call for longer than the caller allows: out of service.

    A backlog is paced; an endpoint that accepts nothing at all is not busy
    but refusing, and its calls fail (transiently) instead of queueing for ever.
    """

    def __init__(self, refused_s: float) -> None:
        super().__init__(f"refused every call for {refused_s:.0f} s")
        self.refused_s = refused_s


class RateLimitGate:
    """Paces the calls of one endpoint to the service's refill (monotonic clock).

    Use: ``ticket = await gate.acquire(deadline)``; then, holding a connection
    slot, ``gate.claim(ticket)`` (False: acquire again) and after the exchange
    ``gate.settle(ticket, info, throttled)`` (``info`` None when no response
    came). Until its first response the gate lets one call out at a time.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        *,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        name: str = "",
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self.max_wait_s = max_wait_s
        self.name = name
        self.capacity: int | None = None  # the bucket's size
        self.interval: float | None = None  # seconds between two requests added back
        self.pacing = False  # the last headers let the bucket be modelled
        self.tat = 0.0  # theoretical arrival time: the bucket is empty until tat - burst
        self.open_at = 0.0  # no call before this (a 429's wait, Retry-After)
        self.probing = True  # one call at a time until a response says more
        self.in_flight = 0
        self.capped = 0  # waits cut to max_wait_s
        self.last = RateLimitInfo()
        self._probe_out = False
        self._epoch = 0
        self._reserved = 0  # tickets of this epoch not yet claimed or given up
        self._streak = 0  # consecutive 429s that named no wait
        # Headers silent: the refill is learned from accepted and refused calls.
        self.observed = ObservedRefill()
        self.learned = False
        self._paced_at = 0.0  # when a refusal last set the learned interval
        self._refused_since: float | None = None  # first 429 since the last accepted call
        # The interval was read from a Reset that is part of one (Reset 0 while requests
        # remain): measured again from two empty buckets (see _emptied).
        self._partial = False
        # The interval was read from a full bucket's first dip: the service's refill exactly
        # (not a lower bound from a partial Reset, nor a measure of this client's own calls).
        self.exact = False
        self._served = 0  # responses with headers that spent a request
        self._dry: tuple[float, int] | None = None  # (next request back, _served) when empty
        self._waiters: list[asyncio.Future[None]] = []

    # -- what a call would wait -------------------------------------------------

    def refill_per_s(self) -> float | None:
        """Return the refill the gate paces to, in calls per second (None: not known).

        None while the service has not said (or shown) that it limits this
        endpoint, and while a silent server's refill is being measured.
        """
        if not self.pacing or not self.interval or (self.learned and self.observed.measuring):
            return None
        return 1.0 / self.interval

    def _burst(self) -> float:
        return (max(self.capacity or 1, 1) - 1) * (self.interval or 0.0)

    def next_slot(self, now: float) -> float:
        """Return the earliest time a call asking now could be sent."""
        return self.slot_after(now, 0)

    def slot_after(self, now: float, turns: int) -> float:
        """Return the earliest time a call asking now could be sent after ``turns`` more calls."""
        slot = max(now, self.open_at)
        if self.pacing and self.interval:
            slot = max(slot, self.tat + turns * self.interval - self._burst())
        return slot

    def delay(self) -> float:
        """Return how long a call made now would have to wait (0 when it may go)."""
        now = self._clock()
        return self.next_slot(now) - now

    # -- the call's side ----------------------------------------------------------

    async def acquire(self, deadline: float, stall_s: float = math.inf) -> Ticket:
        """Wait for this call's turn; returns its ticket.

        Raises :class:`OutOfTime` at once when the turn comes after ``deadline``,
        and :class:`Stalled` when the endpoint has refused every call (accepting
        none) for longer than ``stall_s``.
        """
        waited = False
        while True:
            now = self._clock()
            if self.refusing_for(now) > stall_s:
                raise Stalled(self.refusing_for(now))
            if self.probing and self._probe_out:
                # Another call is finding out whether capacity is back: wait for its
                # answer (bounded: a claimed call is always settled, by its timeout at worst).
                if now >= deadline:
                    raise OutOfTime(self.next_slot(now) - now)
                await self._pause(None if stall_s == math.inf else stall_s)
                continue
            slot = self.next_slot(now)
            if slot > deadline:
                raise OutOfTime(slot - now)
            ticket = self._reserve(now, slot)
            try:
                while ticket.epoch == self._epoch and (now := self._clock()) < ticket.at:
                    waited = True
                    await self._pause(ticket.at - now)
            except BaseException:
                self.give_up(ticket)
                raise
            if ticket.epoch == self._epoch:
                if waited:
                    log.debug("mimecast_rate_limit_pause", endpoint=self.name)
                return ticket

    def refusing_for(self, now: float) -> float:
        """Return how long the endpoint has refused every call (0 once it accepted one since)."""
        return 0.0 if self._refused_since is None else now - self._refused_since

    def _reserve(self, now: float, slot: float) -> Ticket:
        """Give a call the send time ``slot`` and count it against the bucket."""
        if self.pacing and self.interval:
            self.tat = max(self.tat, slot) + self.interval
        self._reserved += 1
        return Ticket(slot, self._epoch)

    def give_up(self, ticket: Ticket) -> None:
        """Return an unclaimed ticket (its call is not sent after all)."""
        if ticket.epoch == self._epoch and not ticket.claimed and not ticket.spent:
            self._reserved -= 1
        ticket.spent = True

    def claim(self, ticket: Ticket) -> bool:
        """Mark the call as sent now; False (ticket given up) when the gate changed since."""
        stale = ticket.epoch != self._epoch or self._clock() < self.open_at
        if stale or ticket.spent or (self.probing and self._probe_out):
            self.give_up(ticket)
            return False
        if self.probing:
            self._probe_out = ticket.probe = True
        self._reserved -= 1
        ticket.claimed = ticket.spent = True
        ticket.sent = self._clock()
        self.in_flight += 1
        return True

    def settle(self, ticket: Ticket, info: RateLimitInfo | None, throttled: bool) -> None:
        """Record the outcome of a claimed call (``info`` None: no response arrived)."""
        if not ticket.claimed:
            return
        ticket.claimed = False
        self.in_flight -= 1
        if ticket.probe:
            self._probe_out = False
        if info is not None:
            self._observe(info, throttled, ticket.sent)
        self._notify()

    # -- learning from the headers --------------------------------------------

    def _cap(self, seconds: float, what: str) -> float:
        """Return ``seconds`` cut to ``max_wait_s``; logs the first cut of this gate."""
        if seconds <= self.max_wait_s:
            return seconds
        if not self.capped:
            log.warning(
                "mimecast_rate_limit_wait_capped",
                endpoint=self.name,
                header=what,
                asked_s=round(seconds),
                max_wait_s=self.max_wait_s,
            )
        self.capped += 1
        self.probing = True  # after the cap, one call finds out whether it is over
        return self.max_wait_s

    def _observe(self, info: RateLimitInfo, throttled: bool, sent: float = 0.0) -> None:
        self.last = info
        now = self._clock()
        reset = self._cap(info.reset_s, "reset") if info.reset_s else None
        if info.retry_after_s:
            self.open_at = max(self.open_at, now + self._cap(info.retry_after_s, "retry-after"))
        if throttled:
            if self._refused_since is None:
                self._refused_since = now
            self._throttled(now, info, reset, sent)
            return
        self._refused_since = None
        self._streak = 0
        self.probing = False
        if info.remaining is None:
            changed = self.observed.accepted_call(now, self.interval if self.learned else None)
            if changed is not None:
                self.interval = changed
                self.exact = False
            # While the refill is measured, calls go one at a time.
            self.probing = self.learned and self.observed.measuring
            return
        self.learned = False
        self._served += 1
        floor = info.limit if info.limit is not None else (self.capacity or 0)
        self.capacity = max(floor, info.remaining + 1, 1)
        if reset is not None:
            # Right after a full bucket is dipped into, the reset is the whole interval;
            # otherwise it is part of one, so the longest seen is the best estimate.
            full = info.remaining + 1 >= self.capacity
            if full or not self.interval or reset > self.interval:
                self._partial = not full
            if full:
                self.exact = True
            elif not self.interval or reset > self.interval:
                self.exact = False
            self.interval = reset if full or not self.interval else max(self.interval, reset)
            if info.remaining == 0:
                self._emptied(now + reset)
        if info.remaining > 0:
            self._dry = None  # not empty since: the count no longer measures the refill
        if not self.interval:
            # The refill is not known yet (Reset reads 0 while requests remain): the
            # calls in flight will take what is left, so new ones wait for an answer
            # that says more rather than run into the empty bucket.
            if info.remaining <= self.in_flight:
                self.probing = True
            return
        self.pacing = True
        self._sync(now, info.remaining, reset if reset is not None else self.interval)

    def _emptied(self, back: float) -> None:
        """The bucket is empty and one request is back at ``back``: measure the interval.

        Between two empty buckets (and never more than empty in between) the
        service refilled exactly the requests it served, so the interval is the
        time between the two "one back" instants over the requests served.
        Used while the interval was only read from a partial Reset (too short:
        paced on it, calls run into 429s).
        """
        if not self._partial or self._dry is None:
            self._dry = (back, self._served) if self._partial else None
            return
        first, count = self._dry
        served = self._served - count
        if served >= 1 and back > first:
            self.interval = max(self.interval or 0.0, (back - first) / served)
            self._partial = False
            self.exact = False  # what this client was served: the refill if it is alone
            self._dry = None

    def _sync(self, now: float, remaining: int, reset: float) -> None:
        """Align the bucket with the service's: ``remaining`` left, the next back in ``reset``."""
        interval = self.interval or 0.0
        server_tat = now + (max(self.capacity or 1, 1) - remaining - 1) * interval + reset
        if server_tat > self.tat:
            # Emptier than we thought (another client shares the quota, or the
            # interval was underestimated): later turns move back.
            self.tat = server_tat
            self._bump()
        elif server_tat + (self.in_flight + self._reserved) * interval < self.tat - interval / 2:
            # Fuller than we thought (e.g. a whole window came back): calls
            # waiting for later turns may go earlier.
            self.tat = server_tat + self.in_flight * interval
            self._bump()

    def _throttled(
        self, now: float, info: RateLimitInfo, reset: float | None, sent: float = 0.0
    ) -> None:
        """A 429: the bucket is empty until the wait the service named (or a fallback)."""
        wait = max(reset or 0.0, self.open_at - now)
        if info.remaining is None and info.limit is None and not info.reset_s:
            self._refused_silently(now, wait, sent)
            return
        if wait <= 0:
            if self.interval:
                wait = self.interval
            else:
                fallback = doubling_delay(FALLBACK_WAIT_S, self._streak, FALLBACK_MAX_S)
                wait = self._cap(fallback, "fallback")
            self._streak += 1
        if info.limit is not None:
            self.capacity = max(info.limit, 1)
        if not self.interval and reset:
            self.interval = reset  # provisional: a served response will correct it
            self.exact = False
            self._partial = True
        if reset:
            self._emptied(now + reset)
        self.open_at = max(self.open_at, now + wait)
        if self.pacing and self.interval:
            # The service says the bucket is empty: it holds one request again at
            # ``now + wait``, and the calls still in flight will each take one.
            # Set, not raised: the turns handed out so far counted on a fuller
            # bucket, and every one of them asks again (``_bump``).
            self.tat = now + wait + self._burst() + self.in_flight * self.interval
        else:
            self.probing = True
        self._bump()

    def _refused_silently(self, now: float, wait: float, sent: float) -> None:
        """A 429 without rate-limit headers: pace at the refill observed (see :mod:`refill`).

        ``wait`` is what the service asked for (``Retry-After``), 0 if nothing;
        ``sent`` when the refused call went out: a call sent before the pace
        last changed was refused for the old pace, and changes nothing more.
        """
        hold = wait
        if not self.learned or sent >= self._paced_at:
            pace = self.observed.refused(now, self.interval if self.learned else None, wait)
            self.interval = pace.interval
            self.exact = False
            self._paced_at = now
            hold = max(hold, pace.wait)
            log.debug(
                "mimecast_refill_observed",
                endpoint=self.name,
                measuring=pace.one_at_a_time,
                calls_per_s=None if pace.one_at_a_time else round(1.0 / pace.interval, 3),
                accepted=self.observed.accepted,
                wait_s=round(hold, 3),
            )
        assert self.interval is not None
        self.learned = self.pacing = True
        self.capacity = 1
        self.probing = self.observed.measuring
        hold = max(hold, self.interval)
        self.open_at = max(self.open_at, now + hold)
        self.tat = now + hold + self.in_flight * self.interval
        self._bump()

    # -- waiting ------------------------------------------------------------------

    def _bump(self) -> None:
        """Invalidate every ticket given so far: their holders ask again."""
        self._epoch += 1
        self._reserved = 0
        self._notify()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def _pause(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (at most ``max_wait_s``) or until the gate changes.

        ``None``: only until the gate changes.
        """
        changed = asyncio.get_running_loop().create_future()
        self._waiters.append(changed)
        try:
            if seconds is None:
                await changed
                return
            seconds = min(max(seconds, 0.0), self.max_wait_s)
            if math.isnan(seconds):
                seconds = 0.0
            sleeper = asyncio.ensure_future(self._sleep(seconds))
            try:
                await asyncio.wait({sleeper, changed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
        finally:
            if changed in self._waiters:
                self._waiters.remove(changed)
