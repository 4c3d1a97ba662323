"""The applied table: each (message, tag) pair a rule applied, on which account.

A table family of :class:`~tagger.state.store.StateStore`, mixed in over the
shared plumbing of :mod:`tagger.state.access`. A pair is recorded once (the
first record wins), so recording it again is harmless. Lookups go
through the primary key in chunks of at most :data:`~tagger.state.access.CHUNK`
ids, so they stay fast with millions of rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tagger.state.access import StateAccess, chunks, marks
from tagger.state.rows import AppliedRow
from tagger.state.times import to_us


class AppliedRecords(StateAccess):
    """The applied (message, tag) pairs of the state file (mixed into the store)."""

    def applied_pairs(self, account: str, message_ids: Iterable[str]) -> set[tuple[str, str]]:
        """Return the (message_id, tag_id) pairs already applied among ``message_ids``."""
        found: set[tuple[str, str]] = set()
        for chunk in chunks(message_ids):
            sql = (
                "SELECT message_id, tag_id FROM applied "  # noqa: S608 - only "?" marks added
                f"WHERE account = ? AND message_id IN ({marks(len(chunk))})"
            )
            found.update((m, t) for m, t in self._rows(sql, [account, *chunk]))
        return found

    def record_applied(
        self,
        account: str,
        message_id: str,
        tag_id: str,
        *,
        rule_id: str,
        rule_hash: str,
        mode: str,
        at: datetime,
    ) -> None:
        """Record one applied pair; recording it again keeps the first record."""
        row = AppliedRow(message_id, tag_id, rule_id, rule_hash, mode, at)
        self.record_applied_many(account, [row])

    def record_applied_many(self, account: str, rows: Iterable[AppliedRow]) -> None:
        """Record several applied pairs in one transaction (idempotent per pair)."""
        values = [
            (account, r.message_id, r.tag_id, r.rule_id, r.rule_hash, r.mode, to_us(r.at))
            for r in rows
        ]
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO applied (account, message_id, tag_id, rule_id, rule_hash, mode,"
                " applied_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                values,
            )

    def tags_per_rule(self, account: str | None = None) -> dict[tuple[str, str], int]:
        """Return how many messages each (rule_id, tag_id) has tagged."""
        rows = self._rows(
            "SELECT rule_id, tag_id, COUNT(*) FROM applied"
            " WHERE CAST(?1 AS TEXT) IS NULL OR account = ?1 GROUP BY rule_id, tag_id",
            [account],
        )
        return {(r, t): int(n) for r, t, n in rows}
