"""The processed table: which messages were fully processed under which rule-set hash.

A table family of :class:`~tagger.state.store.StateStore`, mixed in over the
shared plumbing of :mod:`tagger.state.access`. A mark counts only under its own
rule-set hash, so a changed rule set sees every message unprocessed again;
the received time kept with a mark holds it back from pruning until the
message itself is older than the cutoff. Lookups go in chunks of at
most :data:`~tagger.state.access.CHUNK` ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from tagger.state.access import StateAccess, chunks, marks
from tagger.state.times import to_us


class ProcessedRecords(StateAccess):
    """The processed marks of the state file (mixed into the store)."""

    def processed_ids(
        self, account: str, ruleset_hash: str, message_ids: Iterable[str]
    ) -> set[str]:
        """Return the ids among ``message_ids`` fully processed under ``ruleset_hash``."""
        found: set[str] = set()
        for chunk in chunks(message_ids):
            sql = (
                "SELECT message_id FROM processed WHERE account = ? AND ruleset_hash = ?"  # noqa: S608
                f" AND message_id IN ({marks(len(chunk))})"
            )
            found.update(m for (m,) in self._rows(sql, [account, ruleset_hash, *chunk]))
        return found

    def mark_processed(
        self,
        account: str,
        ruleset_hash: str,
        message_ids: Iterable[str],
        at: datetime,
        received: Mapping[str, datetime] | None = None,
    ) -> None:
        """Mark messages processed at ``at`` (``received`` times help pruning)."""
        when = to_us(at)
        got = received or {}
        values = [
            (account, ruleset_hash, m, when, to_us(got[m]) if m in got else None)
            for m in dict.fromkeys(message_ids)
        ]
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO processed (account, ruleset_hash, message_id, processed_at,"
                " received_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (account, ruleset_hash, message_id) DO UPDATE SET"
                " processed_at = excluded.processed_at,"
                " received_at = COALESCE(excluded.received_at, processed.received_at)",
                values,
            )
