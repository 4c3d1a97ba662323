"""Search one query over one window, splitting windows that hit the result cap.

Message-finder search has no pagination and silently caps its results; a
window that returns the cap may have lost messages, so it is split in two and
each half searched again until no part is capped (or the part is as small as
the policy allows, which is logged as a possible loss). The halves of one
level are searched concurrently (the client bounds concurrency): a deep split
costs a few round trips, not one per part.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from tagger.engine.ports import ApiClient
from tagger.engine.window import Window
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.models import TrackedEmail

log = structlog.get_logger("tagger.engine")

T = TypeVar("T")


async def gather_or_cancel(work: Iterable[Awaitable[T]]) -> list[T]:
    """Await every awaitable of ``work`` concurrently; return their results in order.

    On the first failure the others are cancelled (and awaited) before the
    failure is raised, so no call is left running unobserved.
    """
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@dataclass
class SearchOutcome:
    """The de-duplicated messages one window yielded, and how they were found."""

    emails: dict[str, TrackedEmail] = field(default_factory=dict)
    calls: int = 0
    splits: int = 0
    saturated: list[Window] = field(default_factory=list)


async def search_window(
    client: ApiClient,
    criteria: SearchCriteria,
    window: Window,
    *,
    cap: int,
    split_min_s: float,
) -> SearchOutcome:
    """Search ``window`` for ``criteria``, splitting capped windows.

    Given the client, the criteria, the window, the service's result cap and
    the smallest window (seconds) worth splitting; returns every message found,
    keyed (and so de-duplicated) by Mimecast message ID. Raises whatever the
    client raises: a window is done only if every part of it was searched.
    """
    outcome = SearchOutcome()
    pending = [window]
    # Each level halves its parts down to ``split_min_s``, so the depth is bounded.
    while pending:
        parts = [p for p in pending if not p.empty]
        pending = []
        results = await gather_or_cancel(client.search(criteria, p.start, p.end) for p in parts)
        for part, result in zip(parts, results, strict=True):
            outcome.calls += 1
            for email in result.emails:
                outcome.emails.setdefault(email.id, email)
            if len(result.emails) >= cap:
                pending.extend(_split(part, outcome, criteria, split_min_s, cap))
    return outcome


def _split(
    part: Window, outcome: SearchOutcome, criteria: SearchCriteria, split_min_s: float, cap: int
) -> tuple[Window, ...]:
    """Return the halves of a capped ``part`` to search again; none when it is too small.

    A part too small to split is recorded in ``outcome.saturated`` and logged.
    """
    if (part.end - part.start).total_seconds() <= split_min_s:
        outcome.saturated.append(part)
        log.warning(
            "search_window_saturated",
            query=criteria.key(),
            start=part.start.isoformat(),
            end=part.end.isoformat(),
            cap=cap,
        )
        return ()
    outcome.splits += 1
    return part.halves()
