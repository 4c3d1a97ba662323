"""The search_caps and query_searches tables: what searching an account has taught.

A table family of :class:`~tagger.state.store.StateStore`, mixed in over the
shared plumbing of :mod:`tagger.state.access`: the learned cap on an account's
search results, and when each scheduled query was last searched.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tagger.state.access import StateAccess
from tagger.state.rows import SearchCapRow
from tagger.state.times import from_us, to_us


class SearchRecords(StateAccess):
    """The learned search caps and last search times of the state file (mixed into the store)."""

    # -- the learned search cap ---------------------------------------------

    def get_search_cap(self, account: str) -> SearchCapRow | None:
        """Return what searches revealed about ``account``'s result cap, or None."""
        rows = self._rows(
            "SELECT learned, largest, confirmed, updated_at FROM search_caps WHERE account = ?",
            [account],
        )
        if not rows:
            return None
        learned, largest, confirmed, updated = rows[0]
        return SearchCapRow(
            None if learned is None else int(learned),
            int(largest),
            int(confirmed),
            from_us(updated),
        )

    def set_search_cap(self, account: str, row: SearchCapRow) -> None:
        """Store what searches revealed about ``account``'s result cap (replacing it)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO search_caps (account, learned, largest, confirmed, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET"
                " learned = excluded.learned,"
                " largest = excluded.largest, confirmed = excluded.confirmed,"
                " updated_at = excluded.updated_at",
                (account, row.learned, row.largest, row.confirmed, to_us(row.updated_at)),
            )

    # -- when scheduled queries were last searched ----------------------------

    def last_searched(self, account: str) -> dict[str, datetime]:
        """Return when each query of ``account`` was last searched, by query key."""
        rows = self._rows(
            "SELECT query_key, searched_at FROM query_searches WHERE account = ?", [account]
        )
        return {str(k): from_us(v) for k, v in rows}

    def set_searched(self, account: str, query_keys: Iterable[str], at: datetime) -> None:
        """Record that the queries ``query_keys`` of ``account`` were searched at ``at``."""
        when = to_us(at)
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO query_searches (account, query_key, searched_at) VALUES (?, ?, ?)"
                " ON CONFLICT (account, query_key) DO UPDATE"
                " SET searched_at = excluded.searched_at",
                [(account, key, when) for key in dict.fromkeys(query_keys)],
            )
