"""Per-endpoint rate limits with Mimecast's headers: a leaky bucket (default) or a fixed window.

An endpoint's ``(limit, window_s)`` means ``limit`` requests per ``window_s``
seconds. As Mimecast's service does, the default :class:`RateLimiter` is a
leaky bucket: it holds at most ``limit`` requests and one request is added
back every ``window_s / limit`` seconds. ``X-RateLimit-Remaining`` is the
number of requests left in the bucket and ``X-RateLimit-Reset`` the
milliseconds until the next one is added back; a request finding the bucket
empty is answered 429.

Other modes answer the same buckets with the other readings of the headers a
client meets in the wild, to test it against each (:data:`MODES`):

- ``leaky-zero``: ``X-RateLimit-Reset`` is 0 while requests remain, and the
  milliseconds until one more returns once the bucket is empty;
- ``interval``: ``X-RateLimit-Reset`` is always the refill interval itself;
- ``window``: a fixed window (``limit`` calls, then nothing until the window
  that started with the first call ends; Reset is the time until the whole
  quota returns);
- ``bare``: no rate-limit header at all, and a bare 429;
- ``retry-after``: no ``X-RateLimit-*`` header; a 429 carries ``Retry-After``
  (whole seconds until one request returns) and nothing else.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

LEAKY = "leaky"
LEAKY_ZERO = "leaky-zero"
INTERVAL = "interval"
WINDOW = "window"
BARE = "bare"
RETRY_AFTER = "retry-after"
MODES = (LEAKY, LEAKY_ZERO, INTERVAL, WINDOW, BARE, RETRY_AFTER)


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether a call may run, and the values of the three rate-limit headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_ms: int
    mode: str = LEAKY
    interval_ms: int = 0

    def headers(self) -> list[tuple[str, str]]:
        """Return the rate-limit headers this decision's mode sends."""
        if self.mode == BARE:
            return []
        if self.mode == RETRY_AFTER:
            if self.allowed:
                return []
            return [("Retry-After", str(max(1, math.ceil(self.reset_ms / 1000))))]
        reset = self.reset_ms
        if self.mode == LEAKY_ZERO and self.remaining > 0:
            reset = 0
        elif self.mode == INTERVAL:
            reset = self.interval_ms
        return [
            ("X-RateLimit-Limit", str(self.limit)),
            ("X-RateLimit-Remaining", str(self.remaining)),
            ("X-RateLimit-Reset", str(reset)),
        ]


class RateLimiter:
    """Counts calls per endpoint; thread-safe. ``clock`` is a monotonic clock in seconds.

    ``limits(endpoint)`` returns ``(limit, window_s)``; ``mode`` is one of
    :data:`MODES` (see the module docstring). Raises ``ValueError`` on an
    unknown mode.
    """

    def __init__(
        self,
        limits: Callable[[str], tuple[int, float]],
        clock: Callable[[], float] = time.monotonic,
        mode: str = LEAKY,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"rate limit mode must be one of {', '.join(MODES)}")
        self._limits = limits
        self._clock = clock
        self.mode = mode
        self._lock = threading.Lock()
        # leaky: (level, at) -- the bucket's content (fractional) at time ``at``;
        # window: (start, count).
        self._state: dict[str, tuple[float, float]] = {}
        self._forced: dict[str | None, tuple[int, int]] = {}

    def set_limits(self, limits: Callable[[str], tuple[int, float]]) -> None:
        """Replace the limits; every bucket (or window) starts full again."""
        with self._lock:
            self._limits = limits
            self._state.clear()

    def force(self, endpoint: str | None, calls: int, reset_ms: int) -> None:
        """Answer the next ``calls`` calls to ``endpoint`` (None: any endpoint) with 429."""
        with self._lock:
            self._forced[endpoint] = (calls, reset_ms)

    def _take_forced(self, endpoint: str) -> int | None:
        for key in (endpoint, None):
            left, reset_ms = self._forced.get(key, (0, 0))
            if left > 0:
                self._forced[key] = (left - 1, reset_ms)
                return reset_ms
        return None

    def take(self, endpoint: str) -> RateDecision:
        """Count one call to ``endpoint``; returns whether it is allowed and the headers."""
        limit, window = self._limits(endpoint)
        now = self._clock()
        with self._lock:
            forced = self._take_forced(endpoint)
            if forced is not None:
                return RateDecision(False, limit, 0, forced, self.mode, forced)
            if self.mode == WINDOW:
                return self._window(endpoint, limit, window, now)
            return self._leaky(endpoint, limit, window / limit, now)

    def _leaky(self, endpoint: str, limit: int, interval: float, now: float) -> RateDecision:
        level, at = self._state.get(endpoint, (float(limit), now))
        level = min(float(limit), level + max(now - at, 0.0) / interval)
        allowed = level >= 1.0
        if allowed:
            level -= 1.0
        self._state[endpoint] = (level, now)
        whole = math.floor(level + 1e-9)
        # Time until the bucket holds one more whole request (a full bucket: one interval).
        missing = 1.0 if level >= limit - 1e-9 else max(whole + 1 - level, 0.0)
        reset_ms = max(1, math.ceil(missing * interval * 1000 - 1e-6))
        remaining = min(whole, limit) if allowed else 0
        interval_ms = max(1, math.ceil(interval * 1000 - 1e-6))
        return RateDecision(allowed, limit, remaining, reset_ms, self.mode, interval_ms)

    def _window(self, endpoint: str, limit: int, window: float, now: float) -> RateDecision:
        start, count = self._state.get(endpoint, (now, 0.0))
        if now >= start + window:
            start, count = now, 0.0
        reset_ms = max(0, math.ceil((start + window - now) * 1000))
        if count >= limit:
            self._state[endpoint] = (start, count)
            return RateDecision(False, limit, 0, reset_ms, WINDOW)
        self._state[endpoint] = (start, count + 1)
        return RateDecision(True, limit, int(limit - count - 1), reset_ms, WINDOW)
