"""One cycle for one account: search, filter, fetch, evaluate, plan, apply, record.

This is the single code path behind ``once``, ``run``, ``backfill`` and every
dry run; the scheduler only decides when it runs. Rule evaluation and planning
are pure (``tagger.rules``, ``tagger.engine.plan``); what is recorded, and when
a watermark may move, is the ledger's (:mod:`tagger.engine.ledger`). This
module keeps concurrency and ordering: every query's search at once, then the
messages in overlapping chunks (:mod:`tagger.engine.chunk`); the API calls go
through the injected client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from datetime import datetime

import structlog

from tagger.engine.chunk import done_before_stop, process_chunk
from tagger.engine.ledger import Candidate
from tagger.engine.options import NO_HOOKS, Account, CycleOptions, Hooks
from tagger.engine.scope import scoped_search
from tagger.engine.search import SearchOutcome, gather_or_cancel, search_window
from tagger.engine.searchcap import CapTracker
from tagger.engine.tally import CycleReport
from tagger.engine.window import Window
from tagger.mimecast.errors import AuthenticationError, MimecastError
from tagger.mimecast.models import TrackedEmail
from tagger.rules.model import Query

__all__ = ["NO_HOOKS", "Account", "CycleOptions", "Hooks", "run_account_cycle"]

log = structlog.get_logger("tagger.engine")

# How many chunks are in flight at once.
OVERLAP = 2


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
    evaluates, plans and (unless dry-run) applies, recording each success in
    state. A query's watermark advances only when its whole window is done and
    never past a message that failed and is not yet set aside; while any
    query's search fails, no message is processed and no watermark moves. Raises
    :class:`AuthenticationError` (credentials or permissions refused, key
    binding expired): those concern the whole account, never one message, so
    the cycle stops (applies already started finish and are recorded), no
    message is marked or set aside and no watermark moves. Other API errors
    are counted per message or per query and reported.

    When ``stop`` is set the cycle ends early (``report.interrupted``): the
    searches and message-info reads in flight are cancelled (they only read),
    no further chunk or message starts, and applies already started finish
    and are recorded. An interrupted cycle moves no watermark.
    ``hooks`` are told of each applied tag and each step completed.
    """
    started = now()
    report = CycleReport(account=account.name, dry_run=options.dry_run, started=started, clock=now)
    ledger = account.ledger
    ledger.start_cycle(started)
    report.keep_entries = options.audit
    ruleset = account.ruleset
    report.expect_rules(ruleset.rules)
    skip = options.skip_queries
    if options.interval is not None:
        skip = skip | ledger.not_due(options.interval, started)
    queries = [q for q in ruleset.queries if q.key not in skip]
    report.queries_skipped = len(skip)
    candidates: dict[str, Candidate] = {}
    windows: dict[str, Window] = {}
    failed_queries: set[str] = set()

    outcomes: list[SearchOutcome | MimecastError] = []
    if stop is not None and stop.is_set():
        report.interrupted = True
    else:
        for query in queries:
            window = options.window or ledger.window(
                query.key, query.lookback, started, options.policy
            )
            windows[query.key] = window
            report.windows[query.key] = window
        # Every query is searched at once (the client bounds concurrency); searches
        # only read, so a stop request cancels them safely. They share what is
        # known of the account's search cap, kept in state for the next cycles.
        caps = ledger.search_caps(options.search_cap)
        known: dict[str, TrackedEmail] = {}
        searching = asyncio.ensure_future(
            gather_or_cancel(
                _search(account, options, q, windows[q.key], caps, known) for q in queries
            )
        )
        if await done_before_stop(searching, stop):
            outcomes = searching.result()
            del searching  # holds the answers too (see below)
        else:
            searching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await searching
            report.interrupted = True
        ledger.save_search_caps(caps, now())

    for query, outcome in zip(queries, outcomes, strict=False):
        if isinstance(outcome, MimecastError):
            failed_queries.add(query.key)
            report.search_failures += 1
            if not outcome.retryable:
                report.search_refused += 1
            report.errors.append(f"search {query.key}: {outcome}")
            log.error(
                "search_failed",
                account=account.name,
                query=query.key,
                error=str(outcome),
                transient=outcome.retryable,
            )
            continue
        report.search_calls += outcome.calls
        report.window_splits += outcome.splits
        report.saturated += len(outcome.saturated)
        for email in outcome.emails.values():
            cand = candidates.setdefault(email.id, Candidate(email))
            cand.rule_ids.update(query.rule_ids)
            cand.queries.add(query.key)
        hooks.progress(account.name)
    # Each query's answer holds its own copy of every message: keep only the merged ones.
    outcomes.clear()

    report.messages_found = len(candidates)
    ids = list(candidates)
    done = ledger.judged_before(candidates)
    aside = ledger.set_aside_ids()
    report.already_processed = len(done)
    todo = [candidates[i] for i in ids if i not in done and i not in aside]
    if failed_queries:
        # A message is judged by all its rules at once (a stop rule must see the
        # others): with a query's results missing any message may lack rules, so
        # none is processed and no watermark moves; the next cycle searches again.
        todo = []
    report.set_aside_skipped = sum(1 for i in ids if i in aside and i not in done)
    # From here on each message is held only until its chunk is done.
    pending = deque(todo)
    del todo, ids
    candidates.clear()

    # Chunks overlap: the next one starts reading while the previous one
    # finishes its last applies, so the client never idles at a chunk boundary.
    running: deque[asyncio.Future[None]] = deque()

    async def finish_oldest() -> None:
        await running[0]
        running.popleft()
        hooks.progress(account.name)

    try:
        while pending:
            if report.interrupted or (stop is not None and stop.is_set()):
                report.interrupted = True
                break
            chunk = [pending.popleft() for _ in range(min(options.chunk, len(pending)))]
            work = process_chunk(account, options, chunk, report, now, stop, hooks)
            running.append(asyncio.ensure_future(work))
            if len(running) >= OVERLAP:
                await finish_oldest()
        while running:
            await finish_oldest()
    finally:
        # Only after a failure (e.g. AuthenticationError) is anything left running.
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    report.held_back = len(queries) if failed_queries else ledger.held_back()
    if options.advance_watermark and not report.interrupted and not failed_queries:
        for query in queries:
            mark = ledger.advance(query.key, windows[query.key], now())
            if mark is not None:
                report.watermarks[query.key] = mark
        if options.interval is not None:
            # Only a query whose whole window was done counts as searched.
            ledger.searched(report.watermarks, started)
    report.finished = now()
    return report


async def _search(
    account: Account,
    options: CycleOptions,
    query: Query,
    window: Window,
    caps: CapTracker | None = None,
    known: dict[str, TrackedEmail] | None = None,
) -> SearchOutcome | MimecastError:
    """Search one query's window; returns what it found, or the error when it failed.

    Raises :class:`AuthenticationError`, which concerns the whole account.
    """
    try:
        return await scoped_search(
            lambda criteria: search_window(
                account.client,
                criteria,
                window,
                cap=options.search_cap,
                split_min_s=options.policy.split_min.total_seconds(),
                tracker=caps,
                known=known,
            ),
            query.criteria,
            account.scope,
        )
    except AuthenticationError:
        raise
    except MimecastError as exc:
        return exc
