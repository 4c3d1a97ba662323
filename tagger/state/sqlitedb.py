"""The SQLite ledger: one connection, one write transaction at a time, one read.

Every write is one transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) in a WAL
file with ``synchronous=FULL``: when it returns, the change survives a
SIGKILL or power loss; when the process dies inside it, the change is absent
as a whole. The transaction yields the ``sqlite3.Connection`` itself (it is a
:class:`~tagger.state.sqlconn.SqlConn`): no wrapper in between.

The cluster's fence (:mod:`tagger.state.fence`) is not called here: a SQLite
ledger belongs to one process (its file lock says so) and has no leases.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tagger.state.errors import StateDamaged, StateError
from tagger.state.integrity import damaged_message, quick_check
from tagger.state.sqlconn import Dialect


def damage_error(path: Path, exc: Exception) -> StateError | None:
    """Return the located StateDamaged for an error that means ``path`` is damaged, else None.

    A damaged file shows as SQLite's plain ``DatabaseError`` ("database disk
    image is malformed", "file is not a database") or, when a damaged byte
    lands in text SQLite hands back (the schema text in ``sqlite_master``, an
    error message quoting it), as a UnicodeDecodeError from the driver.
    """
    if isinstance(exc, UnicodeError):
        return StateDamaged(damaged_message(path, "it holds text that is not valid UTF-8"))
    if type(exc) is sqlite3.DatabaseError:
        return StateDamaged(damaged_message(path, str(exc)))
    return None


class SqliteDb:
    """An open SQLite state file at ``path`` over ``conn`` (``readonly``: no writes)."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool) -> None:
        self.path = path
        self.label = f"state file {path}"
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = conn
        # One connection shared by threads: serialise every use of it.
        self._mutex = threading.RLock()

    def _live(self) -> sqlite3.Connection:
        """Return the connection; StateError once it is closed."""
        if self._conn is None:
            raise StateError(f"state file {self.path} is closed")
        return self._conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the body as one write transaction; StateError on any SQLite error."""
        if self.readonly:
            raise StateError(f"state file {self.path} is open read-only")
        with self._mutex:
            conn = self._live()
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except (sqlite3.Error, UnicodeError) as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error, UnicodeError):
                        conn.execute("ROLLBACK")
                damaged = damage_error(self.path, exc)
                if damaged is not None:
                    raise damaged from exc
                raise StateError(f"cannot write state file {self.path}: {exc}") from exc
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error, UnicodeError):
                        conn.execute("ROLLBACK")
                raise

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return its rows; StateError on any SQLite error."""
        with self._mutex:
            try:
                return self._live().execute(sql, params).fetchall()
            except (sqlite3.Error, UnicodeError) as exc:
                damaged = damage_error(self.path, exc)
                if damaged is not None:
                    raise damaged from exc
                raise StateError(f"cannot read state file {self.path}: {exc}") from exc

    def has_table(self, name: str) -> bool:
        """Return whether the file has the table ``name``."""
        return bool(self.rows("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)))

    def check_sound(self) -> None:
        """Raise StateDamaged when SQLite's quick check finds the file damaged."""
        with self._mutex:
            quick_check(self._live(), self.path)

    def quick_report(self) -> str:
        """Return SQLite's quick integrity report: ``"ok"`` when the file is sound."""
        return "\n".join(str(r[0]) for r in self.rows("PRAGMA quick_check"))

    def integrity_report(self) -> str:
        """Return SQLite's integrity report: ``"ok"`` when the file is sound."""
        return "\n".join(str(r[0]) for r in self.rows("PRAGMA integrity_check"))

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._mutex:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
