"""What a ledger keeps for its account besides exactly-once: rails, search caps, cursors.

:class:`AccountBook` holds the records that the cycle reads and writes around
its applies (the rails' pauses, promotions and per-rule history, the state's
soundness for the preflight, the learned search cap, when each query was last
searched, backfill cursors). :class:`tagger.engine.ledger.Ledger` builds on it
and adds what makes a tag land exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from tagger.engine.plan import Action
from tagger.engine.searchcap import CapTracker
from tagger.state import StateError, StateStore
from tagger.state.held import HELD, HeldCount, HeldFilter, HeldRow
from tagger.state.railstore import WRITE_CHECK, PauseRow, RuleCycleRow


class AccountBook:
    """One account's records in the state (given the state and the account's name)."""

    def __init__(self, state: StateStore, account: str) -> None:
        self.state = state
        self.account = account

    # -- the safety rails -----------------------------------------------------------

    def check_state(self, at: datetime) -> list[str]:
        """Return the problems of the state before the first apply (empty: sound).

        The file must pass ``PRAGMA quick_check`` and take a write (the kill
        check's own row is written, never the kill switch's).
        """
        try:
            rows = self.state.quick_report()
            if rows != "ok":
                return [
                    f"state file {self.state.path} fails its integrity check ({rows[:200]}):"
                    " stop tagger, restore a backup or run the state recovery"
                ]
            # A row of its own: rewriting the kill switch could undo a pause made meanwhile.
            self.state.set_switch(WRITE_CHECK, False, at)
        except StateError as exc:
            return [f"{exc}: make the state file and its folder writable by the tagger user"]
        return []

    def killed(self) -> bool:
        """Return whether the kill switch (``tagger pause --all``) is on (file or row)."""
        return self.state.kill_switch()

    def rule_paused(self, rule_id: str) -> bool:
        """Return whether ``rule_id`` is paused on this account now (read each time)."""
        return self.state.rule_paused(self.account, rule_id)

    def pauses(self) -> list[PauseRow]:
        """Return this account's paused rules."""
        return self.state.pauses(self.account)

    def lift_pause(self, rule_id: str) -> None:
        """Lift this account's pause of ``rule_id`` (its limit was raised above its count)."""
        self.state.lift_pause(rule_id, self.account)

    def pause(self, row: PauseRow) -> None:
        """Record that a rule of this account is paused (at once, before anything else)."""
        self.state.add_pause(row)

    def promotions(self) -> set[tuple[str, str]]:
        """Return the (rule id, content hash) pairs promoted on this account (or on every one)."""
        return self.state.promotions(self.account)

    def note_enforcing(
        self, rules: Iterable[tuple[str, str]], at: datetime, *, own: bool = False
    ) -> None:
        """Record the (rule id, content hash) pairs enforcing now as promoted (new ones only).

        Under ``rollout: enforce`` every enforce-mode rule applies at once; so
        that turning audit-first on later puts only rules new or changed after
        it under review, the rules enforcing before count as promoted. ``own``:
        the account runs a rule set of its own, whose rules are promoted on it
        alone (else on every account, as the shared rule set is).
        """
        known = self.state.promotions(self.account)
        for rule_id, content_hash in rules:
            if (rule_id, content_hash) not in known:
                if own:
                    self.state.promote(rule_id, content_hash, at, self.account)
                else:
                    self.state.promote(rule_id, content_hash, at)

    def rule_history(self, at: datetime, span: timedelta) -> dict[str, tuple[int, int, int]]:
        """Return rule id → (cycles, matches, applies in the last 24 h) before ``at``.

        ``span`` is how far back cycles count towards the trailing average.
        """
        cycles = self.state.rule_history(self.account, at - span)
        applied = self.state.applied_since(self.account, at - timedelta(hours=24))
        out: dict[str, tuple[int, int, int]] = {}
        for rule_id in set(cycles) | set(applied):
            n, matched = cycles.get(rule_id, (0, 0))
            out[rule_id] = (n, matched, applied.get(rule_id, 0))
        return out

    def record_rule_cycle(self, rows: Iterable[RuleCycleRow], at: datetime) -> None:
        """Record each rule's matches, applies and audit-only matches of this cycle."""
        self.state.record_rule_cycle(self.account, rows, at)

    # -- held pairs ----------------------------------------------------------------

    def hold(
        self, actions: Iterable[Action], reason: str, at: datetime, received: datetime | None
    ) -> None:
        """Record ``actions`` as held pairs for ``reason`` (durably, before the message is marked).

        ``received`` is when their message was received (None: unknown).
        """
        rows = [
            HeldRow(
                self.account,
                a.message_id,
                a.tag_id,
                a.rule_id,
                a.rule_hash,
                a.tag_ref,
                reason,
                at,
                received,
            )
            for a in actions
        ]
        self.state.hold(rows)

    def rehold(self, rows: Iterable[HeldRow], reason: str, at: datetime) -> None:
        """Keep ``rows`` held, now for ``reason`` (a rail came back while releasing them)."""
        self.state.hold(replace(r, reason=reason, held_at=at) for r in rows)

    def held_among(self, message_ids: Iterable[str]) -> dict[tuple[str, str], HeldRow]:
        """Return the pairs still held among ``message_ids``, by (message, rule)."""
        rows = self.state.held_of(self.account, message_ids)
        return {(r.message_id, r.rule_id): r for r in rows if r.status == HELD}

    def open_held(self, rule_ids: Iterable[str]) -> list[HeldRow]:
        """Return this account's held pairs of ``rule_ids``, oldest received first."""
        return self.state.held_rows(self.account, rule_ids)

    def resolve_held(self, keys: Iterable[tuple[str, str, str]], status: str, at: datetime) -> int:
        """Mark this account's held pairs ``keys`` (message, tag, rule) as ``status``."""
        return self.state.resolve_held(self.account, keys, status, at)

    def drop_held(self, status: str, at: datetime, note: str, which: HeldFilter) -> list[HeldRow]:
        """Resolve this account's held pairs that ``which`` selects as ``status``; return them."""
        return self.state.release_held(status, at, note, replace(which, account=self.account))

    def held_identities(self) -> set[tuple[str, str]]:
        """Return the (rule id, content hash) pairs this account holds pairs of."""
        return self.state.held_identities(self.account)

    def held_counts(self) -> list[HeldCount]:
        """Return this account's open held pairs per rule and reason."""
        return self.state.held_counts(self.account)

    # -- the learned search cap and backfill cursors --------------------------------

    def search_caps(self, configured: int) -> CapTracker:
        """Return the account's search-cap tracker, starting from what the state holds."""
        return CapTracker.from_row(self.state.get_search_cap(self.account), configured)

    def save_search_caps(self, caps: CapTracker, at: datetime) -> None:
        """Store what the cycle's searches revealed about the cap (when it changed)."""
        row = caps.changed(self.account, at)
        if row is not None:
            self.state.set_search_cap(self.account, row)

    def backfill_cursor(self, job: str) -> datetime | None:
        """Return how far backfill job ``job`` got for this account, or None."""
        return self.state.get_backfill_progress(self.account, job)

    def save_backfill_cursor(self, job: str, cursor: datetime, at: datetime) -> None:
        """Store how far backfill job ``job`` got for this account."""
        self.state.set_backfill_progress(self.account, job, cursor, at)

    def backfill_span(self, job: str) -> tuple[datetime, datetime] | None:
        """Return the ``(since, until)`` fixed when backfill job ``job`` first started, or None.

        Kept as two more rows of the job (``<job>#since``, ``<job>#until``), so a
        job whose end was "now" resumes towards the same end after a restart.
        """
        since = self.state.get_backfill_progress(self.account, f"{job}#since")
        until = self.state.get_backfill_progress(self.account, f"{job}#until")
        return None if since is None or until is None else (since, until)

    def start_backfill(self, job: str, since: datetime, until: datetime, at: datetime) -> None:
        """Fix the span of backfill job ``job`` and set its cursor back to ``since``."""
        # The span exists only once its end is written: a kill before that starts afresh.
        self.state.set_backfill_progress(self.account, job, since, at)
        self.state.set_backfill_progress(self.account, f"{job}#since", since, at)
        self.state.set_backfill_progress(self.account, f"{job}#until", until, at)
