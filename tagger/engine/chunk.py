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

from tagger.engine.apply import apply_plans
from tagger.engine.candidate import Candidate, Failure
from tagger.engine.options import Account, CycleOptions, Hooks
from tagger.engine.plan import MessagePlan, Wanted, plan_message, present_tag_ids
from tagger.engine.tally import CycleReport
from tagger.mimecast.errors import AuthenticationError, MimecastError, QuotaDeferred
from tagger.mimecast.models import Message, MessageInfo
from tagger.rules import CompiledRule, Decision, evaluate, prefilter
from tagger.state.held import AWAITING, LIMIT, HeldRow

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


class Chunk:
    """One chunk of candidates, processed together and settled by the ledger at once.

    Each message goes its own way as soon as it can: its info is read (when a
    rule needs it), its rules are evaluated and its tags applied while other
    messages still wait for their info, so the client's concurrency stays busy
    instead of idling at a barrier between reading and applying. Failures hold
    their queries' windows back (the ledger's :meth:`~tagger.engine.ledger.Ledger.settle`);
    a tag a rail keeps back does not: it is recorded as a held pair.
    """

    def __init__(
        self,
        account: Account,
        options: CycleOptions,
        candidates: Sequence[Candidate],
        report: CycleReport,
        now: Callable[[], datetime],
        stop: asyncio.Event | None,
        hooks: Hooks,
    ) -> None:
        self.account = account
        self.options = options
        self.candidates = candidates
        self.report = report
        self.now = now
        self.stop = stop
        self.hooks = hooks
        self.ledger = account.ledger
        self.rules_by_id = account.ruleset.by_id
        # Filled by _triage: the rules left after the pre-filter, and who needs info.
        self.eligible: dict[str, list[CompiledRule]] = {}
        self.need_info: set[str] = set()
        self.recorded: Set[tuple[str, str]] = frozenset()
        # Pairs held before this chunk, by (message, rule): judged again, they are not
        # written to the audit file again (one entry per message, rule hash and outcome).
        self.held_before: Mapping[tuple[str, str], HeldRow] = {}
        # Filled as messages finish.
        self.failures: dict[str, Failure] = {}
        self.planned: dict[str, tuple[list[Decision], MessagePlan]] = {}
        # Messages the quota had no turn for before the cycle's bound (left for the next).
        self.quota_deferred: set[str] = set()
        self.held_rules: dict[str, set[str]] = {}
        # The messages still reading their info (cancelled on a stop), by id.
        self.reading: dict[str, asyncio.Future[None]] = {}
        self.halted = False

    async def run(self) -> None:
        """Process the chunk, report each message in chunk order, and settle it.

        When ``stop`` is set, the reads still outstanding are cancelled and no
        further message starts applying; applies already started finish and
        are recorded, nothing of the chunk is marked processed (the next run
        does it) and the report is marked interrupted. Raises
        :class:`AuthenticationError` after the applies in flight have finished.
        """
        self._triage()
        self.recorded = self.ledger.recorded(c.summary.id for c in self.candidates)
        if not self.ledger.dry_run:  # a preview lists every match it judged
            self.held_before = self.ledger.held_among(c.summary.id for c in self.candidates)
        tasks = []
        for cand in self.candidates:
            task = asyncio.ensure_future(self._guarded(cand))
            tasks.append(task)
            if cand.summary.id in self.need_info:
                self.reading[cand.summary.id] = task
        work = asyncio.gather(*tasks, return_exceptions=True)
        interrupted = not await done_before_stop(work, self.stop)
        if interrupted:
            self._cancel_reads()
        for outcome in await work:
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                raise outcome
        self._report_decisions()
        self._write_audit()
        if interrupted or self._stopping():
            self.report.interrupted = True
            return
        self.ledger.settle(
            self.candidates,
            self.failures,
            self.options.max_failures,
            self.report,
            self.now(),
            self.quota_deferred,
        )

    def _triage(self) -> None:
        """Pre-filter each candidate's rules on the search fields; note who needs info."""
        for cand in self.candidates:
            live = []
            unknown = False
            for rule_id in cand.rule_ids:
                rule = self.rules_by_id[rule_id]
                verdict = prefilter(rule, cand.summary)
                if verdict is False:
                    continue
                live.append(rule)
                unknown = unknown or self.ledger.needs_info(verdict)
            self.eligible[cand.summary.id] = live
            self.report.scanned += 1
            if unknown:
                self.need_info.add(cand.summary.id)
        self.report.info_calls += len(self.need_info)

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _cancel_reads(self) -> None:
        for task in list(self.reading.values()):
            task.cancel()

    async def _guarded(self, cand: Candidate) -> None:
        """Process one message; an account-level error stops the whole chunk's reads."""
        try:
            await self._message(cand)
        except AuthenticationError:
            # Account-level: as for a stop, the outstanding reads are cancelled
            # and no further apply starts (those started finish and are recorded).
            self.halted = True
            self._cancel_reads()
            raise

    async def _message(self, cand: Candidate) -> None:
        """Read one message's info (when needed), plan its tags and apply them."""
        mid = cand.summary.id
        info: MessageInfo | None = None
        if mid in self.need_info:
            try:
                info = await self.account.client.get_message_info(mid)
            except AuthenticationError:
                raise
            except QuotaDeferred as exc:
                self._defer(cand, exc)
                return
            except MimecastError as exc:
                self.failures[mid] = Failure.of(exc, "empty message info")
                return
            finally:
                self.reading.pop(mid, None)
        # No await since the read: a stop seen here cannot race a cancellation.
        if self.halted or self._stopping():
            return
        decisions, plan = _plan(
            self.account, self.rules_by_id, self.eligible[mid], cand, info, self.recorded
        )
        self.planned[mid] = (decisions, plan)
        guard = self.account.guard
        if guard is not None:
            for decision in decisions:
                guard.note_match(decision.rule_id, self.now())
        if not self.ledger.dry_run:
            self._hold_awaiting(cand, plan)
            errors, held, waits = await apply_plans(
                self.account, [plan], self.report, self.now, self.hooks, {mid: cand.summary}
            )
            self.failures.update(errors)
            if waits:
                self._defer(cand, waits[0])
            if held:
                self._hold_railed(cand, plan, {rule_id for _, rule_id in held})

    def _hold_awaiting(self, cand: Candidate, plan: MessagePlan) -> None:
        """Record the planned tags of rules awaiting promotion as held pairs.

        The message is processed as any other: promotion applies the pairs
        (:mod:`tagger.engine.release`), nothing is searched or read again.
        """
        guard = self.account.guard
        if guard is None or not guard.awaiting:
            return
        waiting = [a for a in plan.actions if a.rule_id in guard.awaiting]
        if waiting:
            self.ledger.hold(waiting, AWAITING, self.now(), cand.summary.received)
            for action in waiting:
                self.report.per_rule(action.rule_id).held += 1

    def _hold_railed(self, cand: Candidate, plan: MessagePlan, rule_ids: set[str]) -> None:
        """Record the tags of ``rule_ids`` that a rail kept from being applied as held pairs.

        Recorded before the chunk marks the message processed: a crash in
        between judges it again, and holding a pair again is harmless.
        """
        guard = self.account.guard
        mid = cand.summary.id
        self.held_rules.setdefault(mid, set()).update(rule_ids)
        applied = self.ledger.recorded([mid])
        for rule_id in sorted(rule_ids):
            actions = [
                a for a in plan.executable() if a.rule_id == rule_id and a.pair not in applied
            ]
            reason = guard.hold_reason(rule_id) if guard is not None else LIMIT
            self.ledger.hold(actions, reason, self.now(), cand.summary.received)

    def _defer(self, cand: Candidate, why: QuotaDeferred) -> None:
        """Leave ``cand`` for the next cycle: its call had no turn at the quota in time."""
        if cand.summary.id in self.quota_deferred:
            return
        self.quota_deferred.add(cand.summary.id)
        self.report.quota_deferred += 1
        self.report.quota_wait_s = max(self.report.quota_wait_s, why.wait_s)
        self.report.note_deferred(cand.summary.received)

    def _write_audit(self) -> None:
        """Append the entries of the report not written yet (this chunk's) to the audit file.

        Before the chunk is settled: a message is never marked processed with
        its outcome still unwritten. A write that fails is reported once and
        leaves the entries to the writer at the end of the cycle.
        """
        guard = self.account.guard
        journal = None if guard is None else guard.journal
        report = self.report
        if journal is None or journal.broken is not None:
            return
        try:
            journal.append_entries(self.account.name, report.entries)
        except OSError as exc:
            why = journal.failure(exc)
            report.errors.append(why)
            log.error("audit_write_failed", account=self.account.name, error=why)
            return
        # Written: no longer held, so a cycle's memory does not follow its backlog.
        report.audited += len(report.entries)
        report.entries.clear()

    def _report_decisions(self) -> None:
        """Add each planned message's decisions to the report, in chunk order."""
        for cand in self.candidates:
            mid = cand.summary.id
            if mid not in self.planned or mid in self.quota_deferred:
                continue  # a deferred message is judged (and reported) by the next cycle
            decisions, plan = self.planned[mid]
            failure = self.failures.get(mid)
            held: Set[str] = self.held_rules.get(mid, frozenset())
            self.report.add_decisions(
                cand.summary,
                decisions,
                plan,
                None if failure is None else failure.error,
                held,
                self._repeats(mid, decisions, held),
            )

    def _repeats(self, mid: str, decisions: Sequence[Decision], held: Set[str]) -> set[str]:
        """Return the rules whose entry for ``mid`` would repeat one already written.

        A message judged again (a rule set changed, the overlap) whose pair of
        a rule is still held, under the same definition and for the same kind
        of rail (awaiting promotion, or another rail), has its entry already.
        """
        guard = self.account.guard
        out: set[str] = set()
        for decision in decisions:
            before = self.held_before.get((mid, decision.rule_id))
            rule = self.rules_by_id.get(decision.rule_id)
            if before is None or rule is None or before.rule_hash != rule.content_hash:
                continue
            awaiting = guard is not None and decision.rule_id in guard.awaiting
            if (before.reason == AWAITING) == awaiting and (awaiting or decision.rule_id in held):
                out.add(decision.rule_id)
        return out


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
