"""The shared plumbing of the ledger: one write transaction, one read, either dialect.

:class:`StateAccess` is the base of every table family's record class
(:mod:`~tagger.state.applied`, :mod:`~tagger.state.processed`, …,
:mod:`~tagger.state.railstore`), and :class:`~tagger.state.store.StateStore`
mixes those families together. Mixins rather than per-family objects
composed by the store: the callers keep calling ``store.<method>`` on one
object, every family shares one database without passing it around, and a
family needs no forwarding methods. Each family only calls
:meth:`StateAccess._tx` and :meth:`StateAccess._rows`; opening, closing and
the lock belong to the store.

The database underneath is a :class:`~tagger.state.sqlconn.Database`: the
SQLite file (:mod:`tagger.state.sqlitedb`) or PostgreSQL
(:mod:`tagger.state.pgdb`). Every write is one transaction: when it returns,
the change is durable; when the process dies inside it, the change is absent
as a whole. Queries are written in the SQL both dialects accept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from tagger.logs.redact import REDACTOR
from tagger.state.sqlconn import Database, SqlConn

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
    """An open ledger: ``path`` anchors the node's local files, ``db`` holds the records."""

    def __init__(self, path: Path, db: Database) -> None:
        self.path = path
        self.readonly = db.readonly
        self._db = db

    @property
    def dialect(self) -> str:
        """Return ``sqlite`` or ``postgresql``."""
        return self._db.dialect

    @property
    def label(self) -> str:
        """Return how messages name the ledger (never with a password)."""
        return self._db.label

    def _tx(self) -> AbstractContextManager[SqlConn]:
        """Run the body as one write transaction; StateError on any database error."""
        return self._db.transaction()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return its rows; StateError on any database error."""
        return self._db.rows(sql, params)
