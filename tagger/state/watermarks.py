"""The watermarks and backfill_progress tables: how far each query and backfill job got.

A table family of :class:`~tagger.state.store.StateStore`, mixed in over the
shared plumbing of :mod:`tagger.state.access`. Each is one row per account and
key, overwritten as it advances; pruning never deletes them.
"""

from __future__ import annotations

from datetime import datetime

from tagger.state.access import StateAccess
from tagger.state.times import from_us, to_us


class WatermarkRecords(StateAccess):
    """The query watermarks and backfill cursors of the state file (mixed into the store)."""

    # -- watermarks and backfill cursors ------------------------------------

    def get_watermark(self, account: str, query_key: str) -> datetime | None:
        """Return how far ``query_key`` has been fully processed, or None."""
        rows = self._rows(
            "SELECT value FROM watermarks WHERE account = ? AND query_key = ?",
            [account, query_key],
        )
        return from_us(rows[0][0]) if rows else None

    def watermarks(self) -> list[tuple[str, str, datetime]]:
        """Return every (account, query key, watermark), ordered by account and key."""
        rows = self._rows(
            "SELECT account, query_key, value FROM watermarks ORDER BY account, query_key", []
        )
        return [(str(a), str(k), from_us(v)) for a, k, v in rows]

    def set_watermark(self, account: str, query_key: str, value: datetime, at: datetime) -> None:
        """Store the watermark of ``query_key`` (set at time ``at``)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO watermarks (account, query_key, value, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (account, query_key) DO UPDATE SET"
                " value = excluded.value,"
                " updated_at = excluded.updated_at",
                (account, query_key, to_us(value), to_us(at)),
            )

    def get_backfill_progress(self, account: str, job_key: str) -> datetime | None:
        """Return the resumable cursor of backfill job ``job_key``, or None."""
        rows = self._rows(
            "SELECT cursor FROM backfill_progress WHERE account = ? AND job_key = ?",
            [account, job_key],
        )
        return from_us(rows[0][0]) if rows else None

    def set_backfill_progress(
        self, account: str, job_key: str, cursor: datetime, at: datetime
    ) -> None:
        """Store the cursor of backfill job ``job_key``."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO backfill_progress (account, job_key, cursor, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (account, job_key) DO UPDATE SET"
                " cursor = excluded.cursor,"
                " updated_at = excluded.updated_at",
                (account, job_key, to_us(cursor), to_us(at)),
            )
