"""Upkeep of the whole state file: pruning old rows, integrity reports, the schema version.

Mixed into :class:`~tagger.state.store.StateStore` over the shared plumbing of
:mod:`tagger.state.access`, like the table families. These methods span
tables (pruning deletes from four in one transaction) or none (the database's
own checks), so they live apart from any one family.
"""

from __future__ import annotations

from datetime import datetime

from tagger.state.access import StateAccess
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
        """Raise StateDamaged when the ledger is found damaged (SQLite's quick check).

        PostgreSQL keeps its own integrity (checksums, WAL): nothing to check here.
        """
        self._db.check_sound()

    def quick_report(self) -> str:
        """Return the quick integrity report: ``"ok"`` when the ledger is sound."""
        return self._db.quick_report()

    def integrity_check(self) -> str:
        """Return the integrity report: ``"ok"`` when the ledger is sound.

        On PostgreSQL it says so and why: the server keeps its own integrity.
        """
        return self._db.integrity_report()

    def schema_version(self) -> int:
        """Return the schema version of the open file."""
        return int(self._rows("SELECT version FROM schema_version")[0][0])
