"""Moving a SQLite state file into an empty PostgreSQL ledger (``tagger import-state``).

A node that ran on SQLite keeps everything it applied in its file; a new
PostgreSQL ledger knows none of it. The file is read under its single-writer
lock (no daemon may write to it meanwhile), as a consistent snapshot brought
up to the current schema in memory (the file itself is not changed), and
every table is copied in one PostgreSQL transaction: the ledger then holds
every apply, watermark and run the file held, and the next cycle carries on
where the file left off. Only an empty ledger is filled: nothing is merged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

from tagger.state.connection import copy_into_memory
from tagger.state.errors import StateError
from tagger.state.integrity import LOST_ACCOUNT, LOST_KEY
from tagger.state.lock import StateLock
from tagger.state.schema import MIGRATIONS, Migration
from tagger.state.sqlconn import SqlConn
from tagger.state.store import StateStore

# Rows sent to the server per statement batch.
BATCH = 5000
# Tables whose rows mean a ledger is in use (refused as a target).
IN_USE = ("applied", "processed", "runs", "watermarks", "held", "promotions")


def _tables(memory: sqlite3.Connection) -> dict[str, list[str]]:
    """Return table → column names of the in-memory copy, in a fixed order."""
    names = [
        str(r[0])
        for r in memory.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' AND name != 'schema_version' ORDER BY name"
        )
    ]
    return {t: [str(c[1]) for c in memory.execute(f"PRAGMA table_info({t})")] for t in names}


def _check_empty(store: StateStore, conn: SqlConn) -> None:
    """Raise StateError unless the PostgreSQL ledger holds no record of use (in ``conn``'s tx)."""
    sql = "SELECT 1 FROM {} LIMIT 1"
    used = [t for t in IN_USE if conn.execute(sql.format(t)).fetchall()]
    if used:
        raise StateError(
            f"{store.label} already holds records ({', '.join(used)}): import-state only"
            " fills an empty ledger; point state.dsn at a new database"
        )


def import_file(
    store: StateStore, path: Path, *, migrations: Sequence[Migration] = MIGRATIONS
) -> Mapping[str, int]:
    """Copy the SQLite state file ``path`` into the empty PostgreSQL ledger of ``store``.

    Returns the rows copied per table. Raises StateLocked when a process
    holds the file, and StateError when it does not exist or is unusable,
    when ``store`` is not PostgreSQL or its ledger is not empty. One
    transaction: on any error nothing is copied.
    """
    if store.dialect != "postgresql":
        raise StateError("import-state fills a PostgreSQL ledger: the config's state is SQLite")
    if not path.exists():
        raise StateError(f"state file {path} does not exist")
    lock = StateLock.acquire(path)
    try:
        memory = copy_into_memory(path, migrations=migrations)
    finally:
        lock.release()
    try:
        counts: dict[str, int] = {}
        with store._tx() as conn:
            _check_empty(store, conn)
            # The note a new ledger gets when it follows a file: the file's own records replace it.
            conn.execute(
                "DELETE FROM backfill_progress WHERE account = ? AND job_key = ?",
                (LOST_ACCOUNT, LOST_KEY),
            )
            for table, columns in _tables(memory).items():
                names = ", ".join(columns)
                marks = ", ".join("?" * len(columns))
                sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
                cur = memory.execute(f"SELECT {names} FROM {table}")  # noqa: S608
                counts[table] = 0
                while batch := cur.fetchmany(BATCH):
                    conn.executemany(sql, batch)
                    counts[table] += len(batch)
            # The identity of runs carries on after the ids copied.
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('runs', 'id'),"
                " COALESCE((SELECT MAX(id) FROM runs), 0) + 1, false)"
            )
    finally:
        memory.close()
    return counts
