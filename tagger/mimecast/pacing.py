"""How long a call may wait for its turn at the quota: the cycle's bound, not the call's.

A backlog is paced, never failed: a call waits at its endpoint's rate-limit
gate for as long as the work it belongs to has time. The engine sets that
time for a cycle with :func:`cycle_bound` (a monotonic deadline, or None for
a cycle without a bound such as ``tagger once``); every call made inside the
block (and in the tasks it starts) reads it through :func:`turn_deadline`. A
call whose turn would come after it raises
:class:`~tagger.mimecast.errors.QuotaDeferred`: the work is deferred to the
next cycle, not failed. The call's own retry budget (``retry.max_total_s``)
counts only the time spent on the wire and in backoff, never in the queue.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["cycle_bound", "turn_deadline"]

_DEADLINE: ContextVar[float | None] = ContextVar("tagger_cycle_deadline", default=None)


@contextmanager
def cycle_bound(deadline: float | None) -> Iterator[None]:
    """Let the calls made in the block wait for their turn until ``deadline`` (None: no bound).

    ``deadline`` is a time on the client's monotonic clock. Nested blocks
    keep the earlier of the two deadlines.
    """
    outer = _DEADLINE.get()
    if outer is not None and (deadline is None or outer < deadline):
        deadline = outer
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def turn_deadline() -> float:
    """Return until when a call made now may wait for its turn (infinity: no bound)."""
    deadline = _DEADLINE.get()
    return math.inf if deadline is None else deadline
