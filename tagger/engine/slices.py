"""A cycle's span of received time, worked through oldest first in slices of bounded size (pure).

A cycle holds the messages it is working on in memory. Holding a whole
window's would make its memory grow with the backlog (a first run over a
day, a catch-up after downtime): instead the cycle searches, judges and
applies one slice of the span at a time, every query over the same slice
(a message is judged by all its rules at once), and forgets a slice's
messages when it is done. Slices are sized from what the last one found, to
hold about :data:`HOLD` messages: a cycle over a few minutes of mail is one
slice (no search more than before), a sparse day a few, a dense one many. A
slice whose searches find more than :data:`LIMIT` (dense mail after quiet
hours) is dropped as soon as they do and searched again, shorter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from tagger.engine.window import Window

__all__ = ["FIRST", "HOLD", "LIMIT", "SHORTEST", "next_slice", "span_of", "within"]

# The messages a slice aims to hold (about 4 KB each while a slice is worked on).
HOLD = 2_000
# A slice whose searches find more than this is cut short and searched again, shorter
# (mail far denser than the slice before: after a quiet night, say).
LIMIT = 3 * HOLD
# The first slice's length, before anything is known of the mail's density.
FIRST = timedelta(hours=1)
# How much one slice's length may change from the last one's.
GROW = 4.0
SHRINK = 0.25
# A slice is at least this long; a tail shorter than half a slice joins the one before.
SHORTEST = timedelta(seconds=1)
TAIL = 1.5


def span_of(windows: Iterable[Window]) -> Window | None:
    """Return the span from the earliest start to the latest end (None: every window empty)."""
    spans = [w for w in windows if not w.empty]
    if not spans:
        return None
    return Window(min(w.start for w in spans), max(w.end for w in spans))


def next_slice(start: datetime, end: datetime, last: timedelta | None, found: int | None) -> Window:
    """Return the slice of ``[start, end)`` to work on next, from ``start``.

    ``last`` is the length of the slice before and ``found`` how many messages
    it held (both None for the first slice). The slice is scaled to hold
    about :data:`HOLD` messages at the last one's density, and takes the whole
    rest when that is no more than half a slice longer.
    """
    if last is None or found is None:
        length = FIRST
    else:
        factor = min(max(HOLD / max(found, 1), SHRINK), GROW)
        length = max(last * factor, SHORTEST)
    if end - start <= length * TAIL:
        return Window(start, end)
    return Window(start, start + length)


def within(window: Window, part: Window) -> Window:
    """Return the part of ``window`` inside ``part`` (empty when they do not meet)."""
    return Window(max(window.start, part.start), min(window.end, part.end))
