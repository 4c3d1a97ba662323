"""The failures table: messages whose processing keeps failing, and those set aside.

A table family of :class:`~tagger.state.store.StateStore`, mixed in over the
shared plumbing of :mod:`tagger.state.access`. Errors are kept for operators to
read, not as API bodies: they are stored with registered secrets masked and
their length capped (:func:`~tagger.state.access.clean_error`).
"""

from __future__ import annotations

from datetime import datetime

from tagger.state.access import StateAccess, clean_error
from tagger.state.rows import FailureRow
from tagger.state.times import from_us, opt_from_us, to_us


class FailureRecords(StateAccess):
    """The failed and set-aside messages of the state file (mixed into the store)."""

    def record_failure(self, account: str, message_id: str, error: str, at: datetime) -> int:
        """Count one more failed attempt at ``message_id``; return the attempts so far.

        ``error`` is stored with registered secrets masked and its length capped.
        """
        when = to_us(at)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO failures (account, message_id, attempts, first_at, last_at,"
                " last_error) VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (account, message_id) DO UPDATE"
                " SET attempts = failures.attempts + 1, last_at = excluded.last_at,"
                " last_error = excluded.last_error",
                (account, message_id, when, when, clean_error(error)),
            )
            row = conn.execute(
                "SELECT attempts FROM failures WHERE account = ? AND message_id = ?",
                (account, message_id),
            ).fetchone()
        return int(row[0])

    def failure_count(self, account: str, message_id: str) -> int:
        """Return the failed attempts recorded for ``message_id`` (0 if none)."""
        rows = self._rows(
            "SELECT attempts FROM failures WHERE account = ? AND message_id = ?",
            [account, message_id],
        )
        return int(rows[0][0]) if rows else 0

    def set_aside(self, account: str, message_id: str, at: datetime) -> None:
        """Give up on ``message_id``: later cycles skip it until it is cleared."""
        when = to_us(at)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO failures (account, message_id, attempts, first_at, last_at,"
                " last_error, set_aside_at) VALUES (?, ?, 0, ?, ?, '', ?)"
                " ON CONFLICT (account, message_id) DO UPDATE"
                " SET set_aside_at = excluded.set_aside_at",
                (account, message_id, when, when, when),
            )

    def set_aside_ids(self, account: str) -> set[str]:
        """Return the ids of ``account``'s messages that were set aside."""
        rows = self._rows(
            "SELECT message_id FROM failures WHERE account = ? AND set_aside_at IS NOT NULL",
            [account],
        )
        return {m for (m,) in rows}

    def clear_failure(self, account: str, message_id: str) -> None:
        """Forget the failures of ``message_id`` (it succeeded, or an operator retries it)."""
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM failures WHERE account = ? AND message_id = ?", (account, message_id)
            )

    def failures(self, account: str | None = None) -> list[FailureRow]:
        """Return the recorded failures, most recent first."""
        rows = self._rows(
            "SELECT account, message_id, attempts, first_at, last_at, last_error, set_aside_at"
            " FROM failures WHERE CAST(?1 AS TEXT) IS NULL OR account = ?1"
            " ORDER BY last_at DESC, account, message_id",
            [account],
        )
        return [
            FailureRow(a, m, int(n), from_us(f), from_us(la), e, opt_from_us(s))
            for a, m, n, f, la, e, s in rows
        ]
