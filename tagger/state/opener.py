"""One way to open the ledger a configuration names, for every command.

:func:`open_state` picks the backend (``state:`` in the config): the SQLite
file at ``state_path`` as always (its single-writer lock, marker and quick
check), or PostgreSQL, with no file lock (the cluster's per-account leases
take its place), no marker and no quick check (PostgreSQL keeps its own
integrity). A dry run on either works on an in-memory SQLite copy, so
nothing it does reaches the ledger (nor, therefore, Mimecast).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tagger.state.errors import StateError
from tagger.state.schema import MIGRATIONS, Migration
from tagger.state.store import StateStore
from tagger.state.target import StateBackend


class StateConfig(Protocol):
    """What opening the ledger needs of a configuration."""

    @property
    def state_path(self) -> Path:
        """The SQLite file, or (PostgreSQL) the node's local anchor."""
        ...

    @property
    def state(self) -> StateBackend:
        """The backend."""
        ...


def open_state(
    config: StateConfig,
    *,
    lock: bool = True,
    readonly: bool = False,
    dry_run: bool = False,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> StateStore:
    """Open the ledger ``config`` names.

    ``lock`` (SQLite only) takes the single-writer lock while it is open;
    ``readonly`` opens an existing ledger for reading (``tagger status``);
    ``dry_run`` opens an in-memory copy every write goes to. Raises
    StateLocked or StateError as the backend's opener does (never with a
    password).
    """
    backend = config.state
    if backend.backend == "postgresql":
        if backend.dsn is None:
            raise StateError("state.backend postgresql needs state.dsn")
        if dry_run:
            return StateStore.open_postgresql_copy(
                config.state_path, backend.dsn, migrations=migrations
            )
        return StateStore.open_postgresql(
            config.state_path, backend.dsn, readonly=readonly, migrations=migrations
        )
    if dry_run:
        return StateStore.open_copy(config.state_path, migrations=migrations)
    return StateStore.open(config.state_path, lock=lock, readonly=readonly, migrations=migrations)


def may_hold_a_ledger(config: StateConfig) -> bool:
    """Return whether there may be a ledger to read (without opening it).

    SQLite: whether the file exists (a read-only open never creates it).
    PostgreSQL: always (opening it says whether it holds one).
    """
    if config.state.backend == "postgresql":
        return True
    return config.state_path.exists()
