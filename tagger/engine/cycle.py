"""One cycle for one account: search, filter, fetch, evaluate, plan, apply, record.

This is the single code path behind ``once``, ``run``, ``backfill`` and every
dry run; the scheduler only decides when it runs. Rule evaluation and planning
are pure (``tagger.rules``, ``tagger.engine.plan``); what is recorded, and when
a watermark may move, is the ledger's (:mod:`tagger.engine.ledger`). This
module keeps concurrency and ordering: the API calls go through the injected
client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from tagger.engine.ledger import Candidate, Failure, Ledger
from tagger.engine.plan import Action, MessagePlan, Wanted, plan_message, present_tag_ids
from tagger.engine.report import CycleReport
from tagger.engine.scope import SearchScope, scoped_search
from tagger.engine.search import SearchOutcome, gather_or_cancel, search_window
from tagger.engine.searchcap import CapTracker
from tagger.engine.window import Window, WindowPolicy
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import AuthenticationError, MimecastError
from tagger.mimecast.models import Message, MessageInfo, TrackedEmail
from tagger.rules import CompiledRule, Decision, RuleSet, evaluate, prefilter
from tagger.rules.model import Query

__all__ = ["Account", "CycleOptions", "run_account_cycle"]

log = structlog.get_logger("tagger.engine")

# How many chunks are in flight at once.
OVERLAP = 2


@dataclass(frozen=True, slots=True)
class CycleOptions:
    """How one cycle runs.

    Built from the config by :func:`tagger.service.runtime.cycle_options`.
    ``window`` fixes the span (backfill) instead of the watermark;
    ``skip_queries`` holds the keys of queries not searched this time;
    ``interval`` (the daemon's) also skips the queries whose rules' own
    ``schedule`` is not due, and records when each query was searched;
    ``audit`` keeps an audit entry (with its explanation) per match.
    """

    policy: WindowPolicy
    search_cap: int
    max_failures: int
    dry_run: bool = False
    chunk: int = 256
    window: Window | None = None
    advance_watermark: bool = True
    skip_queries: frozenset[str] = frozenset()
    interval: timedelta | None = None
    audit: bool = True


def _ignore(*_args: str) -> None:
    """Do nothing (the default hook)."""


@dataclass(frozen=True, slots=True)
class Hooks:
    """Told about a cycle's progress as it happens (metrics, watchdog); must not block.

    ``tag_applied(account, rule, tag)``: one Smart Tag (as the rule names it)
    was applied and recorded; ``progress(account)``: the cycle completed a
    step (a search or a chunk of messages).
    """

    tag_applied: Callable[[str, str, str], None] = _ignore
    progress: Callable[[str], None] = _ignore


NO_HOOKS = Hooks()


@dataclass(frozen=True, slots=True)
class Account:
    """Everything the cycle needs about one account, built by the composition root."""

    name: str
    client: MimecastClient
    ruleset: RuleSet
    tag_ids: Mapping[str, str]
    ledger: Ledger
    scope: SearchScope | None = None


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
        if await _done_before_stop(searching, stop):
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
            work = _process_chunk(account, options, chunk, report, now, stop, hooks)
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


async def _done_before_stop(work: asyncio.Future[Any], stop: asyncio.Event | None) -> bool:
    """Wait until ``work`` is done or ``stop`` is set; True when ``work`` is done."""
    if stop is None:
        await asyncio.wait({work})
        return True
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    return work.done()


async def _process_chunk(
    account: Account,
    options: CycleOptions,
    chunk: Sequence[Candidate],
    report: CycleReport,
    now: Callable[[], datetime],
    stop: asyncio.Event | None,
    hooks: Hooks,
) -> None:
    """Process one chunk of candidates; the ledger settles it (failures hold windows back).

    Each message goes its own way as soon as it can: its info is read (when a
    rule needs it), its rules are evaluated and its tags applied while other
    messages still wait for their info, so the client's concurrency stays busy
    instead of idling at a barrier between reading and applying. When ``stop``
    is set, the reads still outstanding are cancelled and no further message
    starts applying; applies already started finish and are recorded, nothing
    of the chunk is marked processed (the next run does it) and the report is
    marked interrupted.
    """
    ledger = account.ledger
    rules_by_id = account.ruleset.by_id
    eligible: dict[str, list[CompiledRule]] = {}
    need_info: set[str] = set()
    for cand in chunk:
        live = []
        unknown = False
        for rule_id in cand.rule_ids:
            rule = rules_by_id[rule_id]
            verdict = prefilter(rule, cand.summary)
            if verdict is False:
                continue
            live.append(rule)
            unknown = unknown or ledger.needs_info(verdict)
        eligible[cand.summary.id] = live
        report.scanned += 1
        if unknown:
            need_info.add(cand.summary.id)
    report.info_calls += len(need_info)

    recorded = ledger.recorded(c.summary.id for c in chunk)
    failures: dict[str, Failure] = {}
    planned: dict[str, tuple[list[Decision], MessagePlan]] = {}
    reading: set[asyncio.Future[None]] = set()
    halted: list[str] = []

    async def one(cand: Candidate) -> None:
        mid = cand.summary.id
        info: MessageInfo | None = None
        if mid in need_info:
            try:
                info = await account.client.get_message_info(mid)
            except AuthenticationError:
                raise
            except MimecastError as exc:
                failures[mid] = Failure.of(exc, "empty message info")
                return
            finally:
                reading.discard(tasks[mid])
        # No await since the read: a stop seen here cannot race a cancellation.
        if halted or (stop is not None and stop.is_set()):
            return
        decisions, plan = _plan(account, rules_by_id, eligible[mid], cand, info, recorded)
        planned[mid] = (decisions, plan)
        if not options.dry_run:
            failures.update(await _execute(account, [plan], report, now, hooks))

    async def guarded(cand: Candidate) -> None:
        try:
            await one(cand)
        except AuthenticationError:
            # Account-level: as for a stop, the outstanding reads are cancelled
            # and no further apply starts (those started finish and are recorded).
            halted.append(cand.summary.id)
            for task in list(reading):
                task.cancel()
            raise

    tasks: dict[str, asyncio.Future[None]] = {}
    for cand in chunk:
        tasks[cand.summary.id] = asyncio.ensure_future(guarded(cand))
        if cand.summary.id in need_info:
            reading.add(tasks[cand.summary.id])
    work = asyncio.gather(*tasks.values(), return_exceptions=True)
    interrupted = not await _done_before_stop(work, stop)
    if interrupted:
        for task in list(reading):
            task.cancel()
    outcomes = await work
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome
    # Reported in chunk order, whatever order the messages finished in.
    for cand in chunk:
        if cand.summary.id in planned:
            decisions, plan = planned[cand.summary.id]
            failure = failures.get(cand.summary.id)
            report.add_decisions(
                cand.summary, decisions, plan, None if failure is None else failure.error
            )
    if interrupted or (stop is not None and stop.is_set()):
        report.interrupted = True
        return
    ledger.settle(chunk, failures, options.max_failures, report, now())


def _plan(
    account: Account,
    rules_by_id: Mapping[str, CompiledRule],
    eligible: Sequence[CompiledRule],
    cand: Candidate,
    info: MessageInfo | None,
    recorded: Set[tuple[str, str]],
) -> tuple[list[Decision], MessagePlan]:
    """Evaluate one message and plan its tags (pure).

    Given the rules that survived the pre-filter, the message's summary and
    info (None when no rule needed it) and the pairs already recorded; returns
    the decisions of those rules and the plan.
    """
    message = Message(cand.summary, info)
    allowed = {r.id for r in eligible}
    decisions = [d for d in evaluate(account.ruleset, message) if d.rule_id in allowed]
    tag_ids = account.tag_ids
    wanted = [
        Wanted(d.rule_id, rules_by_id[d.rule_id].content_hash, d.mode, ref, tag_ids[ref])
        for d in decisions
        for ref in d.tags
    ]
    present = _present(info, tag_ids)
    return decisions, plan_message(cand.summary.id, wanted, recorded, present)


def _present(info: MessageInfo | None, tag_ids: Mapping[str, str]) -> set[str]:
    """Return the ids of tags already on the message (empty without info)."""
    if info is None:
        return set()
    return present_tag_ids(((t.id, t.name, t.path) for t in info.smart_tags), tag_ids)


async def _execute(
    account: Account,
    plans: Sequence[MessagePlan],
    report: CycleReport,
    now: Callable[[], datetime],
    hooks: Hooks,
) -> dict[str, Failure]:
    """Apply every enforce-mode action and record each success at once.

    Returns, per message with a failed apply, the failure. Every apply that
    returned is recorded before this returns, so a stop request after it loses
    nothing.
    """

    async def one(action: Action) -> tuple[Action, Failure | None]:
        try:
            await account.client.apply_smart_tag(action.message_id, action.tag_id)
        except AuthenticationError:
            raise
        except MimecastError as exc:
            return action, Failure.of(exc, "apply failed")
        account.ledger.record_applied(action, now())
        report.applied += 1
        report.per_rule(action.rule_id).applied += 1
        hooks.tag_applied(account.name, action.rule_id, action.tag_ref)
        log.debug(
            "tag_applied",
            account=account.name,
            message_id=action.message_id,
            rule=action.rule_id,
            tag=action.tag_ref,
            tag_id=action.tag_id,
        )
        return action, None

    actions = [a for plan in plans for a in plan.executable()]
    errors: dict[str, Failure] = {}
    # Every apply runs to its end (and is recorded) before an account-level
    # error is raised: none is left running unobserved.
    results = await asyncio.gather(*(one(a) for a in actions), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    for action, error in (r for r in results if not isinstance(r, BaseException)):
        if error is not None:
            errors.setdefault(action.message_id, error)
            log.error(
                "tag_apply_failed",
                account=account.name,
                message_id=action.message_id,
                rule=action.rule_id,
                tag=action.tag_ref,
                transient=error.transient,
                error=error.error,
            )
    return errors
