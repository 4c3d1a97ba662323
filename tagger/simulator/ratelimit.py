"""Per-endpoint fixed-window rate limits with Mimecast's headers.

Each endpoint key has ``limit`` calls per ``window_s`` seconds; the window
starts with the first call after the previous one ended. ``reset_ms`` is the
number of milliseconds until capacity returns, as ``X-RateLimit-Reset`` reports.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether a call may run, and the values of the three rate-limit headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_ms: int

    def headers(self) -> list[tuple[str, str]]:
        """Return the ``X-RateLimit-*`` headers."""
        return [
            ("X-RateLimit-Limit", str(self.limit)),
            ("X-RateLimit-Remaining", str(self.remaining)),
            ("X-RateLimit-Reset", str(self.reset_ms)),
        ]


class RateLimiter:
    """Counts calls per endpoint; thread-safe. ``clock`` is a monotonic clock in seconds."""

    def __init__(
        self,
        limits: Callable[[str], tuple[int, float]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}
        self._forced: dict[str | None, tuple[int, int]] = {}

    def set_limits(self, limits: Callable[[str], tuple[int, float]]) -> None:
        """Replace the limits; current windows restart."""
        with self._lock:
            self._limits = limits
            self._windows.clear()

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
            start, count = self._windows.get(endpoint, (now, 0))
            if now >= start + window:
                start, count = now, 0
            reset_ms = max(0, math.ceil((start + window - now) * 1000))
            forced = self._take_forced(endpoint)
            if forced is not None:
                return RateDecision(False, limit, 0, forced)
            if count >= limit:
                self._windows[endpoint] = (start, count)
                return RateDecision(False, limit, 0, reset_ms)
            self._windows[endpoint] = (start, count + 1)
            return RateDecision(True, limit, limit - count - 1, reset_ms)
