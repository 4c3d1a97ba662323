"""An endpoint's refill, learned from what the service does when its headers say nothing.

Some servers answer without any rate-limit header and refuse with a bare 429
(or one with ``Retry-After`` only). The calls they accept still tell the
refill: right after a refusal the service's bucket is empty, so every call it
accepts from then on was refilled. :class:`ObservedRefill` measures that rate
(accepted calls since the first refusal, over the time since) and paces
slightly below it; refusals that come before a measurement is possible slow
the pace down (multiplicative decrease), and a long run without refusal
speeds it up a little (additive increase), so a quota that grows is found
again. Pure: the caller passes the monotonic time.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ObservedRefill"]

# Pace this much below the measured refill (refusals cost calls).
MARGIN = 1.04
# A measurement needs this long since the first refusal (and two accepted calls).
MIN_SPAN_S = 1.0
# Refusals before a measurement is possible lengthen the interval this much each.
DECREASE = 2.0
# The first pace when nothing was ever accepted (then doubled by each refusal).
UNKNOWN_S = 1.0
# After this long without a refusal, shorten the interval by INCREASE (at most once per period).
QUIET_S = 10.0
INCREASE = 0.98
# A measurement older than this starts afresh (the quota may have changed).
RESTART_S = 300.0
# Bounds of the interval (seconds between two calls).
SHORTEST_S = 0.001
LONGEST_S = 60.0


@dataclass
class ObservedRefill:
    """Accepted and refused calls of one endpoint, and the interval they imply."""

    since: float | None = None  # the first refusal of the current measurement
    accepted_since: int = 0
    last_refusal: float = 0.0
    last_change: float = 0.0
    first_accepted: float | None = None
    accepted_before: int = 0

    def accepted(self, now: float, interval: float | None) -> float | None:
        """Count an accepted call at ``now``; returns a shorter interval when it is time, else None.

        ``interval`` is the one in use (None: not learned yet, nothing to change).
        """
        if self.since is None:
            self.accepted_before += 1
            if self.first_accepted is None:
                self.first_accepted = now
            return None
        self.accepted_since += 1
        quiet = now - max(self.last_refusal, self.last_change)
        if interval is None or quiet < QUIET_S:
            return None
        self.last_change = now
        return max(interval * INCREASE, SHORTEST_S)

    def refused(self, now: float, interval: float | None) -> float:
        """Count a refusal at ``now``; returns the interval to pace at from now on.

        ``interval`` is the one in use (None: none yet).
        """
        self.last_refusal = now
        if self.since is None or now - self.since > RESTART_S:
            guess = self._burst_guess(now) if interval is None else interval
            self.since, self.accepted_since = now, 0
            return min(max(guess, SHORTEST_S), LONGEST_S)
        span = now - self.since
        if span >= MIN_SPAN_S and self.accepted_since >= 2:
            measured = span / self.accepted_since * MARGIN
            # Never faster than the pace that was just refused.
            return min(max(measured, interval or SHORTEST_S, SHORTEST_S), LONGEST_S)
        return min((interval or SHORTEST_S) * DECREASE, LONGEST_S)

    def _burst_guess(self, now: float) -> float:
        """Return the interval the calls accepted before the first refusal came at."""
        if self.first_accepted is None or self.accepted_before < 2:
            return UNKNOWN_S
        return (now - self.first_accepted) / self.accepted_before
