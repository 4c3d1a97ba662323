"""The PostgreSQL ledger: a small connection pool, one write transaction per call, fenced.

:func:`open_pg` checks the server once on a connection of its own (a clear
error when it cannot be reached: host, port and database, never the
password), brings the schema up to date (:mod:`tagger.state.pgschema`), then
opens a :class:`psycopg_pool.ConnectionPool` (1 to :data:`POOL_MAX`
connections, each checked before use, so a connection the server dropped is
replaced instead of failing the next call).

Every write (:meth:`PgDb.transaction`) takes a connection, runs ``BEGIN`` …
``COMMIT`` at READ COMMITTED, and hands the connection back. When a fence is
set (:mod:`tagger.state.fence`) its check is the transaction's first
statement; a LeaseLost it raises rolls the whole transaction back. A
connection lost inside a call (a server restart, a terminated backend, a cut
network) fails that call with a StateError; the next call gets a fresh one.
Reads run as one autocommit statement each.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tagger.logs.redact import REDACTOR
from tagger.state.dsn import DsnInfo, parse_dsn, require_driver, scrub
from tagger.state.errors import LedgerMissing, StateError
from tagger.state.fence import FENCE, Execute
from tagger.state.pgcut import KEEPALIVES, bounded
from tagger.state.pgschema import BASELINE, check_version, current_version
from tagger.state.pgschema import migrate as migrate_pg
from tagger.state.schema import Migration
from tagger.state.sqlconn import Dialect, SqlCursor, to_pyformat

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

# Seconds one call may go unanswered before its connection is cut (tagger.state.pgcut).
CALL_DEADLINE_S = 30.0
# Seconds the check of a pooled connection before use may take.
CHECK_DEADLINE_S = 5.0
# Seconds to establish one connection (libpq's connect_timeout).
CONNECT_TIMEOUT_S = 5
# Seconds a call waits for a pooled connection before it fails.
POOL_WAIT_S = 10.0
POOL_MIN = 1
POOL_MAX = 4
INTEGRITY_NOTE = (
    "ok (PostgreSQL keeps its own integrity: write-ahead log, and data checksums when"
    " the cluster was initialised with them; this check applies to SQLite files)"
)


class PgConn:
    """A pooled psycopg connection inside a write transaction, with SQLite's ``?`` marks."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        """Run one statement; return its cursor."""
        text, args = to_pyformat(sql, parameters)
        return self._conn.execute(text, args)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> SqlCursor:
        """Run one statement per row, each answered before the next; rowcount summed.

        Not pipelined: PostgreSQL arms a transaction's idle limit (the
        fence's, :data:`tagger.cluster.tenure.IDLE_LIMIT`) only once a
        statement is synced. A process frozen in the middle of a pipeline
        left its transaction, and the lease row it holds FOR SHARE, with no
        limit at all: another node's takeover waited until it woke.
        """
        total = 0
        for row in parameters:
            text, args = to_pyformat(sql, row)
            total += max(0, self._conn.execute(text, args).rowcount)
        return _Summed(total)


class _Summed:
    """The result of :meth:`PgConn.executemany`: the rows changed, and no rows to fetch."""

    def __init__(self, rowcount: int) -> None:
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        """Return None: the statements return no rows."""
        return None

    def fetchall(self) -> list[Any]:
        """Return no rows."""
        return []


class PgDb:
    """An open PostgreSQL ledger over a connection pool (``readonly``: no writes)."""

    dialect: Dialect = "postgresql"

    def __init__(
        self, pool: psycopg_pool.ConnectionPool[Any], dsn: str, info: DsnInfo, readonly: bool
    ) -> None:
        self.label = f"state database {info.where}"
        self.where = info.where
        self.readonly = readonly
        self._pool = pool
        self._dsn = dsn
        self._secrets = info.secrets

    def _error(self, exc: Exception, doing: str) -> StateError:
        """Return the StateError for a driver or pool error (never with the password)."""
        import psycopg
        import psycopg_pool

        if isinstance(exc, psycopg_pool.PoolTimeout):
            return StateError(
                f"cannot {doing} {self.label}: no connection within {POOL_WAIT_S:g} s"
                " (is the server up and reachable, and the DSN right?); the next call retries"
            )
        if isinstance(exc, psycopg_pool.PoolClosed):
            return StateError(f"{self.label} is closed")
        detail = scrub(str(exc), self._dsn, self._secrets) or type(exc).__name__
        if isinstance(exc, psycopg.OperationalError) and _connection_lost(exc):
            return StateError(
                f"lost the connection to {self.label} ({detail}); the call was not"
                " done, the next one reconnects"
            )
        return StateError(f"cannot {doing} {self.label}: {detail}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgConn]:
        """Run the body as one write transaction, the fence's check first.

        StateError on any driver error (the transaction rolled back); a
        LeaseLost from the fence, or any error of the body, passes unchanged.
        """
        import psycopg
        import psycopg_pool

        if self.readonly:
            raise StateError(f"{self.label} is open read-only")
        try:
            with (
                self._pool.connection(timeout=POOL_WAIT_S) as raw,
                bounded(raw, CALL_DEADLINE_S),
                raw.transaction(),
            ):
                fence = FENCE.get()
                if fence is not None:
                    fence.check(_executor(raw))
                yield PgConn(raw)
        except (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as exc:
            raise self._error(exc, "write") from None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query (one autocommit statement) and return its rows."""
        import psycopg
        import psycopg_pool

        text, args = to_pyformat(sql, params)
        try:
            with (
                self._pool.connection(timeout=POOL_WAIT_S) as raw,
                bounded(raw, CALL_DEADLINE_S),
            ):
                rows: list[tuple[Any, ...]] = raw.execute(text, args).fetchall()
                return rows
        except (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as exc:
            raise self._error(exc, "read") from None

    def has_table(self, name: str) -> bool:
        """Return whether the ledger's schema has the table ``name``."""
        return bool(
            self.rows(
                "SELECT 1 FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_name = ?",
                (name,),
            )
        )

    def check_sound(self) -> None:
        """Do nothing: PostgreSQL keeps its own integrity (a failing read says so)."""

    def quick_report(self) -> str:
        """Return ``"ok"`` once the server answers (its integrity is its own)."""
        self.rows("SELECT 1")
        return "ok"

    def integrity_report(self) -> str:
        """Return ``ok`` with why: PostgreSQL keeps its own integrity."""
        self.rows("SELECT 1")
        return INTEGRITY_NOTE

    def close(self) -> None:
        """Close the pool and its connections (idempotent)."""
        self._pool.close()


def _executor(conn: psycopg.Connection[Any]) -> Execute:
    """Return the ``execute`` a fence runs its statements with (``%s`` marks, rows back)."""

    def execute(sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description is not None else []

    return execute


def _connection_lost(exc: psycopg.Error) -> bool:
    """Return whether ``exc`` means the connection is gone (not a refused statement)."""
    state = exc.sqlstate
    return state is None or state.startswith(("08", "57P"))


def _connect_error(exc: Exception, dsn: str, info: DsnInfo) -> StateError:
    detail = scrub(str(exc), dsn, info.secrets) or type(exc).__name__
    return StateError(
        f"cannot connect to state database {info.where}: {detail} (is the server up and"
        " reachable, and the DSN right?)"
    )


def _check_readable(
    conn: psycopg.Connection[Any], label: str, migrations: Sequence[Migration]
) -> None:
    """Raise StateError unless the ledger exists at the newest version (read-only opens)."""
    newest = max(BASELINE, migrations[-1].version if migrations else 0)
    with conn.cursor() as cur:
        version = current_version(cur, label)
    if version == 0:
        raise LedgerMissing(f"{label} holds no tagger ledger yet (has tagger run against it?)")
    check_version(version, newest, label)
    if version < newest:
        raise StateError(
            f"{label} is at schema version {version}, this tagger expects {newest}; start"
            " the daemon (or `tagger once`) once to upgrade it"
        )


def open_pg(dsn: str, *, readonly: bool, migrations: Sequence[Migration]) -> tuple[PgDb, bool]:
    """Open the PostgreSQL ledger ``dsn`` names; return it and whether it was just created.

    Not ``readonly``: the schema is created or brought up to date first.
    ``readonly``: the ledger must exist at the newest version; no writes.
    Raises DriverMissing, DsnError, or StateError (unreachable server, a
    database of another program, a too-new ledger), never with the password.
    """
    require_driver()
    import psycopg
    import psycopg_pool

    info = parse_dsn(dsn)
    for secret in info.secrets:
        REDACTOR.add_secret(secret)
    label = f"state database {info.where}"
    created = False
    try:
        with psycopg.connect(
            dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="tagger"
        ) as conn:
            if readonly:
                _check_readable(conn, label, migrations)
            else:
                _version, created = migrate_pg(conn, label, migrations)
    except psycopg.Error as exc:
        raise _connect_error(exc, dsn, info) from None
    pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
        dsn,
        min_size=POOL_MIN,
        max_size=POOL_MAX,
        open=False,
        name="tagger-state",
        timeout=POOL_WAIT_S,
        check=_check,
        configure=_configure,
        kwargs={
            "autocommit": True,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "application_name": "tagger",
            **KEEPALIVES,
        },
    )
    try:
        pool.open(wait=True, timeout=POOL_WAIT_S)
    except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
        pool.close()
        raise _connect_error(exc, dsn, info) from None
    return PgDb(pool, dsn, info, readonly), created


def _check(conn: psycopg.Connection[Any]) -> None:
    """Check a pooled connection before use, bounded like any call (a cut one is discarded)."""
    import psycopg_pool

    with bounded(conn, CHECK_DEADLINE_S):
        psycopg_pool.ConnectionPool.check_connection(conn)


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Set a new pooled connection's isolation level: READ COMMITTED."""
    import psycopg

    conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
