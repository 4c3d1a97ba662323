"""The rails of one account's cycle: who may apply, and how much (see :mod:`tagger.rails`).

Built once per cycle from the config, the rule set and the ledger:

- the **modes** of the rules (a rule awaiting promotion audits);
- the **budget** (per-rule apply limits, the anomaly guard) and the pauses
  already in state (a pause whose limit was raised above its count is lifted);
- the **kill switch** (``tagger pause --all``, or ``enabled: false``) and the
  pauses, read from the state again at the moment each apply is sent
  (:meth:`Guard.clearance`), never from a copy: an apply the command's commit
  precedes is never sent;
- the **write-ahead audit record** of each apply, appended (and on disk)
  before it is sent; an audit write that fails withholds the apply.

A planned tag that a rail keeps from being applied is recorded as a held
pair (:meth:`Guard.hold_reason` says why) and its message is processed as any
other; lifting the rail releases the pairs (:mod:`tagger.engine.release`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import structlog

from tagger.audit.journal import Journal
from tagger.engine.ledger import Ledger
from tagger.engine.sends import Sends
from tagger.mimecast.clearance import Clearance, Withheld
from tagger.rails.budget import Budget, History, Limits, Pause
from tagger.rails.rollout import Rollout, RuleIdentity, awaiting_promotion
from tagger.rules import CompiledRule
from tagger.state.held import AWAITING, DISABLED, KILL_SWITCH, LIMIT, PAUSED
from tagger.state.railstore import PauseRow

log = structlog.get_logger("tagger.engine")

# How far back cycles count towards a rule's trailing average of matches.
HISTORY_SPAN = timedelta(days=7)

# Which limit a pause reason names (stored with the pause).
_KINDS = {"per-cycle apply limit": "per_cycle", "24-hour apply limit": "per_day"}
# The kind of a pause made by ``tagger pause RULE`` (no limit lifts it).
MANUAL = "manual"


@dataclass
class Guard:
    """One account's rails for one cycle (see module docstring). Not thread-safe."""

    ledger: Ledger
    budget: Budget
    awaiting: frozenset[str] = frozenset()
    enabled: bool = True
    now: Callable[[], datetime] | None = None
    new_pauses: list[Pause] = field(default_factory=list)
    # The rules paused by ``tagger pause RULE`` (the others were paused by a limit).
    manual: frozenset[str] = frozenset()
    # The process's sends under way (for ``tagger pause`` to wait on); None: not tracked.
    sends: Sends | None = None
    # The write-ahead audit record (None: no audit file, or a dry run).
    journal: Journal | None = None
    # Rules this cycle paused for reaching an apply limit (their reserved applies go on).
    _limited: set[str] = field(default_factory=set)

    def mode(self, rule_id: str, configured: str) -> str:
        """Return the mode a rule runs in this cycle (audit while awaiting promotion)."""
        return "audit" if rule_id in self.awaiting else configured

    def stopped(self) -> bool:
        """Return whether no apply may start now (kill switch on, or account disabled).

        Read from the state each time: no copy outlives a ``tagger pause``.
        """
        return not self.enabled or self.ledger.killed()

    def withheld_by(self, rule_id: str) -> str | None:
        """Return why an apply of ``rule_id`` may not be sent now (None: it may).

        The kill switch and the rule's pause as the state holds them now. A
        pause this cycle made when the rule reached its apply limit does not
        withhold the applies reserved within that limit (the budget refuses
        the rest).
        """
        if self.stopped():
            return "the kill switch is on" if self.enabled else "the account is disabled"
        if rule_id not in self._limited and self.ledger.rule_paused(rule_id):
            return f"rule {rule_id!r} is paused"
        return None

    def clearance(
        self, rule_id: str, intent: Callable[[], Mapping[str, Any]] | None = None
    ) -> Clearance:
        """Return the clearance of one apply of ``rule_id`` (see :mod:`tagger.mimecast.clearance`).

        Entered right before the request goes out: the rails are read again,
        the write-ahead record ``intent()`` returns is appended to the audit
        file (and on disk), and the send is counted under way until its
        answer is in. Raises :class:`Withheld` (nothing sent) when a rail
        holds it, or when the intent could not be written. A state that
        cannot be read raises its StateError: nothing is sent then either.
        """
        return partial(self._cleared, rule_id, intent)

    @contextmanager
    def _cleared(
        self, rule_id: str, intent: Callable[[], Mapping[str, Any]] | None
    ) -> Iterator[None]:
        why = self.withheld_by(rule_id)
        if why is not None:
            raise Withheld(why, rail=True)
        if self.journal is not None and intent is not None:
            try:
                self.journal.append(intent())
            except OSError as exc:
                raise Withheld(self.journal.failure(exc), rail=False) from None
        tracked: AbstractContextManager[None] = (
            self.sends.one() if self.sends is not None else nullcontext()
        )
        with tracked:
            yield

    def hold_reason(self, rule_id: str) -> str:
        """Return why a planned tag of ``rule_id`` is held (see :mod:`tagger.state.held`).

        The account disabled, then the kill switch, then the rule's own rail:
        awaiting promotion, paused by the operator, or paused by a limit.
        """
        if not self.enabled:
            return DISABLED
        if self.ledger.killed():
            return KILL_SWITCH
        if rule_id in self.awaiting:
            return AWAITING
        return PAUSED if rule_id in self.manual else LIMIT

    def holds(self, rule_id: str) -> bool:
        """Return whether a rail keeps ``rule_id`` from applying now (kill switch read fresh)."""
        return self.stopped() or rule_id in self.awaiting or self.paused(rule_id)

    def paused(self, rule_id: str) -> bool:
        """Return whether ``rule_id`` is paused (before this cycle or during it)."""
        return rule_id in self.budget.paused

    def note_match(self, rule_id: str, at: datetime) -> None:
        """Count one match of ``rule_id``; an anomalous one pauses the rule.

        A rule already paused stays paused as it was (its pause is not made
        again, so the kind of limit that paused it, which a raised limit
        lifts, is kept).
        """
        if rule_id in self.budget.paused:
            return
        self._persist(self.budget.note_match(rule_id), "anomaly", at)

    def reserve(self, rule_id: str, at: datetime) -> bool:
        """Reserve one apply of ``rule_id``; False when the rule is (now) paused."""
        before = rule_id in self.budget.paused
        pause = self.budget.reserve(rule_id)
        if pause is not None and not before:
            self._limited.add(rule_id)
            self._persist(pause, _KINDS.get(pause.reason, "per_cycle"), at)
        return pause is None

    def release(self, rule_id: str) -> None:
        """Give back a reservation whose apply did not happen."""
        self.budget.release(rule_id)

    def _persist(self, pause: Pause | None, kind: str, at: datetime) -> None:
        if pause is None or pause in self.new_pauses:
            return
        self.new_pauses.append(pause)
        row = PauseRow(
            self.ledger.account, pause.rule_id, pause.reason, pause.limit, pause.count, kind, at
        )
        self.ledger.pause(row)
        log.error(
            "rule_paused", account=self.ledger.account, rule=pause.rule_id, error=pause.message()
        )


def rule_limits(rule: CompiledRule, base: Limits) -> Limits:
    """Return ``base`` with the rule's own ``max_applies`` (when it sets any) applied."""
    per_cycle, per_day = rule.max_applies
    return Limits(
        per_cycle=base.per_cycle if per_cycle is None else per_cycle,
        per_day=base.per_day if per_day is None else per_day,
        anomaly_factor=base.anomaly_factor,
        anomaly_min_cycles=base.anomaly_min_cycles,
        anomaly_floor=base.anomaly_floor,
    )


def build_guard(
    ledger: Ledger,
    rules: Iterable[CompiledRule],
    base: Limits,
    rollout: Rollout,
    at: datetime,
    *,
    enabled: bool = True,
    sends: Sends | None = None,
    journal: Journal | None = None,
) -> Guard:
    """Return the rails of ``ledger``'s account for a cycle starting at ``at``.

    Reads the pauses, promotions and rule history from the state; lifts (and
    logs) a pause whose limit in force was raised above the count it reached.
    """
    rules = list(rules)
    limits = {r.id: rule_limits(r, base) for r in rules}
    past = ledger.rule_history(at, HISTORY_SPAN)
    history = {
        rule_id: History(applied_24h=day, cycles=n, matched_total=m)
        for rule_id, (n, m, day) in past.items()
    }
    budget = Budget(limits, history)
    manual: set[str] = set()
    for row in ledger.pauses():
        lim = limits.get(row.rule_id)
        if lim is not None and _raised(row.kind, row.limit, row.count, lim):
            ledger.lift_pause(row.rule_id)
            log.info(
                "rule_pause_lifted", account=ledger.account, rule=row.rule_id, why="limit raised"
            )
            continue
        budget.paused[row.rule_id] = Pause(row.rule_id, row.reason, row.limit, row.count)
        if row.kind == MANUAL:
            manual.add(row.rule_id)
    identities = [RuleIdentity(r.id, r.content_hash, r.mode) for r in rules]
    waiting = awaiting_promotion(identities, rollout, ledger.promotions())
    return Guard(
        ledger,
        budget,
        frozenset(waiting),
        enabled,
        manual=frozenset(manual),
        sends=sends,
        journal=journal,
    )


def _raised(kind: str, limit: int, count: int, now: Limits) -> bool:
    """Return whether the limit that paused a rule is now above the count it reached."""
    current: Mapping[str, int] = {"per_cycle": now.per_cycle, "per_day": now.per_day}
    if kind not in current:
        return False
    return current[kind] > limit and current[kind] > count
