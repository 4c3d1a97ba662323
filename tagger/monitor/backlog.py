"""An account's backlog: the work the API quota left for later cycles, and its trend (pure).

A daemon cycle is bounded (``schedule.max_cycle``): messages and searches the
quota has no turn for by then are deferred, not failed, and their windows are
held, so the next cycle takes them first. Each cycle's run keeps how many it
deferred (``quota_deferred``, ``searches_deferred``) and the received time of
the oldest deferred message (``oldest_deferred``, epoch seconds). A backlog
that deferrals leave now and then is the quota doing its job; one that grows
across a whole span means the account receives more mail than its quota can
take, and is worth a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tagger.state.rows import RunRow

# The kinds of run that are cycles over the newest mail (a backfill is not).
CYCLE_KINDS = ("run", "once")


@dataclass(frozen=True, slots=True)
class Backlog:
    """What one cycle left for the next.

    ``messages`` and ``searches`` deferred by the quota; ``oldest`` is the
    received time of the oldest deferred message (None when none was
    deferred, or the run predates the record); ``at`` is when the cycle
    started.
    """

    messages: int
    searches: int
    oldest: datetime | None
    at: datetime

    @property
    def pending(self) -> bool:
        """Return True when the cycle deferred any work."""
        return self.messages > 0 or self.searches > 0

    def age(self, now: datetime) -> timedelta | None:
        """Return how old the oldest deferred message is at ``now`` (None when unknown)."""
        return None if self.oldest is None else max(timedelta(0), now - self.oldest)


@dataclass(frozen=True, slots=True)
class Growth:
    """A backlog that grew across a span: its first and last cycles, and how many cycles."""

    first: Backlog
    last: Backlog
    cycles: int


def is_cycle(run: RunRow) -> bool:
    """Return True when ``run`` is a live cycle (run or once, not a dry run) that ran to its end."""
    return run.kind in CYCLE_KINDS and not run.dry_run and run.status in ("ok", "partial")


def backlog_of(run: RunRow) -> Backlog:
    """Return the backlog the run ``run`` left (zeros when its counts predate the record)."""
    stamp = run.counts.get("oldest_deferred")
    oldest = datetime.fromtimestamp(stamp, UTC) if stamp else None
    return Backlog(
        int(run.counts.get("quota_deferred", 0)),
        int(run.counts.get("searches_deferred", 0)),
        oldest,
        run.started_at,
    )


def latest_cycle(runs: Sequence[RunRow]) -> RunRow | None:
    """Return the newest cycle of ``runs`` (oldest first, as :func:`growth` takes them)."""
    return next((run for run in reversed(runs) if is_cycle(run)), None)


def grew(first: Backlog, last: Backlog) -> bool:
    """Return True when ``last`` is a larger backlog than ``first``.

    More messages deferred; or as many, and more searches (whose messages are
    not counted yet).
    """
    if last.messages != first.messages:
        return last.messages > first.messages
    return last.searches > first.searches


def growth(runs: Sequence[RunRow], now: datetime, span: timedelta) -> Growth | None:
    """Return how an account's backlog grew across the ``span`` before ``now``, or None.

    Given the account's runs oldest first, from its last cycle started before
    ``now - span`` on (other runs are skipped). The backlog grew when the
    cycle at the span's start and every cycle after it deferred work, and the
    last deferred more than the first (:func:`grew`). None when it did not:
    no cycle reaches back to the span's start (the backlog, or the history,
    is younger than the span), a cycle of the span deferred nothing, the
    backlog is flat or shrinking, or no cycle ran within the span.
    """
    start = now - span
    cycles = [backlog_of(run) for run in runs if is_cycle(run)]
    before = [b for b in cycles if b.at < start]
    if not before:
        return None
    first = before[-1]
    within = [b for b in cycles if b.at >= start]
    if not within or not all(b.pending for b in (first, *within)):
        return None
    last = within[-1]
    return Growth(first, last, len(within) + 1) if grew(first, last) else None
