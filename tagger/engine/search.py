"""Search one query over one window, splitting windows whose answer may be truncated.

Message-finder search has no pagination and silently caps its results at a
number that is not documented. Whether an answer is truncated is judged from
the answers themselves (:mod:`tagger.engine.searchcap`), never from the
configured cap: a window whose answer is truncated, or holds as many results
as any answer ever did, is split in two and each half searched again, until
no part is in doubt (or a part is as small as the policy allows: it is then
reported as saturated, a possible loss). Comparing the halves with the whole
teaches the account's cap. An answer too large for the client's bounds (more
items than ``max_items_per_response``, a body over ``max_response_mb``: a busy
tenant catching up after downtime) is split the same way instead of failing
the account. The halves of one level are searched concurrently (the client
bounds concurrency): a deep split costs a few round trips, not one per part.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

import structlog

from tagger.engine.searchcap import CapTracker, Verdict
from tagger.engine.window import Window
from tagger.mimecast.client import MimecastClient, SearchResult
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.endpoints import SEARCH_PATH
from tagger.mimecast.errors import ResponseTooLarge
from tagger.mimecast.models import TrackedEmail

log = structlog.get_logger("tagger.engine")

T = TypeVar("T")

# Bounds on one window's search whatever the service answers: the messages kept
# (about 1.3 KB each), the searches made, and how many times a part is halved.
MAX_WINDOW_MESSAGES = 250_000
MAX_WINDOW_SEARCHES = 10_000
MAX_SPLIT_DEPTH = 24
# An answer larger than the account's bounds (``max_items_per_response``,
# ``max_response_mb``) splits its window like a truncated one; a part still
# too large after this many halvings in a row (64 times smaller: more mail than
# MAX_WINDOW_MESSAGES at the default bounds) is an error, after at most 127 calls.
MAX_OVERSIZED_HALVINGS = 6
# The bounds an answer may be over and still be split (the client's own).
SPLITTABLE = frozenset({"max_items_per_response", "max_response_mb"})


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
    """The de-duplicated messages one window yielded, and how they were found.

    ``verify_calls`` counts the calls spent on halves of windows that proved
    complete (what a server with a known cap would not have needed);
    ``saturated`` lists the parts still in doubt that could not be split;
    ``oversized`` counts the answers too large for the client's bounds, whose
    windows were split instead.
    """

    emails: dict[str, TrackedEmail] = field(default_factory=dict)
    calls: int = 0
    splits: int = 0
    verify_calls: int = 0
    saturated: list[Window] = field(default_factory=list)
    oversized: int = 0


@dataclass
class _Probe:
    """A split window, checked against the answers of its halves."""

    count: int
    ids: frozenset[str]
    halves: int
    suspect: bool
    answered: int = 0
    new_ids: bool = False
    smaller: bool = True

    def answer(self, emails: tuple[TrackedEmail, ...]) -> bool | None:
        """Take in one half's answer; once all are in, return whether the whole was truncated.

        Truncated: a half yielded messages the whole did not. Complete: no new
        message and every half answered fewer than the whole (so together they
        are exactly its messages, each complete). Otherwise (one half repeated
        the whole answer) undecided: None, as before the last half answered.
        """
        self.answered += 1
        self.new_ids = self.new_ids or any(e.id not in self.ids for e in emails)
        self.smaller = self.smaller and len(emails) < self.count
        if self.answered < self.halves:
            return None
        if self.new_ids:
            return True
        return False if self.smaller else None


Pending = tuple[Window, "_Probe | None", int]
# One search's answer: its messages, or the refusal of an answer too large.
Answer = tuple[TrackedEmail, ...] | ResponseTooLarge


async def search_window(
    client: MimecastClient,
    criteria: SearchCriteria,
    window: Window,
    *,
    cap: int,
    split_min_s: float,
    tracker: CapTracker | None = None,
    max_messages: int = MAX_WINDOW_MESSAGES,
    max_searches: int = MAX_WINDOW_SEARCHES,
    known: dict[str, TrackedEmail] | None = None,
) -> SearchOutcome:
    """Search ``window`` for ``criteria``, splitting windows whose answer may be truncated.

    Given the client, the criteria, the window, the configured result cap
    (only reported, never trusted), the smallest window (seconds) worth
    splitting, and the account's :class:`CapTracker` (shared by the searches
    of one cycle; None: a fresh one that knows nothing yet); returns every
    message found, keyed (and so de-duplicated) by Mimecast message ID. The
    tracker learns from every answer. Raises whatever the client raises: a
    window is done only if every part of it was searched; and
    :class:`~tagger.mimecast.errors.ResponseTooLarge` when the window holds
    more than ``max_messages`` messages, takes more than ``max_searches``
    searches or :data:`MAX_SPLIT_DEPTH` halvings (whatever the service
    answers, memory and calls stay bounded). ``known`` (shared by the searches
    of one cycle) keeps one copy of each message however many searches find
    it, without the raw answer it was parsed from.
    """
    kept = known if known is not None else {}
    caps = tracker if tracker is not None else CapTracker(cap)
    outcome = SearchOutcome()
    if window.empty:
        return outcome
    # The first answers of searches started together are judged together.
    caps.opening()
    count: int | None = None
    try:
        # Only the kept copies are held while the other first answers arrive.
        first = await _searched(client, criteria, window, kept)
        count = len(first) if isinstance(first, tuple) else first.items
    finally:
        caps.opened(count)
    await caps.settled()
    level: list[tuple[Window, _Probe | None, int, Answer]] = [(window, None, 0, first)]
    # Each level halves its parts down to ``split_min_s``, so the depth is bounded.
    depth = 0
    while level:
        pending: list[Pending] = []
        for _part, probe, _big, emails in level:
            outcome.calls += 1
            if not isinstance(emails, tuple):
                # The service answered that many: no answer smaller was cut by its cap.
                # (The first answer's count was noted when it opened.)
                if emails.items is not None and depth > 0:
                    caps.observe(emails.items)
                continue
            for email in emails:
                outcome.emails.setdefault(email.id, email)
            if probe is not None:
                caps.observe(len(emails))
                _settle(probe, probe.answer(emails), caps, outcome)
        for part, _probe, big, emails in level:
            if isinstance(emails, tuple):
                pending.extend(_next(part, emails, caps, outcome, criteria, split_min_s))
            else:
                pending.extend(_oversized(part, emails, big, outcome, criteria, split_min_s))
        depth += 1
        bounds = (max_messages, max_searches)
        _bounded(client, criteria, window, outcome, depth if pending else 0, len(pending), bounds)
        parts = [p for p, _, _ in pending]
        results = await gather_or_cancel(_searched(client, criteria, p, kept) for p in parts)
        level = [(p, pr, big, r) for (p, pr, big), r in zip(pending, results, strict=True)]
    return outcome


def _bounded(
    client: object,
    criteria: SearchCriteria,
    window: Window,
    outcome: SearchOutcome,
    depth: int,
    more: int,
    bounds: tuple[int, int],
) -> None:
    """Stop a window's search that outgrew its bounds, with an error saying what to change.

    Given what was found so far, the split level about to be searched and how
    many searches it takes; ``bounds`` are the most messages and searches.

    Raises :class:`ResponseTooLarge` (not retryable: the next cycle asks the
    same) naming the endpoint, the query, the window and the limit.
    """
    endpoints = getattr(client, "endpoints", None)
    endpoint = str(getattr(endpoints, "search", SEARCH_PATH))
    max_messages, max_searches = bounds
    span = f"window {window.start.isoformat()}..{window.end.isoformat()} of query {criteria.key()}"
    if len(outcome.emails) > max_messages:
        raise ResponseTooLarge(
            f"search {span} holds more than {max_messages} messages: stopped before memory"
            " runs out; nothing of it is processed (make windows shorter: lower"
            " window.max_catchup or window.initial_lookback, or the rules' lookback)",
            limit="window messages",
            endpoint=endpoint,
        )
    if outcome.calls + more > max_searches or depth > MAX_SPLIT_DEPTH:
        raise ResponseTooLarge(
            f"search {span} was split {outcome.splits} times ({outcome.calls} searches,"
            f" {depth - 1} levels) and is still in doubt: stopped at the limit of {max_searches}"
            f" searches and {MAX_SPLIT_DEPTH} levels (the service's answers do not shrink with"
            " the window; raise window.split_min)",
            limit="window searches",
            endpoint=endpoint,
        )


def _kept(result: SearchResult, known: dict[str, TrackedEmail]) -> tuple[TrackedEmail, ...]:
    """Return the answer's messages as the copies the cycle keeps (see :func:`search_window`).

    One copy per message however many searches find it, without the raw item
    it was parsed from: the answer itself (its JSON) is not held any longer.
    """
    out = []
    for email in result.emails:
        found = known.get(email.id)
        if found is None:
            found = known[email.id] = dataclasses.replace(email, raw={})
        out.append(found)
    return tuple(out)


async def _searched(
    client: MimecastClient,
    criteria: SearchCriteria,
    part: Window,
    known: dict[str, TrackedEmail],
) -> Answer:
    """Search one part of a window; return its messages as kept copies.

    An answer too large for the client's bounds (:data:`SPLITTABLE`) is
    returned as its :class:`ResponseTooLarge`, for the caller to split the
    part; every other error is raised.
    """
    try:
        result = await client.search(criteria, part.start, part.end)
    except ResponseTooLarge as exc:
        if exc.limit in SPLITTABLE:
            return exc
        raise
    return _kept(result, known)


def _oversized(
    part: Window,
    refused: ResponseTooLarge,
    halvings: int,
    outcome: SearchOutcome,
    criteria: SearchCriteria,
    split_min_s: float,
) -> list[Pending]:
    """Return the halves of ``part``, whose answer was too large for the client's bounds.

    ``halvings`` is how many times in a row ``part``'s ancestors were too
    large already. Raises ``refused`` (with what was tried added) when the
    part is as small as ``split_min_s`` allows, or after
    :data:`MAX_OVERSIZED_HALVINGS` halvings in a row.
    """
    seconds = (part.end - part.start).total_seconds()
    if seconds <= split_min_s or halvings >= MAX_OVERSIZED_HALVINGS:
        raise ResponseTooLarge(
            f"{refused.message} (window {part.start.isoformat()}..{part.end.isoformat()} of query"
            f" {criteria.key()}, still too large after {halvings} halvings)",
            limit=refused.limit,
            endpoint=refused.endpoint,
            status=refused.status,
            request_id=refused.request_id,
        ) from refused
    outcome.oversized += 1
    outcome.splits += 1
    log.warning(
        "search_answer_too_large",
        query=criteria.key(),
        start=part.start.isoformat(),
        end=part.end.isoformat(),
        limit=refused.limit,
        action="searching the two halves of the window instead",
    )
    return [(h, None, halvings + 1) for h in part.halves() if not h.empty]


def _settle(probe: _Probe, truncated: bool | None, caps: CapTracker, out: SearchOutcome) -> None:
    """Tell the tracker what a fully answered probe showed.

    The halves of a suspect window that proved complete are counted in
    ``verify_calls``: a server with a known cap would not have needed them.
    """
    if probe.answered < probe.halves:
        return
    caps.verified(probe.count, truncated=truncated)
    if probe.suspect and truncated is not None:
        log.info(
            "search_cap_checked",
            results=probe.count,
            truncated=truncated,
            calls=probe.halves,
            learned_cap=caps.knowledge.learned,
        )
    if truncated is False and probe.suspect:
        out.verify_calls += probe.halves
        caps.verify_calls += probe.halves


def _next(
    part: Window,
    emails: tuple[TrackedEmail, ...],
    caps: CapTracker,
    outcome: SearchOutcome,
    criteria: SearchCriteria,
    split_min_s: float,
) -> list[Pending]:
    """Return the halves of ``part`` to search next (none when its answer is complete).

    A part in doubt but too small to split is recorded in
    ``outcome.saturated`` and logged.
    """
    verdict = caps.classify(len(emails))
    if verdict is Verdict.COMPLETE:
        return []
    if (part.end - part.start).total_seconds() <= split_min_s:
        outcome.saturated.append(part)
        log.warning(
            "search_window_saturated",
            query=criteria.key(),
            start=part.start.isoformat(),
            end=part.end.isoformat(),
            results=len(emails),
            verdict=verdict.value,
            learned_cap=caps.knowledge.learned,
            configured_cap=caps.configured,
            action="messages of this window may be missing; lower window.split_min",
        )
        return []
    outcome.splits += 1
    halves = [h for h in _split(part, emails, verdict) if not h.empty]
    ids = frozenset(e.id for e in emails)
    probe = _Probe(len(emails), ids, len(halves), suspect=verdict is Verdict.SUSPECT)
    return [(h, probe, 0) for h in halves]


def _split(part: Window, emails: tuple[TrackedEmail, ...], verdict: Verdict) -> tuple[Window, ...]:
    """Return the two parts to search in place of ``part``.

    A truncated window is halved in time. A suspect one is cut in the middle
    of the span its results cover (when that is two seconds or more), so each
    part holds some of them: if the window was complete, both parts answer
    fewer results than the whole and one round of calls settles the doubt,
    however unevenly the mail is spread over the window.
    """
    times = sorted(e.received for e in emails if e.received is not None)
    if verdict is not Verdict.SUSPECT or not times or times[-1] - times[0] < timedelta(seconds=2):
        return part.halves()
    low, high = times[0], times[-1]
    mid = (low + (high - low) / 2).replace(microsecond=0)
    if not part.start < mid < part.end:
        return part.halves()
    return Window(part.start, mid), Window(mid, part.end)
