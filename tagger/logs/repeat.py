"""Collapse bursts of identical log events into one line and a count.

A structlog processor: the first event of a kind passes; the same event
with the same fields (the timestamp aside) seen again within ``window``
seconds is dropped and counted; the next one after the window passes with
``repeated=N``, the number dropped since the last one shown. So 88 identical
rate-limit waits logged within a millisecond become one line, and the count
is not lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

# Fields that differ between otherwise identical events.
IGNORED = frozenset({"timestamp", "repeated"})
# Keys remembered at most; the oldest are forgotten first.
MAX_KEYS = 4096


@dataclass
class _Seen:
    shown_at: float
    dropped: int = 0


def _key(event_dict: EventDict) -> tuple[Any, ...] | None:
    try:
        items = sorted(
            (k, repr(v))
            for k, v in event_dict.items()
            if k not in IGNORED and not k.startswith("_")
        )
    except Exception:  # an unprintable value: never drop what cannot be compared
        return None
    return tuple(items)


class CollapseRepeats:
    """The processor; one instance keeps the memory of recent events (thread-safe)."""

    def __init__(self, window: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._seen: dict[tuple[Any, ...], _Seen] = {}
        self._lock = threading.Lock()

    def __call__(self, _logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
        """Return the event (with ``repeated`` when repeats were dropped) or drop it."""
        key = _key(event_dict)
        if key is None:
            return event_dict
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen.shown_at < self.window:
                seen.dropped += 1
                raise structlog.DropEvent
            if seen is not None and seen.dropped:
                event_dict["repeated"] = seen.dropped
            self._seen.pop(key, None)
            self._seen[key] = _Seen(now)
            while len(self._seen) > MAX_KEYS:
                self._seen.pop(next(iter(self._seen)))
        return event_dict
