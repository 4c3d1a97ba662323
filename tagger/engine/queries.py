"""When each query is due: a query whose rules set a longer ``schedule`` waits (pure).

Rules with equal search criteria share one search (a
:class:`~tagger.rules.model.Query`, compiled with the rules). A query whose
rules all carry their own ``schedule`` longer than the configured interval is
searched only when that schedule is due; skipping it in between is safe
because its window runs from its own watermark, so the next search covers the
time skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from tagger.rules.model import Query

__all__ = ["Query", "not_due"]


def not_due(
    queries: Iterable[Query],
    last_searched: Mapping[str, datetime],
    now: datetime,
    interval: timedelta,
) -> frozenset[str]:
    """Return the keys of the queries whose own schedule is not due at ``now``.

    Given the queries, when each was last searched, the current time and the
    configured interval. A query is skipped only when its schedule is longer
    than ``interval`` and less than that schedule has passed since its last
    search; half an interval of slack keeps a 15m rule on a 5m interval from
    slipping to 20m because a cycle started a moment early.
    """
    skip: set[str] = set()
    for query in queries:
        every = query.schedule
        last = last_searched.get(query.key)
        if every is None or every <= interval or last is None:
            continue
        if now - last + interval / 2 < every:
            skip.add(query.key)
    return frozenset(skip)
