"""What the table families see of a database: one connection inside a transaction, and reads.

Both dialects (SQLite and PostgreSQL) are driven through the same small
surface, so the families keep one text per query:

- :class:`SqlConn` is what :meth:`~tagger.state.access.StateAccess._tx`
  yields: ``execute(sql, params)`` and ``executemany(sql, rows)``, each
  returning a :class:`SqlCursor` (``fetchone``, ``fetchall``, ``rowcount``).
  A ``sqlite3.Connection`` already is one, so SQLite runs as before, with no
  wrapper in between; PostgreSQL gets :class:`~tagger.state.pgdb.PgConn`.
- :class:`Database` is one opened ledger: write transactions, reads, and
  what differs between the dialects (the catalogue, the integrity check).

Queries are written in the subset both dialects accept, with SQLite's ``?``
(or ``?N``) marks; :func:`to_pyformat` turns them into psycopg's marks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgresql"]

_NUMBERED = re.compile(r"\?(\d+)")


class SqlCursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int:
        """Rows the statement changed (summed over every row of ``executemany``)."""
        ...

    def fetchone(self) -> Any:
        """Return the next row, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """Return the remaining rows."""
        ...


class SqlConn(Protocol):
    """A connection inside a write transaction."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> SqlCursor:
        """Run one statement with ``?`` marks."""
        ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> SqlCursor:
        """Run one statement once per row of parameters."""
        ...


class Database(Protocol):
    """One open ledger of either dialect (see module docstring).

    ``label`` names it in messages (``state file PATH`` or ``state database
    HOST:PORT/NAME``: never a password); ``readonly`` refuses every write.
    """

    dialect: Dialect
    label: str
    readonly: bool

    def transaction(self) -> AbstractContextManager[SqlConn]:
        """Run the body as one write transaction; StateError on any database error."""
        ...

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return its rows; StateError on any database error."""
        ...

    def has_table(self, name: str) -> bool:
        """Return whether the ledger has the table ``name``."""
        ...

    def check_sound(self) -> None:
        """Raise StateDamaged when the ledger is found damaged."""
        ...

    def quick_report(self) -> str:
        """Return the quick integrity report: ``"ok"`` when the ledger is sound."""
        ...

    def integrity_report(self) -> str:
        """Return the full integrity report: ``"ok"`` when the ledger is sound."""
        ...

    def close(self) -> None:
        """Close the ledger (idempotent)."""
        ...


@lru_cache(maxsize=512)
def _translate(sql: str) -> tuple[str, tuple[int, ...] | None]:
    """Return ``sql`` with psycopg marks, and the 1-based numbers of ``?N`` marks (None: ``?``)."""
    text = sql.replace("%", "%%")
    if _NUMBERED.search(text):
        numbers = tuple(sorted({int(n) for n in _NUMBERED.findall(text)}))
        return _NUMBERED.sub(lambda m: f"%(p{m.group(1)})s", text), numbers
    return text.replace("?", "%s"), None


def to_pyformat(sql: str, params: Sequence[Any]) -> tuple[str, Sequence[Any] | dict[str, Any]]:
    """Return ``sql`` and ``params`` for psycopg: ``?`` → ``%s``, ``?N`` → ``%(pN)s``.

    A ``%`` in the text is doubled (psycopg would read it as a mark). The
    queries hold no ``?`` inside string literals. Pure.
    """
    text, numbers = _translate(sql)
    if numbers is None:
        return text, params
    return text, {f"p{n}": params[n - 1] for n in numbers}
