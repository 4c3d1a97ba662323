"""Retry policy: how a failed attempt is classified, its backoff, and the per-call budget."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tagger.mimecast.backoff import doubling_delay
from tagger.mimecast.errors import MimecastError
from tagger.mimecast.settings import RetryPolicy


def backoff_delay(policy: RetryPolicy, attempt: int, uniform: Callable[[], float]) -> float:
    """Return the jittered delay before retry number ``attempt`` (1 = first retry).

    ``uniform`` returns a float in [0, 1). The delay is uniform in
    ``[0, min(max_delay_s, base_delay_s * 2 ** (attempt - 1))]`` ("full jitter"),
    which spreads concurrent retries out instead of synchronising them.
    """
    return doubling_delay(policy.base_delay_s, attempt - 1, policy.max_delay_s, uniform())


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, classified: all the retry loop needs to decide and record.

    ``error`` is what the call raises if this is the end; ``retry`` whether
    another attempt could succeed; ``throttled`` marks a 429 (backpressure:
    it spends no attempt and no backoff, the rate-limit gate holds the next
    attempt back).
    """

    error: MimecastError
    retry: bool
    throttled: bool = False


# 429s one call may receive before it fails (transient: it is never set aside).
MAX_THROTTLES = 20
# Attempts of one call whose connection could not be opened: a host that refuses
# or cannot be resolved rarely changes within seconds, and the next cycle (or
# run) tries again; the whole retry budget would only delay the message.
MAX_CONNECT_ATTEMPTS = 3


@dataclass(slots=True)
class RetryBudget:
    """Tracks one call's attempts and elapsed time against a :class:`RetryPolicy`.

    ``attempts`` counts the attempts that failed for real (or are under way);
    a 429 is backpressure: :meth:`throttled` gives its attempt back, so a call
    keeps waiting for capacity until its deadline instead of running out of
    attempts.
    """

    policy: RetryPolicy
    started: float
    attempts: int = 0
    throttles: int = 0
    connect_failures: int = 0
    # Time spent waiting for a turn at the rate-limit gate: pacing, not trying.
    queued: float = 0.0

    @property
    def deadline(self) -> float:
        """Return the monotonic time by which the call must be done.

        ``retry.max_total_s`` after it started, not counting the time it
        queued for its turn at the quota (see :mod:`tagger.mimecast.pacing`).
        """
        return self.started + self.queued + self.policy.max_total_s

    def exhausted_by_throttling(self) -> bool:
        """Return True when the service refused the call :data:`MAX_THROTTLES` times.

        Each 429 is backpressure and the call queues again; a server that
        refuses one call this often, whatever the pacing, is refusing it.
        """
        return self.throttles >= MAX_THROTTLES

    def allows(self, now: float, delay: float) -> bool:
        """Return True if another attempt after waiting ``delay`` s stays within budget."""
        if self.attempts >= self.policy.max_attempts:
            return False
        if self.connect_failures >= MAX_CONNECT_ATTEMPTS:
            return False
        return now + delay <= self.deadline

    def throttled(self) -> None:
        """Record a 429 on the attempt under way: it does not count as an attempt."""
        self.attempts = max(self.attempts - 1, 0)
        self.throttles += 1


def default_uniform() -> float:
    """Return a jitter sample in [0, 1) (not for cryptography)."""
    return random.random()
