"""An endpoint's refill, learned from what the service does when its headers say nothing.

Some servers answer without any rate-limit header and refuse with a bare 429
(or one with ``Retry-After`` only). The calls they accept still tell the
refill exactly: a refusal means the service's bucket is empty, so between two
refusals it accepted precisely what it refilled (give or take one call).
:class:`ObservedRefill` keeps that count from the first refusal on and paces
slightly below the rate it gives.

The first refusal says nothing about the rate (the calls accepted before it
came out of a full bucket), so the refill is *measured* first: no call for a
while (the bucket refills meanwhile, nothing of the quota is lost), then one
call at a time, each as soon as the last is answered, until the next refusal.
That costs one refused call, where guessing a pace and halving it on every
refusal costs a refusal per halving, several calls deep. A measurement that
refused at once (nothing had come back) waits twice as long
(multiplicative decrease); one that is never refused (one call at a time is
slower than the refill) ends after a while and paces at twice the rate it
saw. From then on every refusal measures again over the whole span since
the first one, and a long run without refusal speeds the pace up a little
(additive increase), so a quota that grows is found again. Pure: the caller
passes the monotonic time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["ObservedRefill", "Pace"]

# Pace this much below the measured refill (refusals cost calls).
MARGIN = 1.03
# A measurement that saw nothing come back waits this much longer.
DECREASE = 2.0
# The first wait before measuring: the bucket refills meanwhile (then doubled by refusals).
MEASURE_WAIT_S = 0.5
# A measurement never refused ends after this many times its wait (at least MEASURE_MIN_CALLS).
MEASURE_SPAN = 3.0
MEASURE_MIN_CALLS = 4
# After this long without a refusal (and at least QUIET_INTERVALS intervals), the pace
# speeds up by INCREASE (at most once per such period).
QUIET_S = 10.0
QUIET_INTERVALS = 50
INCREASE = 0.98
# Refusals measure the refill over at most this span (the quota may have changed).
WINDOW_S = 300.0
KEPT = 64
# Bounds of the interval (seconds between two calls).
SHORTEST_S = 0.001
LONGEST_S = 60.0


@dataclass(frozen=True, slots=True)
class Pace:
    """What a refusal changes: the interval between calls, the wait before the next one.

    ``one_at_a_time``: the refill is being measured, one call in flight at a time.
    """

    interval: float
    wait: float
    one_at_a_time: bool


def _bounded(interval: float) -> float:
    return min(max(interval, SHORTEST_S), LONGEST_S)


@dataclass
class ObservedRefill:
    """Accepted and refused calls of one endpoint, and the interval they imply."""

    accepted: int = 0  # calls accepted since the first refusal
    # Recent refusals that measure (time, ``accepted`` then), oldest first.
    refusals: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=KEPT))
    measuring: bool = False  # waiting, then one call at a time, until a refusal
    measure_wait: float = MEASURE_WAIT_S
    last_change: float = 0.0

    @property
    def since(self) -> float | None:
        """Return when the latest refusal that measures came (None: none yet)."""
        return self.refusals[-1][0] if self.refusals else None

    def accepted_call(self, now: float, interval: float | None) -> float | None:
        """Count an accepted call at ``now``; returns a new interval when it is time, else None.

        ``interval`` is the one in use (None: not learned yet, nothing to change).
        """
        if not self.refusals:
            return None
        self.accepted += 1
        last, at_last = self.refusals[-1]
        if self.measuring:
            span, count = now - last, self.accepted - at_last
            if span >= self.measure_wait * MEASURE_SPAN and count >= MEASURE_MIN_CALLS:
                # One call at a time never emptied the bucket: twice that rate, then measure.
                self.measuring = False
                self.last_change = now
                return _bounded(span / count / 2)
            return None
        quiet = now - max(last, self.last_change)
        if interval is None or quiet < max(QUIET_S, QUIET_INTERVALS * interval):
            return None
        self.last_change = now
        return _bounded(interval * INCREASE)

    def refused(self, now: float, interval: float | None, asked_s: float = 0.0) -> Pace:
        """Count a refusal at ``now``; returns the pace from now on.

        ``interval`` is the one in use (None: none yet); ``asked_s`` the wait
        the service named (``Retry-After``), 0 when none.
        """
        if not self.refusals:
            # The bucket is empty now: measure the refill from here.
            self.refusals.append((now, self.accepted))
            self.measuring = True
            self.measure_wait = max(MEASURE_WAIT_S, asked_s)
            return Pace(SHORTEST_S, self.measure_wait, one_at_a_time=True)
        if self.measuring and self.accepted == self.refusals[-1][1]:
            # Nothing came back in the wait: wait longer (the bucket is still empty).
            self.refusals[-1] = (now, self.accepted)
            self.measure_wait = min(max(self.measure_wait * DECREASE, asked_s), LONGEST_S)
            return Pace(SHORTEST_S, self.measure_wait, one_at_a_time=True)
        measured = self._fastest(now)
        self.refusals.append((now, self.accepted))
        if self.measuring:
            # The end of a measurement: pace at what it found.
            self.measuring = False
            paced = _bounded(measured)
        else:
            # Never faster than the pace just refused.
            paced = _bounded(max(measured, interval or SHORTEST_S))
        return Pace(paced, max(paced, asked_s), one_at_a_time=False)

    def _fastest(self, now: float) -> float:
        """Return the shortest interval every recent refusal allows, a little longer.

        The bucket is empty at each refusal, so between an earlier one and
        ``now`` the service refilled what it accepted, give or take one: the
        refill is at most (accepted + 1) / span. The tightest of these bounds
        is kept: a long span measures a steady quota closely, a short one
        sees a quota that just went down. Refusals older than
        :data:`WINDOW_S` no longer count (the latest always does).
        """
        while len(self.refusals) > 1 and now - self.refusals[0][0] > WINDOW_S:
            self.refusals.popleft()
        return max((now - at) / (self.accepted - count + 1) * MARGIN for at, count in self.refusals)
