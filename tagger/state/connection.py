"""Opening the SQLite file: creation with safe permissions, pragmas, migrations."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Sequence
from pathlib import Path

from tagger.state.errors import StateDamaged, StateError
from tagger.state.integrity import RECOVER_COMMAND, damaged_message, quick_check
from tagger.state.schema import Migration, check_known, current_version, migrate

# Seconds a statement waits for another connection's write lock (e.g. a
# checkpoint running while `tagger status` reads) before failing.
BUSY_TIMEOUT_S = 10.0


def ensure_parent(path: Path) -> None:
    """Create the directory of ``path`` (mode 0700 when new); StateError on failure."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot create directory {path.parent}: {exc.strerror}") from exc


def _create_private(path: Path) -> None:
    """Create ``path`` (and its parent) readable by the owner only.

    The file is created by ``os.open`` with mode 0600 *before* SQLite sees it:
    SQLite would create it with 0644 masked by the umask, and it creates its
    ``-wal`` and ``-shm`` companions with the main file's mode, so getting the
    main file right protects all three. An existing file is tightened to 0600.
    """
    ensure_parent(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StateError(f"cannot create state file {path}: {exc.strerror}") from exc
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    except OSError as exc:
        raise StateError(f"cannot restrict permissions of {path} to 0600: {exc.strerror}") from exc
    finally:
        os.close(fd)


def unusable(path: Path, exc: Exception) -> StateError:
    """Return the located error for a state file SQLite cannot use (``exc`` says why).

    Text that is not UTF-8 where SQLite hands text back (a damaged byte in the
    schema text of ``sqlite_master``, or an error message quoting it) is
    damage, named as such; other errors may also mean another kind of file.
    Both carry the recovery command.
    """
    if isinstance(exc, UnicodeError):
        return StateDamaged(damaged_message(path, "its schema holds text that is not valid UTF-8"))
    return StateError(
        f"cannot use state file {path}: {exc} (is it a tagger state file? if it is, "
        f"it is damaged: stop tagger and run `{RECOVER_COMMAND}`, which moves it aside)"
    )


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """Return an autocommit connection (transactions are opened explicitly)."""
    if readonly:
        if not path.exists():
            raise StateError(f"state file {path} does not exist (has tagger run yet?)")
        target, uri = path.resolve().as_uri() + "?mode=ro", True
    else:
        target, uri = str(path), False
    try:
        conn = sqlite3.connect(
            target,
            uri=uri,
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,
            # The store serialises access itself (see StateAccess._mutex) so the
            # scheduler's worker thread may use a store opened by the main thread.
            check_same_thread=False,
        )
    except (sqlite3.Error, UnicodeError) as exc:
        raise StateError(f"cannot open state file {path}: {exc}") from exc
    return conn


def _set_pragmas(conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
    """Apply the durability settings; raises StateError when WAL is unavailable."""
    if readonly:
        conn.execute("PRAGMA query_only = ON")
        return
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StateError(
            f"state file {path} cannot use write-ahead logging (journal mode {mode}); "
            "put it on a local file system"
        )
    # FULL: a commit is on disk (WAL fsynced) before COMMIT returns, so a
    # recorded application survives power loss, not just a process crash.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


def open_connection(
    path: Path, *, readonly: bool, migrations: Sequence[Migration]
) -> tuple[sqlite3.Connection, int]:
    """Open (creating if needed) the state file and bring its schema up to date.

    Given the file path, whether to open read-only (no creation, no writes,
    no migration) and the ordered migrations. Returns the connection and the
    schema version. Raises StateError when the file is unusable: not SQLite,
    another program's database, too new, or (read-only) older than this tagger.
    """
    if not readonly:
        _create_private(path)
    conn = _connect(path, readonly)
    try:
        _set_pragmas(conn, path, readonly)
        if readonly:
            version = current_version(conn, path)
            check_known(version, migrations, path)
            newest = migrations[-1].version if migrations else 0
            if version < newest:
                raise StateError(
                    f"state file {path} is at schema version {version}, this tagger expects "
                    f"{newest}; start the daemon (or `tagger once`) once to upgrade it"
                )
        else:
            # Before migrating: a damaged file is refused, never written to.
            quick_check(conn, path)
            version = migrate(conn, path, migrations)
    except (sqlite3.DatabaseError, UnicodeError) as exc:
        with contextlib.suppress(sqlite3.Error, UnicodeError):
            conn.close()
        raise unusable(path, exc) from exc
    except BaseException:
        with contextlib.suppress(sqlite3.Error, UnicodeError):
            conn.close()
        raise
    return conn, version


def copy_into_memory(path: Path, *, migrations: Sequence[Migration]) -> sqlite3.Connection:
    """Return an in-memory copy of the state file at ``path``, brought up to date.

    The file is read once, read-only and without the single-writer lock (so
    this works next to a running daemon), through SQLite's backup API, which
    copies a consistent snapshot; when it does not exist the copy starts
    empty. The file is never created or written. Raises StateError when it is
    unusable (not SQLite, another program's database, too new).
    """
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        if path.exists():
            source = _connect(path, readonly=True)
            try:
                source.execute("PRAGMA query_only = ON")
                quick_check(source, path)
                check_known(current_version(source, path), migrations, path)
                source.backup(memory)
            finally:
                source.close()
        migrate(memory, path, migrations)
    except (sqlite3.DatabaseError, UnicodeError) as exc:
        memory.close()
        raise unusable(path, exc) from exc
    except BaseException:
        memory.close()
        raise
    return memory
