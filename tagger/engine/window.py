"""Window planning: which span of received time one cycle searches (pure).

The saved watermark is the received time up to which every message of a query
has been fully processed. A cycle searches from the watermark minus an overlap
(late-indexed mail) to now minus the ingestion delay (mail not yet searchable).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class WindowPolicy:
    """How windows are drawn; all durations are positive or zero.

    Built from the config's ``window`` section, where every default is defined.
    """

    overlap: timedelta
    ingestion_delay: timedelta
    initial_lookback: timedelta
    max_catchup: timedelta
    split_min: timedelta


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open span of received time ``[start, end)``."""

    start: datetime
    end: datetime

    @property
    def empty(self) -> bool:
        """True when the window spans no time."""
        return self.end <= self.start

    def halves(self) -> tuple[Window, Window]:
        """Split the window at its midpoint (whole seconds, as the API wants)."""
        span = self.end - self.start
        mid = self.start + timedelta(seconds=max(1, int(span.total_seconds()) // 2))
        return Window(self.start, mid), Window(mid, self.end)


def plan_window(
    watermark: datetime | None,
    now: datetime,
    policy: WindowPolicy,
    lookback: timedelta | None = None,
) -> Window:
    """Return the window one cycle searches for one query.

    Given the saved watermark (None on first start), the current time and the
    policy; ``lookback`` (a rule's own "how far back") replaces the initial
    look-back when given. The start never reaches further back than
    ``max_catchup`` (or the look-back, whichever is longer) so a long outage
    does not turn into an unbounded search; the end is ``now`` minus the
    ingestion delay. The result may be empty when there is nothing new yet.
    """
    end = now - policy.ingestion_delay
    first = lookback if lookback is not None else policy.initial_lookback
    if watermark is None:
        start = end - first
    else:
        start = watermark - policy.overlap
        floor = end - max(policy.max_catchup, first)
        start = max(start, floor)
    start = start.replace(microsecond=0)
    end = end.replace(microsecond=0)
    return Window(start, max(start, end))


def next_watermark(window: Window, held_back: list[datetime]) -> datetime:
    """Return the watermark after a cycle over ``window``.

    ``held_back`` are the received times of messages that failed and are not
    yet set aside: the watermark must not pass the earliest of them, so the
    next cycle searches them again.
    """
    if held_back:
        return max(window.start, min(min(held_back), window.end))
    return window.end
