"""Releasing held pairs: what a rail kept back is applied once, after the rail is lifted.

A match that a rail kept from being applied is a held pair in the ledger
(:mod:`tagger.state.held`); its message was processed and its window moved on.
Each live cycle, after its new mail, looks at the account's held pairs:

- pairs of a rule whose definition changed (or that is gone) are **dropped**:
  the new definition is judged afresh on new mail (``backfill --rule`` covers
  the past);
- pairs older than the service keeps tracking data (:data:`TRACKING_RETENTION`)
  are **expired**, never tried;
- pairs whose rail is lifted (the rule promoted or resumed, the kill switch
  off, the account enabled) are applied through the engine's one apply path
  (:func:`tagger.engine.apply.apply_plans`): the pair recorded in state is
  skipped, after a cut-off run the message's tags are read first, the rule's
  budget is reserved, and the calls wait their turn at the quota until the
  cycle's bound, after which the rest waits for the next cycle.

A dry run applies nothing and resolves nothing: it counts what is released.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import structlog

from tagger.engine.apply import apply_plans
from tagger.engine.options import Account, Hooks
from tagger.engine.plan import MessagePlan, Wanted, plan_message, present_tag_ids
from tagger.engine.resolved import record_resolved
from tagger.engine.tally import CycleReport
from tagger.mimecast.errors import AuthenticationError, MimecastError, QuotaDeferred
from tagger.state.held import APPLIED, DROPPED, EXPIRED, HeldFilter, HeldRow

__all__ = ["TRACKING_RETENTION", "release_held"]

log = structlog.get_logger("tagger.engine")

# How long the service keeps tracking data (message-finder, message info):
# a held pair older than this cannot be found or tagged any more.
TRACKING_RETENTION = timedelta(days=30)
CHANGED = "the rule's definition changed before it was released; backfill --rule covers the past"
TOO_OLD = "older than the service's 30-day tracking retention; not tried"


async def release_held(
    account: Account,
    report: CycleReport,
    now: Callable[[], datetime],
    hooks: Hooks,
    batch: int,
    done: Callable[[], bool],
    max_failures: int = 5,
) -> None:
    """Drop, expire and release ``account``'s held pairs (see module docstring).

    ``batch`` is how many messages are released at once; ``done()`` says
    when to stop (a stop request, or the cycle's bound passed). A message
    whose apply fails is counted as any failure: retried by the next cycles,
    and after ``max_failures`` permanent failures set aside (its held pairs
    are dropped, saying why). Raises :class:`AuthenticationError` (after the
    applies in flight are recorded).
    """
    guard, ledger = account.guard, account.ledger
    if guard is None:
        return
    current = {r.id: r.content_hash for r in account.ruleset.all_rules()}
    free = {
        r.id: r.content_hash
        for r in account.ruleset.rules
        if r.id not in guard.awaiting and not guard.paused(r.id)
    }
    if ledger.dry_run:
        if not guard.stopped():
            rows = ledger.open_held(free)
            report.release_pending = sum(1 for r in rows if free.get(r.rule_id) == r.rule_hash)
        return
    at = now()
    for rule_id, rule_hash in sorted(ledger.held_identities()):
        if current.get(rule_id) != rule_hash:
            which = HeldFilter(rule_ids=frozenset({rule_id}), rule_hash=rule_hash)
            record_resolved(
                report, ledger.drop_held(DROPPED, at, CHANGED, which), "dropped", CHANGED
            )
    too_old = HeldFilter(received_before=at - TRACKING_RETENTION)
    expired = ledger.drop_held(EXPIRED, at, TOO_OLD, too_old)
    record_resolved(report, expired, "expired", TOO_OLD)
    if guard.stopped() or not free:
        return
    rows = [r for r in ledger.open_held(free) if free.get(r.rule_id) == r.rule_hash]
    by_message: dict[str, list[HeldRow]] = {}
    for row in rows:
        by_message.setdefault(row.message_id, []).append(row)
    pending = list(by_message.values())
    for start in range(0, len(pending), max(1, batch)):
        if done():
            break
        chunk = pending[start : start + batch]
        if not await _release(account, chunk, report, now, hooks, max_failures):
            break


async def _release(
    account: Account,
    messages: Sequence[Sequence[HeldRow]],
    report: CycleReport,
    now: Callable[[], datetime],
    hooks: Hooks,
    max_failures: int,
) -> bool:
    """Apply one batch of held pairs (grouped by message); False when the rest must wait.

    The rest waits when the quota had no turn for a call before the cycle's
    bound, or a rail came back (a limit reached while releasing).
    """
    ledger, guard = account.ledger, account.guard
    ids = [rows[0].message_id for rows in messages]
    recorded = ledger.recorded(ids)
    present: dict[str, set[str]] = {}
    if ledger.verify_present:
        read, go_on = await _read_present(account, ids, report)
        present.update(read)
        if not go_on:
            return False
    plans: list[MessagePlan] = []
    for rows in messages:
        mid = rows[0].message_id
        if ledger.verify_present and mid not in present:
            continue  # its read failed: tried again by the next cycle
        wanted = [Wanted(r.rule_id, r.rule_hash, "enforce", r.tag_ref, r.tag_id) for r in rows]
        plans.append(plan_message(mid, wanted, recorded, present.get(mid, set())))
    errors, held, waits = await apply_plans(account, plans, report, now, hooks)
    done = ledger.recorded(ids)
    at = now()
    resolved: list[HeldRow] = []
    railed: list[HeldRow] = []
    held_rules = {(m, r) for m, r in held}
    for rows in messages:
        for row in rows:
            on_message = row.tag_id in present.get(row.message_id, set())
            if (row.message_id, row.tag_id) in done or on_message:
                resolved.append(row)
            elif (row.message_id, row.rule_id) in held_rules:
                railed.append(row)
    ledger.resolve_held((r.key for r in resolved), APPLIED, at)
    record_resolved(report, resolved, "released")
    if railed and guard is not None:
        for rule_id in sorted({r.rule_id for r in railed}):
            mine = [r for r in railed if r.rule_id == rule_id]
            ledger.rehold(mine, guard.hold_reason(rule_id), at)
    ledger.clear_failures(r.message_id for r in resolved)
    for mid, failure in errors.items():
        if ledger.count_failure(mid, failure, max_failures, report, at):
            note = f"set aside after failed applies: {failure.error}"
            gone = ledger.drop_held(DROPPED, at, note, HeldFilter(message_id=mid))
            record_resolved(report, gone, "dropped", note)
    return not waits and not railed


async def _read_present(
    account: Account, ids: Sequence[str], report: CycleReport
) -> tuple[dict[str, set[str]], bool]:
    """Read the tags already on each message (after a cut-off run); False: the rest waits.

    Returns the tag ids per message read; a message whose read failed is
    left out (its pairs stay held and are tried again by the next cycle).
    """
    out: dict[str, set[str]] = {}

    async def one(mid: str) -> None:
        info = await account.client.get_message_info(mid)
        tags = ((t.id, t.name, t.path) for t in info.smart_tags)
        out[mid] = present_tag_ids(tags, account.tag_ids)

    results = await asyncio.gather(*(one(mid) for mid in ids), return_exceptions=True)
    report.info_calls += len(ids)
    go_on = True
    for mid, result in zip(ids, results, strict=True):
        if isinstance(result, AuthenticationError):
            raise result
        if isinstance(result, QuotaDeferred):
            go_on = False
        elif isinstance(result, MimecastError):
            report.errors.append(f"held pairs of message {mid}: {result}")
        elif isinstance(result, BaseException):
            raise result
    return out, go_on
