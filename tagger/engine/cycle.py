"""One cycle for one account: search, filter, fetch, evaluate, plan, apply, record.

This is the single code path behind ``once``, ``run``, ``backfill`` and every
dry run; the scheduler only decides when it runs. Rule evaluation and planning
are pure (``tagger.rules``, ``tagger.engine.plan``); what is recorded, and when
a watermark may move, is the ledger's (:mod:`tagger.engine.ledger`). This
module keeps concurrency and ordering: the span of the queries' windows is
worked through oldest first in slices of bounded size (:mod:`tagger.engine.slices`),
each slice's searches at once (:mod:`tagger.engine.slicesearch`), then its
messages in overlapping chunks (:mod:`tagger.engine.chunk`); the API calls go
through the injected client.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from tagger.engine.candidate import Candidate
from tagger.engine.chunk import Chunk
from tagger.engine.options import NO_HOOKS, Account, CycleOptions, Hooks
from tagger.engine.release import release_held
from tagger.engine.search import SearchOutcome
from tagger.engine.slices import LIMIT, SHORTEST, next_slice, span_of, within
from tagger.engine.slicesearch import merge_outcomes, search_slice
from tagger.engine.tally import CycleReport
from tagger.engine.window import Window
from tagger.mimecast.errors import MimecastError
from tagger.mimecast.pacing import cycle_bound
from tagger.rules.model import Query

__all__ = ["NO_HOOKS", "Account", "CycleOptions", "Hooks", "run_account_cycle"]


# How many chunks are in flight at once.
OVERLAP = 2
# The first chunk's size; each next one doubles up to ``options.chunk``, so a
# cycle cut off soon after it starts (a crash loop) has settled some work.
FIRST_CHUNK = 8


async def run_account_cycle(
    account: Account,
    options: CycleOptions,
    now: Callable[[], datetime],
    stop: asyncio.Event | None = None,
    hooks: Hooks = NO_HOOKS,
) -> CycleReport:
    """Run one cycle for ``account`` and return its report.

    Searches every distinct query's window, skips messages already processed
    for this rule set, fetches message info only when a rule still needs it,
    evaluates, plans and (unless the ledger's state is a dry-run copy) applies,
    recording each success in state. Messages go oldest first, in chunks that
    start small and double; after each chunk the run's counts and each query's
    watermark are committed (a checkpoint: the watermark moves forward up to
    the query's earliest message not done yet), and at the end the watermark
    covers the whole window. It never passes a message that failed and is not
    yet set aside; while any query's search fails, no message is processed and
    no watermark moves. Raises :class:`AuthenticationError` (credentials or
    permissions refused, key binding expired): those concern the whole
    account, never one message, so the cycle stops (applies already started
    finish and are recorded), no further message is marked or set aside and
    no watermark moves past the chunks completed before. Other API errors are
    counted per message or per query and reported.

    Memory stays bounded however large the windows: the span they cover is
    searched and worked through one slice at a time, oldest first, every
    query over the same slice, each slice's messages forgotten once done
    (:mod:`tagger.engine.slices`). A slice whose search fails (or is
    deferred) ends the cycle there; the slices done before stay done.

    With ``options.max_cycle_s`` the cycle's message work is bounded (from
    the end of its searches, which always finish): its calls wait their turn
    at the quota until then, and the work that has no turn by then (a
    message's read or apply, the chunks and slices not started) is deferred, not failed:
    nothing is counted against it, its window is held and the next cycle
    takes it first (``report.quota_deferred``).

    When ``stop`` is set the cycle ends early (``report.interrupted``): the
    searches and message-info reads in flight are cancelled (they only read),
    no further chunk or message starts, and applies already started finish
    and are recorded. An interrupted cycle moves no watermark past its last
    checkpoint.
    ``hooks`` are told of each applied tag and each step completed.
    """
    cycle = _Cycle(account, options, now, stop, hooks)
    if cycle.stopping():
        cycle.report.interrupted = True
    else:
        cycle.draw_windows()
        await cycle.run_slices()
        # Held pairs whose rail is lifted, after the new mail, within the same bound.
        cycle.start_clock()
        with cycle_bound(cycle.deadline):
            await cycle.release()
    cycle.settle()
    cycle.report.finished = now()
    return cycle.report


class _Cycle:
    """One account's cycle, phase by phase (see :func:`run_account_cycle`).

    Holds what the phases share: the account, the options, the clock, the
    stop event, the hooks, the report being filled, and the queries with
    their windows and the keys of those whose search failed.
    """

    def __init__(
        self,
        account: Account,
        options: CycleOptions,
        now: Callable[[], datetime],
        stop: asyncio.Event | None,
        hooks: Hooks,
    ) -> None:
        self.account = account
        self.options = options
        self.now = now
        self.stop = stop
        self.hooks = hooks
        self.ledger = account.ledger
        self.started = now()
        self.report = CycleReport(
            account=account.name, dry_run=self.ledger.dry_run, started=self.started, clock=now
        )
        self.ledger.start_cycle(self.started)
        self.report.keep_entries = options.audit
        self.report.expect_rules(account.ruleset.rules)
        skip = options.skip_queries
        if options.interval is not None:
            skip = skip | self.ledger.not_due(options.interval, self.started)
        self.queries = [q for q in account.ruleset.queries if q.key not in skip]
        self.report.queries_skipped = len(skip)
        self.windows: dict[str, Window] = {}
        self.failed_queries: set[str] = set()
        # Queries whose search the quota had no turn for before the cycle's bound.
        self.deferred_queries: set[str] = set()
        # The bound of the message work, on the monotonic clock the client paces
        # with (None: none); set by start_clock once the searches are done.
        self.deadline: float | None = None
        # The queries searched in the current slice, in the order of their outcomes.
        self.searched: list[Query] = []
        # The slice being worked through (None: none yet): no watermark moves past it.
        self.part: Window | None = None

    async def run_slices(self) -> None:
        """Search and work through the windows' span one slice at a time, oldest first."""
        span = span_of(self.windows.values())
        last: timedelta | None = None
        found: int | None = None
        while span is not None and not span.empty:
            part = next_slice(span.start, span.end, last, found)
            self.part = part
            if self.out_of_time():
                self._defer_searches(span)
                return
            outcomes = await self.search(part, None if part.end - part.start <= SHORTEST else LIMIT)
            if outcomes is None:
                # More mail than a slice may hold: a shorter slice, searched again.
                last, found = part.end - part.start, LIMIT
                continue
            candidates = self.merge(outcomes)
            found = len(candidates)
            pending = self.select(candidates)
            # The bound starts with the messages: searches always finish (paced), so
            # every cycle has a whole bound of message work and none is starved.
            self.start_clock()
            with cycle_bound(self.deadline):
                await self.run_chunks(pending)
            if self.stopping() or self.failed_queries or self.deferred_queries:
                return
            last, span = part.end - part.start, Window(part.end, span.end)

    def _defer_searches(self, rest: Window) -> None:
        """Leave the span not searched yet for the next cycle (the bound has passed)."""
        keys = [q.key for q in self.queries if not within(self.windows[q.key], rest).empty]
        self.deferred_queries.update(keys)
        self.report.searches_deferred += len(keys)

    def stopping(self) -> bool:
        """Return True when a stop was requested (or the cycle was already interrupted)."""
        return self.report.interrupted or (self.stop is not None and self.stop.is_set())

    def draw_windows(self) -> None:
        """Give each query its window: the fixed one (backfill), or from its watermark."""
        for query in self.queries:
            window = self.options.window or self.ledger.window(
                query.key, query.lookback, self.started, self.options.policy
            )
            self.windows[query.key] = window
            self.report.windows[query.key] = window

    async def search(
        self, part: Window, limit: int | None = None
    ) -> list[SearchOutcome | MimecastError] | None:
        """Search every query's window within ``part`` at once (:func:`.search_slice`).

        Keeps the queries searched (those whose window meets ``part``) in
        ``searched``, in the order of the outcomes; returns None when they
        found more than ``limit`` messages, nothing when a stop came.
        """
        parts = {q.key: within(self.windows[q.key], part) for q in self.queries}
        self.searched = [q for q in self.queries if not parts[q.key].empty]
        return await search_slice(
            self.account,
            self.options,
            self.report,
            [(q, parts[q.key]) for q in self.searched],
            limit,
            self.stop,
            self.now,
        )

    def merge(self, outcomes: list[SearchOutcome | MimecastError]) -> dict[str, Candidate]:
        """Merge the queries' answers into one candidate per message (:func:`.merge_outcomes`).

        Empties ``outcomes``: each query's answer holds its own copy of every
        message, and only the merged ones are kept.
        """
        candidates = merge_outcomes(
            self.account,
            self.report,
            self.hooks,
            zip(self.searched, outcomes, strict=False),
            self.failed_queries,
            self.deferred_queries,
        )
        outcomes.clear()
        return candidates

    def select(self, candidates: dict[str, Candidate]) -> deque[Candidate]:
        """Return the candidates to process, in search order; empties ``candidates``.

        Drops the messages judged before under this rule set and those set
        aside. A message is judged by all its rules at once (a stop rule must
        see the others): with a query's results missing any message may lack
        rules, so while a search failed (or was deferred for the quota) none
        is processed and the next cycle searches again.
        """
        done = self.ledger.judged_before(candidates)
        aside = self.ledger.set_aside_ids()
        self.report.already_processed += len(done)
        self.report.set_aside_skipped += sum(1 for i in candidates if i in aside and i not in done)
        pending: deque[Candidate] = deque()
        if not self.failed_queries and not self.deferred_queries:
            chosen = (c for i, c in candidates.items() if i not in done and i not in aside)
            # Oldest first, so each finished chunk lets the watermarks move (checkpoint).
            pending.extend(sorted(chosen, key=_received_order))
        # From here on each message is held only until its chunk is done.
        candidates.clear()
        return pending

    async def run_chunks(self, pending: deque[Candidate]) -> None:
        """Process ``pending`` in chunks, two in flight (see :mod:`tagger.engine.chunk`).

        Chunks overlap: the next one starts reading while the previous one
        finishes its last applies, so the client never idles at a chunk boundary.
        """
        running: deque[asyncio.Future[None]] = deque()
        in_flight: deque[list[Candidate]] = deque()
        size = min(FIRST_CHUNK, self.options.chunk)

        async def finish_oldest() -> None:
            await running[0]
            running.popleft()
            in_flight.popleft()
            self.checkpoint(pending, in_flight)
            self.hooks.progress(self.account.name)

        try:
            while pending:
                if self.stopping():
                    self.report.interrupted = True
                    break
                if self.out_of_time():
                    self._defer_rest(pending)
                    break
                taken = [pending.popleft() for _ in range(min(size, len(pending)))]
                size = min(size * 2, self.options.chunk)
                chunk = Chunk(
                    self.account, self.options, taken, self.report, self.now, self.stop, self.hooks
                )
                running.append(asyncio.ensure_future(chunk.run()))
                in_flight.append(taken)
                if len(running) >= OVERLAP:
                    await finish_oldest()
            while running:
                await finish_oldest()
        finally:
            # Only after a failure (e.g. AuthenticationError) is anything left running.
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def checkpoint(self, pending: deque[Candidate], in_flight: deque[list[Candidate]]) -> None:
        """Commit the cycle's progress after a chunk: the run's counts and the watermarks.

        Each query's watermark moves (forward only) up to the earliest message
        of the query not processed yet (``pending`` and the chunks
        ``in_flight``), and never past the end of the slice being worked
        through, so a cycle cut off later still keeps the ground it covered.
        Nothing moves when the cycle is interrupted, a search failed or was
        deferred, or the windows are fixed (backfill).
        """
        self.ledger.checkpoint(self.report, self.now())
        searched = not self.failed_queries and not self.deferred_queries
        if not self.options.advance_watermark or self.report.interrupted or not searched:
            return
        undone: dict[str, datetime] = {}
        for cand in (c for chunk in (pending, *in_flight) for c in chunk):
            for key in cand.queries:
                when = cand.summary.received or self.windows[key].start
                undone[key] = min(undone.get(key, when), when)
        at = self.now()
        for query in self.queries:
            window = self.windows[query.key]
            end = window.end if self.part is None else min(window.end, self.part.end)
            self.ledger.advance(
                query.key, window, at, undone.get(query.key, end), forward_only=True
            )

    async def release(self) -> None:
        """Apply the held pairs whose rail is lifted, after the new mail (:mod:`.release`).

        Within the cycle's bound: what has no turn at the quota waits for the
        next cycle. Nothing is released after a stop request or an
        account-level error.
        """
        if not self.stopping() and not self.ledger.halted:
            await release_held(
                self.account,
                self.report,
                self.now,
                self.hooks,
                self.options.chunk,
                lambda: self.stopping() or self.out_of_time(),
                self.options.max_failures,
            )
        if self.account.guard is not None and not self.ledger.dry_run:
            for count in self.ledger.held_counts():
                self.report.held_now[(count.rule_id, count.reason)] = (count.messages, count.pairs)

    def start_clock(self) -> None:
        """Start the bound of the cycle's message work (``options.max_cycle_s``) now, once."""
        if self.options.max_cycle_s is not None and self.deadline is None:
            self.deadline = time.monotonic() + self.options.max_cycle_s

    def out_of_time(self) -> bool:
        """Return True when the cycle's bound has passed: no new work starts."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _defer_rest(self, pending: deque[Candidate]) -> None:
        """Leave the chunks not started for the next cycle (the quota had no time for them)."""
        report = self.report
        report.quota_deferred += len(pending)
        report.quota_wait_s += self.account.client.quota_seconds(len(pending))
        for cand in pending:
            report.note_deferred(cand.summary.received)
        self.ledger.defer(pending, self.now())
        pending.clear()

    def settle(self) -> None:
        """Advance each query's watermark when the whole cycle finished cleanly."""
        report, ledger = self.report, self.ledger
        report.held_back = len(self.queries) if self.failed_queries else ledger.held_back()
        searched = not self.failed_queries and not self.deferred_queries
        if not self.options.advance_watermark or report.interrupted or not searched:
            return
        for query in self.queries:
            mark = ledger.advance(query.key, self.windows[query.key], self.now())
            if mark is not None:
                report.watermarks[query.key] = mark
        if self.options.interval is not None:
            # Only a query whose whole window was done counts as searched.
            ledger.searched(report.watermarks, self.started)


def _received_order(cand: Candidate) -> tuple[bool, datetime | None]:
    """Sort key: messages without a received time first (they hold their window), then oldest."""
    received = cand.summary.received
    return (received is not None, received)
