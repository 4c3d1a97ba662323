"""Search one query over one window, splitting windows that hit the result cap.

Message-finder search has no pagination and silently caps its results; a
window that returns the cap may have lost messages, so it is split in two and
each half searched again until no part is capped (or the part is as small as
the policy allows, which is logged as a possible loss).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from tagger.engine.ports import ApiClient
from tagger.engine.window import Window
from tagger.mimecast.models import SearchCriteria, TrackedEmail

log = structlog.get_logger("tagger.engine")


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
    while pending:
        part = pending.pop()
        if part.empty:
            continue
        result = await client.search(criteria, part.start, part.end)
        outcome.calls += 1
        for email in result.emails:
            outcome.emails.setdefault(email.id, email)
        if len(result.emails) < cap:
            continue
        if (part.end - part.start).total_seconds() <= split_min_s:
            outcome.saturated.append(part)
            log.warning(
                "search_window_saturated",
                query=criteria.key(),
                start=part.start.isoformat(),
                end=part.end.isoformat(),
                cap=cap,
            )
            continue
        outcome.splits += 1
        first, second = part.halves()
        pending.extend((second, first))
    return outcome
