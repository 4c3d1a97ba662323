"""Upkeep of the whole state file: pruning old rows, integrity reports, the schema version.

Mixed into :class:`~tagger.state.store.StateStore` over the shared plumbing of
:mod:`tagger.state.access`, like the table families. These methods span
tables (pruning deletes from four in one transaction) or none (SQLite's own
checks), so they live apart from any one family.
"""

from __future__ import annotations

from datetime import datetime

from tagger.state.access import StateAccess
from tagger.state.integrity import quick_check
from tagger.state.times import to_us


class StateMaintenance(StateAccess):
    """Pruning and integrity checks of the state file (mixed into the store)."""

    def prune(self, older_than: datetime) -> dict[str, int]:
        """Delete rows older than ``older_than`` in one transaction; return counts per table.

        Watermarks and backfill cursors are never pruned, nor the latest run of
        an account. A processed row goes only when both its processing time and
        its received time (if known) are older than the cutoff.
        """
        cut = to_us(older_than)
        statements = {
            "processed": "DELETE FROM processed WHERE processed_at < ?1"
            " AND (received_at IS NULL OR received_at < ?1)",
            "applied": "DELETE FROM applied WHERE applied_at < ?1",
            "runs": "DELETE FROM runs WHERE started_at < ?1"
            " AND id NOT IN (SELECT MAX(id) FROM runs GROUP BY account)",
            "failures": "DELETE FROM failures WHERE last_at < ?1",
        }
        counts: dict[str, int] = {}
        with self._tx() as conn:
            for table, sql in statements.items():
                counts[table] = conn.execute(sql, (cut,)).rowcount
        return counts

    def check_sound(self) -> None:
        """Raise StateDamaged when SQLite's quick check finds the file damaged."""
        with self._mutex:
            quick_check(self._live(), self.path)

    def quick_report(self) -> str:
        """Return SQLite's quick integrity report: ``"ok"`` when the file is sound."""
        return "\n".join(str(r[0]) for r in self._rows("PRAGMA quick_check"))

    def integrity_check(self) -> str:
        """Return SQLite's integrity report: ``"ok"`` when the file is sound."""
        rows = self._rows("PRAGMA integrity_check")
        return "\n".join(str(r[0]) for r in rows)

    def schema_version(self) -> int:
        """Return the schema version of the open file."""
        return int(self._rows("SELECT version FROM schema_version")[0][0])
