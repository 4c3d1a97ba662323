"""The shared plumbing of the state file: one connection, one write transaction, one read.

:class:`StateAccess` is the base of every table family's record class
(:mod:`~tagger.state.applied`, :mod:`~tagger.state.processed`, …,
:mod:`~tagger.state.railstore`), and :class:`~tagger.state.store.StateStore`
mixes those families together. Mixins rather than per-family objects
composed by the store: the callers keep calling ``store.<method>`` on one
object, every family shares one connection and one mutex without passing
them around, and a family needs no forwarding methods. Each family only
calls :meth:`StateAccess._tx` and :meth:`StateAccess._rows`; opening, closing
and the lock belong to the store.

Every write is one transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) in a WAL
file with ``synchronous=FULL``: when it returns, the change survives a
SIGKILL or power loss; when the process dies inside it, the change is absent
as a whole.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tagger.logs.redact import REDACTOR
from tagger.state.errors import StateDamaged, StateError
from tagger.state.integrity import damaged_message

# SQLite's historical limit on bound parameters is 999; stay well below it.
CHUNK = 500
# Errors are stored for operators to read, not API bodies: keep them short.
MAX_ERROR_CHARS = 2000


def chunks(items: Iterable[str], size: int = CHUNK) -> Iterator[list[str]]:
    """Yield the distinct ``items`` in lists of at most ``size``."""
    unique = list(dict.fromkeys(items))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


def marks(n: int) -> str:
    """Return ``n`` comma-separated ``?`` parameter marks."""
    return ",".join("?" * n)


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


def where_equal(**columns: object) -> tuple[list[str], list[object]]:
    """Return the conditions ``column = ?`` and their parameters, for each column given a value.

    A column given None is left out (any value matches).
    """
    given = {name: value for name, value in columns.items() if value is not None}
    return [f"{name} = ?" for name in given], list(given.values())


def clean_error(error: str) -> str:
    """Return ``error`` with registered secrets masked and its length capped."""
    text = REDACTOR.text(error)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


class StateAccess:
    """An open connection to the state file at ``path`` (``readonly``: no writes)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool) -> None:
        self.path = path
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
    def _tx(self) -> Iterator[sqlite3.Connection]:
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

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return its rows; StateError on any SQLite error."""
        with self._mutex:
            try:
                return self._live().execute(sql, params).fetchall()
            except (sqlite3.Error, UnicodeError) as exc:
                damaged = damage_error(self.path, exc)
                if damaged is not None:
                    raise damaged from exc
                raise StateError(f"cannot read state file {self.path}: {exc}") from exc
