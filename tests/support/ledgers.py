"""One ledger test, both backends: a SQLite file, or a fresh PostgreSQL database.

A test asks for the ``ledger`` fixture of its module (parametrized over
:data:`BACKENDS`) and opens stores on it with :meth:`Ledger.open`; the
PostgreSQL case takes a fresh database of the run's server (``pg_dsn``) and is
skipped with it when no server can be started (a failure under CI).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tagger.state import StateStore
from tagger.state.schema import MIGRATIONS, Migration

BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Ledger:
    """Where a test's ledger lives: ``path`` (the file, or the node's anchor) and ``dsn``."""

    backend: str
    path: Path
    dsn: str | None = None

    def open(
        self,
        *,
        lock: bool = True,
        readonly: bool = False,
        migrations: tuple[Migration, ...] = MIGRATIONS,
    ) -> StateStore:
        """Open a store on the ledger (``lock`` applies to SQLite only)."""
        if self.dsn is not None:
            return StateStore.open_postgresql(
                self.path, self.dsn, readonly=readonly, migrations=migrations
            )
        return StateStore.open(self.path, lock=lock, readonly=readonly, migrations=migrations)

    def copy(self) -> StateStore:
        """Open a dry run's in-memory copy of the ledger."""
        if self.dsn is not None:
            return StateStore.open_postgresql_copy(self.path, self.dsn)
        return StateStore.open_copy(self.path)


def make_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    """Return the ledger of the fixture parameter ``request.param`` (a :data:`BACKENDS` name)."""
    backend = str(request.param)
    path = tmp_path / "state.db"
    if backend == "postgresql":
        return Ledger(backend, path, str(request.getfixturevalue("pg_dsn")))
    return Ledger(backend, path)
