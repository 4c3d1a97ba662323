"""One slice's searches: every query's window within the slice at once, then their merge.

A cycle works through its queries' span slice by slice (:mod:`tagger.engine.slices`);
for each slice every query whose window meets it is searched at once, and the
answers are merged into one :class:`~tagger.engine.candidate.Candidate` per message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import structlog

from tagger.engine.candidate import Candidate
from tagger.engine.chunk import done_before_stop
from tagger.engine.options import Account, CycleOptions, Hooks
from tagger.engine.scope import scoped_search
from tagger.engine.search import SearchOutcome, gather_or_cancel, search_window
from tagger.engine.searchcap import CapTracker
from tagger.engine.tally import CycleReport
from tagger.engine.window import Window
from tagger.mimecast.errors import AuthenticationError, MimecastError, QuotaDeferred
from tagger.mimecast.models import TrackedEmail
from tagger.rules.model import Query

__all__ = ["merge_outcomes", "search_slice"]

log = structlog.get_logger("tagger.engine")


async def search_slice(
    account: Account,
    options: CycleOptions,
    report: CycleReport,
    searched: Sequence[tuple[Query, Window]],
    limit: int | None,
    stop: asyncio.Event | None,
    now: Callable[[], datetime],
) -> list[SearchOutcome | MimecastError] | None:
    """Search every query's part of the slice at once; returns one outcome per query.

    Given the queries with their window within the slice (``searched``).
    Returns None, the searches cancelled, as soon as they found more than
    ``limit`` messages (None: no limit): the slice is too long to hold.

    The client bounds concurrency; searches only read, so a stop request
    cancels them safely (the report is marked interrupted and nothing is
    returned). The searches share what is known of the account's search
    cap, kept in state for the next cycles.
    """
    ledger = account.ledger
    caps = ledger.search_caps(options.search_cap)
    known = _Held(limit)
    searching = asyncio.ensure_future(
        gather_or_cancel(
            _search(account, options, query, window, caps, known) for query, window in searched
        )
    )
    watch = asyncio.ensure_future(known.full.wait())
    try:
        finished = await done_before_stop(
            asyncio.ensure_future(
                asyncio.wait({searching, watch}, return_when=asyncio.FIRST_COMPLETED)
            ),
            stop,
        )
    finally:
        watch.cancel()
    outcomes: list[SearchOutcome | MimecastError] | None = []
    if finished and searching.done():
        outcomes = searching.result()
    else:
        searching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await searching
        if finished:
            outcomes = None  # too many messages: nothing of the slice is kept
        else:
            report.interrupted = True
    ledger.save_search_caps(caps, now())
    return outcomes


def merge_outcomes(
    account: Account,
    report: CycleReport,
    hooks: Hooks,
    answers: Iterable[tuple[Query, SearchOutcome | MimecastError]],
    failed: set[str],
    deferred: set[str],
) -> dict[str, Candidate]:
    """Merge the queries' answers into one candidate per message; count the failures.

    Given each query searched with its outcome; returns the candidates by
    message id. The keys of the queries whose search failed are added to
    ``failed``, those the quota had no turn for to ``deferred``.
    """
    candidates: dict[str, Candidate] = {}
    for query, outcome in answers:
        if isinstance(outcome, QuotaDeferred):
            deferred.add(query.key)
            report.searches_deferred += 1
            report.quota_wait_s = max(report.quota_wait_s, outcome.wait_s)
            continue
        if isinstance(outcome, MimecastError):
            failed.add(query.key)
            _search_failed(account, report, query, outcome)
            continue
        report.search_calls += outcome.calls
        report.window_splits += outcome.splits
        report.saturated += len(outcome.saturated)
        for email in outcome.emails.values():
            cand = candidates.setdefault(email.id, Candidate(email))
            cand.rule_ids.update(query.rule_ids)
            cand.queries.add(query.key)
        hooks.progress(account.name)
    report.messages_found += len(candidates)
    return candidates


def _search_failed(
    account: Account, report: CycleReport, query: Query, error: MimecastError
) -> None:
    """Count and log the failed search of ``query``."""
    report.search_failures += 1
    if not error.retryable:
        report.search_refused += 1
    report.errors.append(f"search {query.key}: {error}")
    log.error(
        "search_failed",
        account=account.name,
        query=query.key,
        error=str(error),
        transient=error.retryable,
    )


class _Held(dict[str, TrackedEmail]):
    """The messages a slice's searches found so far; ``full`` is set past ``limit`` of them."""

    def __init__(self, limit: int | None) -> None:
        super().__init__()
        self.limit = limit
        self.full = asyncio.Event()

    def __setitem__(self, key: str, value: TrackedEmail) -> None:
        super().__setitem__(key, value)
        if self.limit is not None and len(self) > self.limit:
            self.full.set()


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
