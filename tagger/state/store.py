"""The state store: opening, closing and locking the ledger, and its table families.

:class:`StateStore` is one object over one database (the SQLite file, or
PostgreSQL: see :mod:`tagger.state.opener`), mixed together from a
record class per table family, each a small module over the shared plumbing
of :mod:`tagger.state.access` (which says why mixins):

- :mod:`~tagger.state.applied`: the (message, tag) pairs applied;
- :mod:`~tagger.state.processed`: the messages processed per rule-set hash;
- :mod:`~tagger.state.watermarks`: how far each query and backfill job got;
- :mod:`~tagger.state.searches`: the learned search cap, when queries were searched;
- :mod:`~tagger.state.failures`: failing messages and those set aside;
- :mod:`~tagger.state.runs`: the history of cycles;
- :mod:`~tagger.state.railstore`: pauses, promotions, per-rule cycles, switches;
- :mod:`~tagger.state.held`: the pairs a rail kept from being applied;
- :mod:`~tagger.state.generation`: the generation, mirrored in the marker;
- :mod:`~tagger.state.maintenance`: pruning and integrity reports.

This module keeps what concerns the SQLite file as a whole: opening (with
the single-writer lock, or as an in-memory copy for dry runs), closing,
noticing a lost or replaced file; :mod:`tagger.state.pgdb` opens PostgreSQL.
Every write method is one transaction: when it returns, the change survives
a SIGKILL or power loss; when the process dies inside it, the change is
absent as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import structlog

from tagger.state.applied import AppliedRecords
from tagger.state.connection import copy_into_memory, ensure_parent, open_connection
from tagger.state.failures import FailureRecords
from tagger.state.generation import GenerationRecords
from tagger.state.held import HeldRecords
from tagger.state.integrity import (
    LOST_ACCOUNT,
    LOST_KEY,
    marker_path,
    state_missing,
    was_lost,
    write_marker,
)
from tagger.state.lock import StateLock
from tagger.state.maintenance import StateMaintenance
from tagger.state.processed import ProcessedRecords
from tagger.state.railstore import RailRecords
from tagger.state.runs import RunRecords
from tagger.state.schema import MIGRATIONS, Migration
from tagger.state.searches import SearchRecords
from tagger.state.sqlconn import Database
from tagger.state.sqlitedb import SqliteDb
from tagger.state.watermarks import WatermarkRecords

log = structlog.get_logger("tagger.state")


class StateStore(
    AppliedRecords,
    ProcessedRecords,
    WatermarkRecords,
    SearchRecords,
    FailureRecords,
    RunRecords,
    RailRecords,
    HeldRecords,
    GenerationRecords,
    StateMaintenance,
):
    """The persistent state of one tagger installation (see module docstring)."""

    def __init__(
        self,
        path: Path,
        db: Database,
        lock: StateLock | None = None,
        *,
        copy: bool = False,
    ) -> None:
        super().__init__(path, db)
        # An in-memory copy (a dry run): nothing written here reaches the file,
        # so nothing may reach Mimecast either.
        self.dry_run = copy
        self._lock = lock

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        lock: bool = True,
        readonly: bool = False,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> StateStore:
        """Open the state file at ``path``, creating it (mode 0600) if needed.

        ``lock`` takes the single-writer lock for as long as the store is open;
        ``readonly`` opens an existing file without lock or writes (for
        ``tagger status`` next to a running daemon). ``migrations`` exists so
        tests can exercise the upgrade path. Raises StateLocked when another
        process holds the lock and StateError when the file is unusable.
        """
        path = Path(path)
        if not readonly:
            ensure_parent(path)
        missing = not readonly and state_missing(path)
        held = StateLock.acquire(path) if lock and not readonly else None
        try:
            conn, _version = open_connection(path, readonly=readonly, migrations=migrations)
        except BaseException:
            if held is not None:
                held.release()
            raise
        store = cls(path, SqliteDb(path, conn, readonly), held)
        if not readonly:
            try:
                store._note_open(missing)
            except BaseException:
                store.close()
                raise
        return store

    def _note_open(self, missing: bool) -> None:
        """Note a state that may lack applies, then write the marker if it is not there.

        A lost state (see :mod:`tagger.state.integrity`), and, for the writer
        holding the lock, a state older than the last one this host wrote
        (see :mod:`tagger.state.generation`): the moment is recorded, and every
        account reads the tags already on each message before applying any
        until one of its runs completes after it.
        """
        if was_lost(self.path, missing):
            self._note_unsure(
                "state_lost",
                marker=str(marker_path(self.path)),
                check="every account reads the tags already on each message before applying",
            )
        elif self._lock is not None:
            behind = self.behind_marker()
            if behind is not None:
                mine, theirs = behind
                self._note_unsure(
                    "state_behind_marker",
                    generation=mine,
                    marker=str(marker_path(self.path)),
                    marker_generation=theirs,
                    cause="a copy or a restored backup older than the last state written here, "
                    "or a cycle cut off before it ended",
                    check="every account reads the tags already on each message before "
                    "applying, until one of its cycles completes",
                )
        write_marker(self.path)

    def _note_unsure(self, event: str, **fields: object) -> None:
        """Record now as the moment the state was found unsure, and log ``event``."""
        now = datetime.now(UTC)
        self.set_backfill_progress(LOST_ACCOUNT, LOST_KEY, now, now)
        fields.setdefault("state", str(self.path))
        log.warning(event, **fields)

    @classmethod
    def open_postgresql(
        cls,
        path: Path,
        dsn: str,
        *,
        readonly: bool = False,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> StateStore:
        """Open the PostgreSQL ledger ``dsn`` names (``path``: the node's local anchor).

        No file lock (the cluster's leases take its place), no marker, no
        quick check. A ledger just created on a node that used a SQLite file
        before (the file or its marker is at ``path``) is noted as unsure, as
        a lost state file is: it does not hold that file's applies, so every
        account reads the tags already on each message before applying,
        until one of its cycles completes. Raises StateError (never with the
        password) when the database cannot be used.
        """
        from tagger.state.pgdb import open_pg

        path = Path(path)
        db, created = open_pg(dsn, readonly=readonly, migrations=migrations)
        store = cls(path, db)
        if created and (path.exists() or marker_path(path).exists()):
            try:
                store._note_unsure(
                    "state_ledger_follows_a_file",
                    state=db.label,
                    file=str(path),
                    check="every account reads the tags already on each message before "
                    "applying, until one of its cycles completes",
                )
            except BaseException:
                store.close()
                raise
        return store

    @classmethod
    def open_postgresql_copy(
        cls, path: Path, dsn: str, *, migrations: Sequence[Migration] = MIGRATIONS
    ) -> StateStore:
        """Open an in-memory SQLite copy of the PostgreSQL ledger (for dry runs).

        Nothing reaches the server but one read-only snapshot; an empty
        database gives an empty copy. Raises StateError when it cannot be read.
        """
        from tagger.state.pgcopy import copy_pg_into_memory

        conn = copy_pg_into_memory(dsn, Path(path), migrations=migrations)
        return cls(Path(path), SqliteDb(Path(path), conn, readonly=False), None, copy=True)

    @classmethod
    def open_copy(cls, path: Path, *, migrations: Sequence[Migration] = MIGRATIONS) -> StateStore:
        """Open an in-memory copy of the state file at ``path`` (for dry runs).

        Every read and write of a live store works on the copy, and none
        reaches the file: it is read once, without the lock (so a dry run
        works next to a running daemon), and never created when missing (the
        copy then starts empty). Raises StateError when the file is unusable.
        """
        path = Path(path)
        conn = copy_into_memory(path, migrations=migrations)
        return cls(path, SqliteDb(path, conn, readonly=False), None, copy=True)

    def close(self) -> None:
        """Close the ledger and release the lock (idempotent)."""
        self._db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_file(self) -> None:
        """Raise StateGone when the locked state file was deleted or replaced under us."""
        if self._lock is not None:
            self._lock.check_file()

    def lost_at(self) -> datetime | None:
        """Return when this state was found lost (its file gone, its marker there), or None."""
        return self.get_backfill_progress(LOST_ACCOUNT, LOST_KEY)
