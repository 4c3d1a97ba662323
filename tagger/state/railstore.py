"""The state of the safety rails: pauses, promotions, per-rule cycle history, switches.

A table family of :class:`~tagger.state.store.StateStore` (schema versions 4 and 7),
mixed in over the shared plumbing of :mod:`tagger.state.access`. Every
write is one transaction; the reads are single indexed queries, cheap enough
for a running daemon to make before each apply (the kill switch).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tagger.state.access import StateAccess, where_equal
from tagger.state.errors import StateError
from tagger.state.pausefile import pause_file_on
from tagger.state.times import from_us, to_us

# The kill switch: while set, no account applies anything.
PAUSE_ALL = "pause_all"
# A stop request (``tagger pause``) and the running process's acknowledgement of
# it: both hold a number that only grows; the acknowledgement equals the request
# once every apply cleared before the request was seen has ended.
STOP_REQUEST = "stop_request"
STOP_ACK = "stop_ack"
# The account of a promotion that holds for every account.
EVERY_ACCOUNT = ""
# The row the preflight writes to prove the state is writable (never a switch).
WRITE_CHECK = "write_check"
_SET_SWITCH = (
    "INSERT INTO switches (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name)"
    " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)


@dataclass(frozen=True, slots=True)
class PauseRow:
    """A rule paused on one account: why, the limit in force and the count reached.

    ``kind`` names the limit (``per_cycle``, ``per_day`` or ``anomaly``), so a
    raised limit can lift the pause at load.
    """

    account: str
    rule_id: str
    reason: str
    limit: int
    count: int
    kind: str
    paused_at: datetime


@dataclass(frozen=True, slots=True)
class RuleCycleRow:
    """One rule's figures in one cycle of one account."""

    rule_id: str
    matched: int
    applied: int
    audited: int


class RailRecords(StateAccess):
    """Rail records of the state file (mixed into the store, which opens and closes it)."""

    # -- pauses ----------------------------------------------------------------

    def add_pause(self, row: PauseRow) -> None:
        """Record (or replace) the pause of ``row.rule_id`` on ``row.account``."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO rule_pauses (account, rule_id, reason, limit_value, count, kind,"
                " paused_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, rule_id)"
                " DO UPDATE SET reason = excluded.reason, limit_value = excluded.limit_value,"
                " count = excluded.count, kind = excluded.kind, paused_at = excluded.paused_at",
                (
                    row.account,
                    row.rule_id,
                    row.reason,
                    row.limit,
                    row.count,
                    row.kind,
                    to_us(row.paused_at),
                ),
            )

    def pauses(self, account: str | None = None) -> list[PauseRow]:
        """Return the pauses of ``account`` (None: of every account), by account and rule."""
        sql = (
            "SELECT account, rule_id, reason, limit_value, count, kind, paused_at FROM rule_pauses"
        )
        params: tuple[str, ...] = ()
        if account is not None:
            sql += " WHERE account = ?"
            params = (account,)
        rows = self._rows(sql + " ORDER BY account, rule_id", params)
        return [PauseRow(a, r, why, lim, n, k, from_us(t)) for a, r, why, lim, n, k, t in rows]

    def lift_pause(self, rule_id: str | None, account: str | None = None) -> int:
        """Delete the pauses of ``rule_id`` (None: every rule) on ``account`` (None: all).

        Returns how many pauses were lifted.
        """
        clauses, params = where_equal(rule_id=rule_id, account=account)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._tx() as conn:
            sql = "DELETE FROM rule_pauses" + where  # noqa: S608 - fixed clauses, "?" marks
            return conn.execute(sql, params).rowcount

    def rule_paused(self, account: str, rule_id: str) -> bool:
        """Return whether ``rule_id`` is paused on ``account`` now (one indexed read)."""
        rows = self._rows(
            "SELECT 1 FROM rule_pauses WHERE account = ? AND rule_id = ?", (account, rule_id)
        )
        return bool(rows)

    def paused_rules(self) -> list[str]:
        """Return ``rule (account)`` for every pause (``tagger status`` shows them)."""
        try:
            return [f"{p.rule_id} ({p.account})" for p in self.pauses()]
        except StateError:  # a file older than version 4 has no pauses
            return []

    # -- promotions --------------------------------------------------------------

    def promote(
        self, rule_id: str, content_hash: str, at: datetime, account: str = EVERY_ACCOUNT
    ) -> None:
        """Record that the rule ``rule_id`` with ``content_hash`` was promoted on ``account``.

        ``account`` :data:`EVERY_ACCOUNT` (the default): on every account.
        """
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO promotions (rule_id, content_hash, account, promoted_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (rule_id, content_hash, account, to_us(at)),
            )

    def promotions(self, account: str | None = None) -> set[tuple[str, str]]:
        """Return the promoted (rule id, content hash) pairs that hold on ``account``.

        Those promoted on every account and those promoted on ``account``
        alone; None: every pair promoted on any account.
        """
        if account is None:
            rows = self._rows("SELECT rule_id, content_hash FROM promotions")
        else:
            rows = self._rows(
                "SELECT rule_id, content_hash FROM promotions WHERE account IN (?, ?)",
                (EVERY_ACCOUNT, account),
            )
        return {(r, h) for r, h in rows}

    def promoted_on(self) -> dict[str, set[tuple[str, str]]]:
        """Return account → the (rule id, content hash) pairs promoted on it alone.

        The key :data:`EVERY_ACCOUNT` holds those promoted on every account.
        """
        out: dict[str, set[tuple[str, str]]] = {}
        for rule_id, content_hash, account in self._rows(
            "SELECT rule_id, content_hash, account FROM promotions"
        ):
            out.setdefault(account, set()).add((rule_id, content_hash))
        return out

    # -- per-rule cycle history ----------------------------------------------------

    def record_rule_cycle(self, account: str, rows: Iterable[RuleCycleRow], at: datetime) -> None:
        """Record each rule's figures of one cycle of ``account`` (one transaction)."""
        values = [(account, r.rule_id, to_us(at), r.matched, r.applied, r.audited) for r in rows]
        if not values:
            return
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO rule_cycles (account, rule_id, cycle_at, matched, applied, audited)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, rule_id, cycle_at) DO UPDATE"
                " SET matched = excluded.matched, applied = excluded.applied,"
                " audited = excluded.audited",
                values,
            )

    def prune_rule_cycles(self, older_than: datetime) -> int:
        """Delete the per-cycle rule figures recorded before ``older_than``; return how many."""
        with self._tx() as conn:
            return int(
                conn.execute(
                    "DELETE FROM rule_cycles WHERE cycle_at < ?", (to_us(older_than),)
                ).rowcount
            )

    def rule_history(self, account: str, since: datetime) -> dict[str, tuple[int, int]]:
        """Return rule id → (cycles it matched in, matches) of ``account``'s cycles since ``since``.

        Only the cycles in which the rule matched count: quiet cycles (a night,
        a weekend) would pull the trailing average towards 0 and make the
        anomaly guard pause the rule at the next ordinary peak.
        """
        rows = self._rows(
            "SELECT rule_id, SUM(CASE WHEN matched > 0 THEN 1 ELSE 0 END), SUM(matched)"
            " FROM rule_cycles WHERE account = ? AND cycle_at >= ? GROUP BY rule_id",
            (account, to_us(since)),
        )
        return {r: (int(n or 0), int(m or 0)) for r, n, m in rows}

    def applied_since(self, account: str, since: datetime) -> dict[str, int]:
        """Return rule id → tags applied on ``account`` since ``since`` (the 24-hour count)."""
        rows = self._rows(
            "SELECT rule_id, COUNT(*) FROM applied WHERE account = ? AND applied_at >= ?"
            " GROUP BY rule_id",
            (account, to_us(since)),
        )
        return {r: int(n) for r, n in rows}

    # -- switches ------------------------------------------------------------------

    def set_switch(self, name: str, on: bool, at: datetime) -> None:
        """Set the switch ``name`` on or off."""
        with self._tx() as conn:
            conn.execute(
                _SET_SWITCH,
                (name, int(on), to_us(at)),
            )

    def switch(self, name: str) -> bool:
        """Return whether the switch ``name`` is on (off when never set)."""
        return bool(self._switch_value(name))

    def _switch_value(self, name: str) -> int:
        rows = self._rows("SELECT value FROM switches WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    # -- stop requests and their acknowledgement -------------------------------------

    def request_stop(self, at: datetime) -> int:
        """Record a new stop request (after the switch or pause it is about); return its number."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT value FROM switches WHERE name = ?", (STOP_REQUEST,)
            ).fetchall()
            number = (int(rows[0][0]) if rows else 0) + 1
            conn.execute(
                _SET_SWITCH,
                (STOP_REQUEST, number, to_us(at)),
            )
        return number

    def stop_requested(self) -> int:
        """Return the number of the latest stop request (0: none ever)."""
        return self._switch_value(STOP_REQUEST)

    def acknowledge_stop(self, number: int, at: datetime) -> None:
        """Record that every apply cleared before stop request ``number`` was seen has ended."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO switches (name, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = CASE"
                " WHEN excluded.value > switches.value THEN excluded.value"
                " ELSE switches.value END,"
                " updated_at = excluded.updated_at",
                (STOP_ACK, number, to_us(at)),
            )

    def stop_acknowledged(self) -> int:
        """Return the number of the latest stop request a running process acknowledged."""
        return self._switch_value(STOP_ACK)

    def kill_switch(self) -> bool:
        """Return whether the kill switch is on: its file beside the state, or its row.

        The file (:mod:`tagger.state.pausefile`) is looked at first: it is set
        even when the state file cannot be written.
        """
        return pause_file_on(self.path) or self.switch(PAUSE_ALL)
