"""Rate-limit headers and the per-endpoint gate that pauses calls until capacity returns.

Mimecast sends ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (milliseconds until capacity returns) on every response.
When a successful response says nothing remains, later calls to that endpoint
wait for the reset instead of provoking a 429; a 429 closes the gate too, so
every concurrent caller waits, not only the one that was refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

# Bound on gate re-checks: each pass waits for the current reset, so this is
# only reached if the gate keeps being pushed back by fresh 429s.
_MAX_GATE_PASSES = 50


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


class RateLimitGate:
    """Paces calls to one endpoint from its rate-limit headers (monotonic clock).

    It remembers how many calls the service said remain in the current window
    and spends one per request sent, so that concurrent callers stop at zero
    together instead of each finding out through a 429. The count restarts
    when the window's reset time passes.
    """

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]):
        self._clock = clock
        self._sleep = sleep
        self.open_at = 0.0
        self.credit: int | None = None
        self.window_ends = 0.0
        self.last: RateLimitInfo = RateLimitInfo()

    def close_for(self, seconds: float) -> None:
        """Keep the gate closed for at least ``seconds`` from now."""
        if seconds > 0:
            self.open_at = max(self.open_at, self._clock() + seconds)

    def observe(self, info: RateLimitInfo, throttled: bool) -> None:
        """Record a response's headers; close the gate when capacity is exhausted."""
        self.last = info
        now = self._clock()
        # Only answers that were served count the window's credit: a 429's reset
        # may describe a shorter burst limit, and merging it with the window's
        # would keep the gate shut until the whole (long) window ends.
        if not throttled and info.remaining is not None and info.reset_s is not None:
            if now >= self.window_ends or self.credit is None:
                self.credit = info.remaining
            else:
                # Same window: responses arrive out of order, trust the lowest count.
                self.credit = min(self.credit, info.remaining)
            self.window_ends = now + info.reset_s
        if throttled or info.remaining == 0:
            self.close_for(info.wait_s())

    def take(self) -> bool:
        """Spend one call of the window's credit; returns False (and closes) when none is left."""
        if self.credit is None:
            return True
        if self._clock() >= self.window_ends:
            self.credit = None
            return True
        if self.credit <= 0:
            self.open_at = max(self.open_at, self.window_ends)
            return False
        self.credit -= 1
        return True

    def delay(self) -> float:
        """Return how long a call made now would have to wait (0 when open)."""
        return max(self.open_at - self._clock(), 0.0)

    async def wait(self) -> float:
        """Wait until the gate is open; returns the total time asked of ``sleep``."""
        waited = 0.0
        for _ in range(_MAX_GATE_PASSES):
            delay = self.delay()
            if delay <= 0:
                break
            waited += delay
            await self._sleep(delay)
        return waited
