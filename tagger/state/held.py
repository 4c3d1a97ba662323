"""Held pairs: matches a safety rail kept from being applied, recorded instead of re-read.

A table family of :class:`~tagger.state.store.StateStore` (schema version 5),
mixed in over the shared plumbing of :mod:`tagger.state.access`. A rail
(awaiting promotion, a paused rule, a limit reached, the kill switch, a
disabled account) no longer holds a message's window: the (message, tag) the
rule wanted is kept here with the rule's id and content hash, why and when,
and the message is processed as any other. Each row is ``held`` until the
rail is lifted, then ``applied`` once, ``dropped`` (released without the
backlog, or the rule's definition changed) or ``expired`` (older than the
service keeps tracking data): a resolved row stays for the reports until pruned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tagger.state.access import StateAccess, chunks, marks, where_equal
from tagger.state.errors import StateError
from tagger.state.times import from_us, opt_from_us, to_us

# Why a pair is held (the ``reason`` column).
AWAITING = "awaiting-promotion"
PAUSED = "paused"
LIMIT = "limit"
KILL_SWITCH = "kill-switch"
DISABLED = "account-disabled"
REASONS = (AWAITING, PAUSED, LIMIT, KILL_SWITCH, DISABLED)
# What became of a pair (the ``status`` column).
HELD, APPLIED, DROPPED, EXPIRED = "held", "applied", "dropped", "expired"

_COLUMNS = (
    "account, message_id, tag_id, rule_id, rule_hash, tag_ref, reason, held_at,"
    " received_at, status, resolved_at, note"
)


@dataclass(frozen=True, slots=True)
class HeldRow:
    """One held (message, tag) pair of ``rule_id`` at ``rule_hash`` on ``account``.

    ``tag_ref`` is the tag as the rule names it; ``received`` when the message
    was received (None: unknown); ``status`` what became of it, ``resolved``
    when, and ``note`` why (for a dropped or expired pair).
    """

    account: str
    message_id: str
    tag_id: str
    rule_id: str
    rule_hash: str
    tag_ref: str
    reason: str
    held_at: datetime
    received: datetime | None = None
    status: str = HELD
    resolved: datetime | None = None
    note: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """Return the (message, tag, rule) the row is kept under (with its account)."""
        return (self.message_id, self.tag_id, self.rule_id)


@dataclass(frozen=True, slots=True)
class HeldCount:
    """The open held pairs of one rule on one account for one reason.

    ``messages`` counts distinct messages, ``pairs`` (message, tag) pairs;
    ``oldest`` is when the first of them was held.
    """

    account: str
    rule_id: str
    reason: str
    messages: int
    pairs: int
    oldest: datetime


@dataclass(frozen=True, slots=True)
class HeldFilter:
    """Which held pairs a query selects: every field given narrows it (None: any).

    ``rule_ids`` and ``reasons`` take any of theirs (empty: none at all);
    ``rule_hash`` the pairs of that content hash; ``received_before`` those
    received (or, when unknown, held) before it; ``status`` what became of them.
    """

    account: str | None = None
    message_id: str | None = None
    rule_ids: frozenset[str] | None = None
    reasons: frozenset[str] | None = None
    rule_hash: str | None = None
    received_before: datetime | None = None
    status: str = HELD

    def where(self) -> tuple[str, list[object]] | None:
        """Return the SQL condition and its parameters; None when no pair can match."""
        clauses, params = where_equal(
            status=self.status,
            account=self.account,
            message_id=self.message_id,
            rule_hash=self.rule_hash,
        )
        for column, chosen in (("rule_id", self.rule_ids), ("reason", self.reasons)):
            if chosen is not None:
                if not chosen:
                    return None
                clauses.append(f"{column} IN ({marks(len(chosen))})")
                params.extend(sorted(chosen))
        if self.received_before is not None:
            clauses.append("COALESCE(received_at, held_at) < ?")
            params.append(to_us(self.received_before))
        return " AND ".join(clauses), params


def _row(values: Sequence[Any]) -> HeldRow:
    account, mid, tag, rule, rule_hash, ref, reason, held, received, status, done, note = values
    return HeldRow(
        account,
        mid,
        tag,
        rule,
        rule_hash,
        ref,
        reason,
        from_us(held),
        opt_from_us(received),
        status,
        opt_from_us(done),
        note,
    )


class HeldRecords(StateAccess):
    """The held pairs of the state file (mixed into the store, which opens and closes it)."""

    def hold(self, rows: Iterable[HeldRow]) -> None:
        """Record ``rows`` as held (one transaction).

        A pair already held keeps when it was first held (its reason and hash
        are updated); one dropped or expired before is held again; one
        already applied stays applied.
        """
        values = [
            (
                r.account,
                r.message_id,
                r.tag_id,
                r.rule_id,
                r.rule_hash,
                r.tag_ref,
                r.reason,
                to_us(r.held_at),
                None if r.received is None else to_us(r.received),
            )
            for r in rows
        ]
        if not values:
            return
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO held (account, message_id, tag_id, rule_id, rule_hash, tag_ref,"
                " reason, held_at, received_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'held')"
                " ON CONFLICT (account, message_id, tag_id, rule_id) DO UPDATE SET"
                " reason = excluded.reason, rule_hash = excluded.rule_hash,"
                " tag_ref = excluded.tag_ref,"
                " held_at = CASE WHEN held.status = 'held' THEN held.held_at"
                " ELSE excluded.held_at END,"
                " status = 'held', resolved_at = NULL, note = ''"
                " WHERE held.status != 'applied'",
                values,
            )

    def held_rows(
        self,
        account: str | None = None,
        rule_ids: Iterable[str] | None = None,
        status: str = HELD,
        limit: int | None = None,
    ) -> list[HeldRow]:
        """Return the rows of ``status`` (of ``account`` and ``rule_ids``; None: all).

        Oldest received first (then by message), at most ``limit`` of them.
        """
        ids = None if rule_ids is None else frozenset(rule_ids)
        query = HeldFilter(account=account, rule_ids=ids, status=status).where()
        if query is None:
            return []
        where, params = query
        sql = (
            f"SELECT {_COLUMNS} FROM held WHERE {where}"  # noqa: S608 - fixed clauses
            " ORDER BY COALESCE(received_at, held_at), message_id, tag_id, rule_id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_row(r) for r in self._rows(sql, params)]

    def held_identities(self, account: str | None = None) -> set[tuple[str, str]]:
        """Return the (rule id, content hash) pairs that have held pairs (of ``account``)."""
        rows = self._rows(
            "SELECT DISTINCT rule_id, rule_hash FROM held WHERE status = 'held'"
            " AND (CAST(?1 AS TEXT) IS NULL OR account = ?1)",
            [account],
        )
        return {(str(r), str(h)) for r, h in rows}

    def resolve_held(
        self, account: str, keys: Iterable[tuple[str, str, str]], status: str, at: datetime
    ) -> int:
        """Mark the held pairs ``keys`` (message, tag, rule) of ``account`` as ``status``.

        Only pairs still held change; returns how many did.
        """
        values = [(status, to_us(at), account, m, t, r) for m, t, r in dict.fromkeys(keys)]
        if not values:
            return 0
        with self._tx() as conn:
            return conn.executemany(
                "UPDATE held SET status = ?, resolved_at = ? WHERE account = ? AND"
                " message_id = ? AND tag_id = ? AND rule_id = ? AND status = 'held'",
                values,
            ).rowcount

    def release_held(
        self, status: str, at: datetime, note: str, which: HeldFilter
    ) -> list[HeldRow]:
        """Resolve the held pairs ``which`` selects as ``status``; return them.

        Only pairs still held are resolved, whatever ``which.status`` says.
        One transaction: the rows returned are exactly those changed.
        """
        query = replace(which, status=HELD).where()
        if query is None:
            return []
        where, params = query
        with self._tx() as conn:
            found = conn.execute(
                f"SELECT {_COLUMNS} FROM held WHERE {where}",  # noqa: S608 - fixed clauses
                params,
            ).fetchall()
            conn.execute(
                f"UPDATE held SET status = ?, resolved_at = ?, note = ? WHERE {where}",  # noqa: S608
                [status, to_us(at), note, *params],
            )
        return [_row(r) for r in found]

    def held_counts(
        self, account: str | None = None, rule_id: str | None = None
    ) -> list[HeldCount]:
        """Return the open held pairs per account, rule and reason (distinct messages, pairs).

        An empty list for a file older than schema version 5 (read-only opens
        do not upgrade it).
        """
        try:
            rows = self._rows(
                "SELECT account, rule_id, reason, COUNT(DISTINCT message_id), COUNT(*),"
                " MIN(held_at) FROM held WHERE status = 'held'"
                " AND (CAST(?1 AS TEXT) IS NULL OR account = ?1)"
                " AND (CAST(?2 AS TEXT) IS NULL OR rule_id = ?2)"
                " GROUP BY account, rule_id, reason ORDER BY account, rule_id, reason",
                [account, rule_id],
            )
        except StateError:
            return []
        return [
            HeldCount(str(a), str(r), str(why), int(m), int(p), from_us(int(t)))
            for a, r, why, m, p, t in rows
        ]

    def held_messages(self, rule_id: str | None = None, status: str = HELD) -> int:
        """Return how many distinct (account, message) have pairs of ``status`` (of ``rule_id``)."""
        rows = self._rows(
            "SELECT COUNT(*) FROM (SELECT DISTINCT account, message_id FROM held"
            " WHERE status = ?1 AND (CAST(?2 AS TEXT) IS NULL OR rule_id = ?2)) AS pairs",
            [status, rule_id],
        )
        return int(rows[0][0])

    def held_of(self, account: str, message_ids: Iterable[str]) -> list[HeldRow]:
        """Return every row (any status) of ``account`` among ``message_ids``."""
        out: list[HeldRow] = []
        for chunk in chunks(message_ids):
            sql = (
                f"SELECT {_COLUMNS} FROM held WHERE account = ?"  # noqa: S608 - "?" marks
                f" AND message_id IN ({marks(len(chunk))})"
            )
            out.extend(_row(r) for r in self._rows(sql, [account, *chunk]))
        return out

    def prune_held(self, older_than: datetime) -> int:
        """Delete the pairs resolved before ``older_than``; return how many (held ones stay)."""
        with self._tx() as conn:
            return int(
                conn.execute(
                    "DELETE FROM held WHERE status != 'held' AND resolved_at < ?",
                    (to_us(older_than),),
                ).rowcount
            )
