"""Backing off after a crashed cycle, with one located line for a full disk.

A cycle that crashes (the state file cannot be written because the disk is
full, say) would crash again at every tick: a traceback every few seconds
fills the journal, and the disk, further. :class:`CrashBackoff` lets the
daemon skip ticks for a growing interval (doubling from the schedule interval
up to a cap) and logs each crash once as one line; a disk that is full is
named as such, with the file, and no traceback. The first cycle that
succeeds resets it. :func:`storage_fault` is the pure classification.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from tagger.mimecast.backoff import doubling_delay

log = structlog.get_logger("tagger.service")

# The longest pause between two attempts after repeated crashes.
MAX_BACKOFF = timedelta(minutes=10)
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_FULL_TEXTS = ("database or disk is full", "no space left on device", "disk quota exceeded")


@dataclass(frozen=True, slots=True)
class StorageFault:
    """What a storage error means for the operator: the reason and the file (when known)."""

    reason: str
    path: str | None = None


def storage_fault(exc: BaseException) -> StorageFault | None:
    """Return the storage fault behind ``exc`` (its cause chain included), or None.

    ``ENOSPC``/``EDQUOT``, and an error saying SQLite's "database or disk is
    full" (the state store wraps it), are "no space left on device". Pure.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    path: str | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.filename and path is None:
            path = str(current.filename)
        full = isinstance(current, OSError) and current.errno in _FULL_ERRNOS
        if full or any(t in str(current).lower() for t in _FULL_TEXTS):
            return StorageFault("no space left on device", path)
        current = current.__cause__ or current.__context__
    return None


def next_delay(failures: int, base: timedelta, cap: timedelta = MAX_BACKOFF) -> timedelta:
    """Return the pause after ``failures`` crashes in a row: ``base`` doubled each time, capped.

    Pure; ``failures`` >= 1.
    """
    # At most 2 ** 32 times the base: a timedelta cannot hold much more (the cap is far below).
    seconds = doubling_delay(base.total_seconds(), min(failures - 1, 32))
    return min(timedelta(seconds=max(seconds, 1.0)), cap)


class CrashBackoff:
    """Counts crashed cycles and says when the next one may run (see the module docstring).

    Given the schedule interval (the first pause), the state file (named in
    a disk-full error), the cap and the clock.
    """

    def __init__(
        self,
        interval: timedelta,
        state_path: object,
        now: Callable[[], datetime],
        cap: timedelta = MAX_BACKOFF,
    ) -> None:
        self.interval = interval
        self.state_path = str(state_path)
        self.cap = max(cap, interval)
        self._now = now
        self.failures = 0
        self.resume_at: datetime | None = None

    def skip(self) -> bool:
        """Return True while the daemon should not start a cycle yet."""
        return self.resume_at is not None and self._now() < self.resume_at

    def crashed(self, exc: BaseException) -> timedelta:
        """Record a crashed cycle, log it once as one line, and return the pause before the next."""
        self.failures += 1
        delay = next_delay(self.failures, self.interval, self.cap)
        self.resume_at = self._now() + delay
        fault = storage_fault(exc)
        if fault is not None:
            log.error(
                "cycle_storage_full",
                path=fault.path or self.state_path,
                error=f"{fault.reason}: {fault.path or self.state_path}",
                failures=self.failures,
                retry_in_s=round(delay.total_seconds()),
                action="free space on that file system; the daemon retries by itself",
            )
        else:
            log.error(
                "cycle_crashed",
                error=str(exc) or type(exc).__name__,
                error_type=type(exc).__name__,
                failures=self.failures,
                retry_in_s=round(delay.total_seconds()),
                # The traceback once, for the first crash of a run: enough to report it.
                exc_info=exc if self.failures == 1 else None,
            )
        return delay

    def succeeded(self) -> None:
        """Forget earlier crashes: the next one starts the back-off again."""
        if self.failures:
            log.info("cycle_recovered", after_failures=self.failures)
        self.failures = 0
        self.resume_at = None
