"""One chunk of a cycle's messages: read info when needed, evaluate, plan, apply, record.

Each message goes its own way as soon as it can (bounded by the client's
concurrency); the ledger records every apply at once and settles the chunk
(processed marks, failures) when all its messages are done. Evaluation and
planning are pure (``tagger.rules``, ``tagger.engine.plan``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence, Set
from datetime import datetime
from typing import Any

import structlog

from tagger.engine.ledger import Candidate, Failure
from tagger.engine.options import Account, CycleOptions, Hooks
from tagger.engine.plan import Action, MessagePlan, Wanted, plan_message, present_tag_ids
from tagger.engine.tally import CycleReport
from tagger.mimecast.errors import AuthenticationError, MimecastError
from tagger.mimecast.models import Message, MessageInfo
from tagger.rules import CompiledRule, Decision, evaluate, prefilter

log = structlog.get_logger("tagger.engine")


async def done_before_stop(work: asyncio.Future[Any], stop: asyncio.Event | None) -> bool:
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


async def process_chunk(
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
    deferred: set[str] = set()
    held_rules: dict[str, set[str]] = {}
    guard = account.guard
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
        if guard is not None:
            for decision in decisions:
                guard.note_match(decision.rule_id, now())
            if any(a.rule_id in guard.awaiting for a in plan.actions):
                # Applied once the rule is promoted: the message stays unprocessed.
                deferred.add(mid)
        if not options.dry_run:
            errors, held = await _execute(account, [plan], report, now, hooks)
            failures.update(errors)
            for message_id, rule_id in held:
                deferred.add(message_id)
                held_rules.setdefault(message_id, set()).add(rule_id)

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
    interrupted = not await done_before_stop(work, stop)
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
                cand.summary,
                decisions,
                plan,
                None if failure is None else failure.error,
                held_rules.get(cand.summary.id, frozenset()),
            )
    if interrupted or (stop is not None and stop.is_set()):
        report.interrupted = True
        return
    report.deferred += len(deferred - failures.keys())
    ledger.settle(chunk, failures, options.max_failures, report, now(), deferred)


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
    guard = account.guard
    wanted = [
        Wanted(
            d.rule_id,
            rules_by_id[d.rule_id].content_hash,
            d.mode if guard is None else guard.mode(d.rule_id, d.mode),  # type: ignore[arg-type]
            ref,
            tag_ids[ref],
        )
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
) -> tuple[dict[str, Failure], set[tuple[str, str]]]:
    """Apply every enforce-mode action the rails allow and record each success at once.

    Returns, per message with a failed apply, the failure, and the (message,
    rule) pairs of the actions a rail held back (kill switch, paused rule): each
    apply reserves its rule's budget first and gives it back when it fails.
    Every apply that returned is recorded before this returns, so a stop
    request after it loses nothing.
    """
    guard = account.guard
    held: set[tuple[str, str]] = set()

    async def one(action: Action) -> tuple[Action, Failure | None]:
        if guard is not None and (guard.stopped() or not guard.reserve(action.rule_id, now())):
            held.add((action.message_id, action.rule_id))
            report.per_rule(action.rule_id).held += 1
            return action, None
        try:
            await account.client.apply_smart_tag(action.message_id, action.tag_id)
        except AuthenticationError:
            raise
        except MimecastError as exc:
            if guard is not None:
                guard.release(action.rule_id)
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
    return errors, held
