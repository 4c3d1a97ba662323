"""A dry run over PostgreSQL: the ledger copied into an in-memory SQLite store.

A dry run must reach neither PostgreSQL nor Mimecast with a write. Both
dialects share one layout, so the PostgreSQL ledger is copied, table by
table and in one read-only snapshot (REPEATABLE READ), into an in-memory
SQLite database built by SQLite's own migrations; the dry run then works on
that copy exactly as on the copy of a state file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tagger.state.dsn import parse_dsn, require_driver, scrub
from tagger.state.errors import StateError
from tagger.state.pgschema import check_version, current_version
from tagger.state.schema import Migration, migrate

# Rows fetched from the server per round trip.
BATCH = 5000


def _columns(memory: sqlite3.Connection) -> dict[str, list[str]]:
    """Return table → column names of the in-memory copy (the ledger's tables)."""
    tables = [
        str(r[0])
        for r in memory.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' AND name != 'schema_version' ORDER BY name"
        )
    ]
    return {t: [str(c[1]) for c in memory.execute(f"PRAGMA table_info({t})")] for t in tables}


def _copy_tables(pg: Any, memory: sqlite3.Connection) -> None:
    """Copy every ledger table from the PostgreSQL connection ``pg`` into ``memory``."""
    memory.execute("BEGIN")
    for table, columns in _columns(memory).items():
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        with pg.cursor(name=f"copy_{table}") as cur:
            cur.itersize = BATCH
            cur.execute(f"SELECT {names} FROM {table}")  # noqa: S608 - our own table names
            while rows := cur.fetchmany(BATCH):
                memory.executemany(
                    f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608
                    rows,
                )
    memory.execute("COMMIT")


def copy_pg_into_memory(
    dsn: str, path: Path, *, migrations: Sequence[Migration]
) -> sqlite3.Connection:
    """Return an in-memory SQLite copy of the PostgreSQL ledger ``dsn`` names.

    ``path`` names the node's local state anchor (for messages). An empty
    database gives an empty copy; nothing is created or written on the
    server. Raises StateError when it cannot be read, holds another
    program's tables, or is older or newer than this tagger's schema.
    """
    require_driver()
    import psycopg

    info = parse_dsn(dsn)
    label = f"state database {info.where}"
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        migrate(memory, path, migrations)
        newest = migrations[-1].version if migrations else 0
        with psycopg.connect(dsn, connect_timeout=5, application_name="tagger") as pg:
            pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            pg.read_only = True
            with pg.transaction():
                with pg.cursor() as cur:
                    version = current_version(cur, label)
                check_version(version, newest, label)
                if 0 < version < newest:
                    raise StateError(
                        f"{label} is at schema version {version}, this tagger expects"
                        f" {newest}; start the daemon (or `tagger once`) once to upgrade it"
                    )
                if version:
                    _copy_tables(pg, memory)
    except psycopg.Error as exc:
        memory.close()
        detail = scrub(str(exc), dsn, info.secrets) or type(exc).__name__
        raise StateError(f"cannot copy {label} for the dry run: {detail}") from None
    except BaseException:
        memory.close()
        raise
    return memory
