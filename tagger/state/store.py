"""The SQLite state store: what was applied, processed, and how far each query got.

Every write method is one transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) in a
WAL file with ``synchronous=FULL``: when it returns, the change survives a
SIGKILL or power loss; when the process dies inside it, the change is absent
as a whole. Batch lookups go through the primary keys in chunks of at most
:data:`CHUNK` parameters, so they stay fast with millions of rows.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from tagger.logs.redact import REDACTOR
from tagger.state.connection import copy_into_memory, ensure_parent, open_connection
from tagger.state.errors import StateError
from tagger.state.integrity import (
    LOST_ACCOUNT,
    LOST_KEY,
    marker_path,
    quick_check,
    state_missing,
    was_lost,
    write_marker,
)
from tagger.state.lock import StateLock
from tagger.state.railstore import RailRecords
from tagger.state.rows import AppliedRow, FailureRow, RunRow, SearchCapRow
from tagger.state.schema import MIGRATIONS, Migration
from tagger.state.times import from_us, opt_from_us, to_us

log = structlog.get_logger("tagger.state")

# SQLite's historical limit on bound parameters is 999; stay well below it.
CHUNK = 500
# Errors are stored for operators to read, not API bodies: keep them short.
MAX_ERROR_CHARS = 2000


def _chunks(items: Iterable[str], size: int = CHUNK) -> Iterator[list[str]]:
    """Yield the distinct ``items`` in lists of at most ``size``."""
    unique = list(dict.fromkeys(items))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _clean_error(error: str) -> str:
    """Return ``error`` with registered secrets masked and its length capped."""
    text = REDACTOR.text(error)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


class StateStore(RailRecords):
    """The persistent state of one tagger installation (see module docstring)."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        lock: StateLock | None,
        readonly: bool,
        *,
        copy: bool = False,
    ) -> None:
        self.path = path
        self.readonly = readonly
        # An in-memory copy (a dry run): nothing written here reaches the file,
        # so nothing may reach Mimecast either (see :attr:`dry_run`).
        self.dry_run = copy
        self._conn: sqlite3.Connection | None = conn
        self._lock = lock
        # One connection shared by threads: serialise every use of it.
        self._mutex = threading.RLock()

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
        store = cls(path, conn, held, readonly)
        if not readonly:
            try:
                store._note_open(missing)
            except BaseException:
                store.close()
                raise
        return store

    def _note_open(self, missing: bool) -> None:
        """Record a lost state (see :mod:`tagger.state.integrity`) and write the marker."""
        if was_lost(self.path, missing):
            now = datetime.now(UTC)
            self.set_backfill_progress(LOST_ACCOUNT, LOST_KEY, now, now)
            log.warning(
                "state_lost",
                state=str(self.path),
                marker=str(marker_path(self.path)),
                check="every account reads the tags already on each message before applying",
            )
        write_marker(self.path)

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
        return cls(path, conn, None, readonly=False, copy=True)

    def close(self) -> None:
        """Close the file and release the lock (idempotent)."""
        with self._mutex:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------

    def _live(self) -> sqlite3.Connection:
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
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise StateError(f"cannot write state file {self.path}: {exc}") from exc
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query; StateError on any SQLite error."""
        with self._mutex:
            try:
                return self._live().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StateError(f"cannot read state file {self.path}: {exc}") from exc

    # -- applied (message, tag) pairs ---------------------------------------

    def applied_pairs(self, account: str, message_ids: Iterable[str]) -> set[tuple[str, str]]:
        """Return the (message_id, tag_id) pairs already applied among ``message_ids``."""
        found: set[tuple[str, str]] = set()
        for chunk in _chunks(message_ids):
            sql = (
                "SELECT message_id, tag_id FROM applied "  # noqa: S608 - only "?" marks added
                f"WHERE account = ? AND message_id IN ({_marks(len(chunk))})"
            )
            found.update((m, t) for m, t in self._rows(sql, [account, *chunk]))
        return found

    def record_applied(
        self,
        account: str,
        message_id: str,
        tag_id: str,
        *,
        rule_id: str,
        rule_hash: str,
        mode: str,
        at: datetime,
    ) -> None:
        """Record one applied pair; recording it again keeps the first record."""
        row = AppliedRow(message_id, tag_id, rule_id, rule_hash, mode, at)
        self.record_applied_many(account, [row])

    def record_applied_many(self, account: str, rows: Iterable[AppliedRow]) -> None:
        """Record several applied pairs in one transaction (idempotent per pair)."""
        values = [
            (account, r.message_id, r.tag_id, r.rule_id, r.rule_hash, r.mode, to_us(r.at))
            for r in rows
        ]
        with self._tx() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO applied (account, message_id, tag_id, rule_id,"
                " rule_hash, mode, applied_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )

    def tags_per_rule(self, account: str | None = None) -> dict[tuple[str, str], int]:
        """Return how many messages each (rule_id, tag_id) has tagged."""
        rows = self._rows(
            "SELECT rule_id, tag_id, COUNT(*) FROM applied WHERE ?1 IS NULL OR account = ?1"
            " GROUP BY rule_id, tag_id",
            [account],
        )
        return {(r, t): int(n) for r, t, n in rows}

    # -- processed messages per rule-set hash --------------------------------

    def processed_ids(
        self, account: str, ruleset_hash: str, message_ids: Iterable[str]
    ) -> set[str]:
        """Return the ids among ``message_ids`` fully processed under ``ruleset_hash``."""
        found: set[str] = set()
        for chunk in _chunks(message_ids):
            sql = (
                "SELECT message_id FROM processed WHERE account = ? AND ruleset_hash = ?"  # noqa: S608
                f" AND message_id IN ({_marks(len(chunk))})"
            )
            found.update(m for (m,) in self._rows(sql, [account, ruleset_hash, *chunk]))
        return found

    def mark_processed(
        self,
        account: str,
        ruleset_hash: str,
        message_ids: Iterable[str],
        at: datetime,
        received: Mapping[str, datetime] | None = None,
    ) -> None:
        """Mark messages processed at ``at`` (``received`` times help pruning)."""
        when = to_us(at)
        got = received or {}
        values = [
            (account, ruleset_hash, m, when, to_us(got[m]) if m in got else None)
            for m in dict.fromkeys(message_ids)
        ]
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO processed (account, ruleset_hash, message_id, processed_at,"
                " received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
                " processed_at = excluded.processed_at,"
                " received_at = COALESCE(excluded.received_at, received_at)",
                values,
            )

    # -- watermarks and backfill cursors ------------------------------------

    def get_watermark(self, account: str, query_key: str) -> datetime | None:
        """Return how far ``query_key`` has been fully processed, or None."""
        rows = self._rows(
            "SELECT value FROM watermarks WHERE account = ? AND query_key = ?",
            [account, query_key],
        )
        return from_us(rows[0][0]) if rows else None

    def watermarks(self) -> list[tuple[str, str, datetime]]:
        """Return every (account, query key, watermark), ordered by account and key."""
        rows = self._rows(
            "SELECT account, query_key, value FROM watermarks ORDER BY account, query_key", []
        )
        return [(str(a), str(k), from_us(v)) for a, k, v in rows]

    def set_watermark(self, account: str, query_key: str, value: datetime, at: datetime) -> None:
        """Store the watermark of ``query_key`` (set at time ``at``)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO watermarks (account, query_key, value, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (account, query_key, to_us(value), to_us(at)),
            )

    def get_backfill_progress(self, account: str, job_key: str) -> datetime | None:
        """Return the resumable cursor of backfill job ``job_key``, or None."""
        rows = self._rows(
            "SELECT cursor FROM backfill_progress WHERE account = ? AND job_key = ?",
            [account, job_key],
        )
        return from_us(rows[0][0]) if rows else None

    def set_backfill_progress(
        self, account: str, job_key: str, cursor: datetime, at: datetime
    ) -> None:
        """Store the cursor of backfill job ``job_key``."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO backfill_progress (account, job_key, cursor, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET cursor = excluded.cursor,"
                " updated_at = excluded.updated_at",
                (account, job_key, to_us(cursor), to_us(at)),
            )

    # -- the learned search cap ---------------------------------------------

    def get_search_cap(self, account: str) -> SearchCapRow | None:
        """Return what searches revealed about ``account``'s result cap, or None."""
        rows = self._rows(
            "SELECT learned, largest, confirmed, updated_at FROM search_caps WHERE account = ?",
            [account],
        )
        if not rows:
            return None
        learned, largest, confirmed, updated = rows[0]
        return SearchCapRow(
            None if learned is None else int(learned),
            int(largest),
            int(confirmed),
            from_us(updated),
        )

    def set_search_cap(self, account: str, row: SearchCapRow) -> None:
        """Store what searches revealed about ``account``'s result cap (replacing it)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO search_caps (account, learned, largest, confirmed, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET learned = excluded.learned,"
                " largest = excluded.largest, confirmed = excluded.confirmed,"
                " updated_at = excluded.updated_at",
                (account, row.learned, row.largest, row.confirmed, to_us(row.updated_at)),
            )

    # -- when scheduled queries were last searched ----------------------------

    def last_searched(self, account: str) -> dict[str, datetime]:
        """Return when each query of ``account`` was last searched, by query key."""
        rows = self._rows(
            "SELECT query_key, searched_at FROM query_searches WHERE account = ?", [account]
        )
        return {str(k): from_us(v) for k, v in rows}

    def set_searched(self, account: str, query_keys: Iterable[str], at: datetime) -> None:
        """Record that the queries ``query_keys`` of ``account`` were searched at ``at``."""
        when = to_us(at)
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO query_searches (account, query_key, searched_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO UPDATE SET searched_at = excluded.searched_at",
                [(account, key, when) for key in dict.fromkeys(query_keys)],
            )

    # -- failures ------------------------------------------------------------

    def record_failure(self, account: str, message_id: str, error: str, at: datetime) -> int:
        """Count one more failed attempt at ``message_id``; return the attempts so far.

        ``error`` is stored with registered secrets masked and its length capped.
        """
        when = to_us(at)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO failures (account, message_id, attempts, first_at, last_at,"
                " last_error) VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT DO UPDATE SET"
                " attempts = attempts + 1, last_at = excluded.last_at,"
                " last_error = excluded.last_error",
                (account, message_id, when, when, _clean_error(error)),
            )
            row = conn.execute(
                "SELECT attempts FROM failures WHERE account = ? AND message_id = ?",
                (account, message_id),
            ).fetchone()
        return int(row[0])

    def failure_count(self, account: str, message_id: str) -> int:
        """Return the failed attempts recorded for ``message_id`` (0 if none)."""
        rows = self._rows(
            "SELECT attempts FROM failures WHERE account = ? AND message_id = ?",
            [account, message_id],
        )
        return int(rows[0][0]) if rows else 0

    def set_aside(self, account: str, message_id: str, at: datetime) -> None:
        """Give up on ``message_id``: later cycles skip it until it is cleared."""
        when = to_us(at)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO failures (account, message_id, attempts, first_at, last_at,"
                " last_error, set_aside_at) VALUES (?, ?, 0, ?, ?, '', ?)"
                " ON CONFLICT DO UPDATE SET set_aside_at = excluded.set_aside_at",
                (account, message_id, when, when, when),
            )

    def set_aside_ids(self, account: str) -> set[str]:
        """Return the ids of ``account``'s messages that were set aside."""
        rows = self._rows(
            "SELECT message_id FROM failures WHERE account = ? AND set_aside_at IS NOT NULL",
            [account],
        )
        return {m for (m,) in rows}

    def clear_failure(self, account: str, message_id: str) -> None:
        """Forget the failures of ``message_id`` (it succeeded, or an operator retries it)."""
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM failures WHERE account = ? AND message_id = ?", (account, message_id)
            )

    def failures(self, account: str | None = None) -> list[FailureRow]:
        """Return the recorded failures, most recent first."""
        rows = self._rows(
            "SELECT account, message_id, attempts, first_at, last_at, last_error, set_aside_at"
            " FROM failures WHERE ?1 IS NULL OR account = ?1"
            " ORDER BY last_at DESC, account, message_id",
            [account],
        )
        return [
            FailureRow(a, m, int(n), from_us(f), from_us(la), e, opt_from_us(s))
            for a, m, n, f, la, e, s in rows
        ]

    # -- run history -----------------------------------------------------------

    def start_run(self, kind: str, account: str, at: datetime, dry_run: bool) -> int:
        """Record the start of a cycle; return its run id for :meth:`finish_run`."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO runs (kind, account, dry_run, started_at, status)"
                " VALUES (?, ?, ?, ?, 'running')",
                (kind, account, int(dry_run), to_us(at)),
            )
            run_id = cur.lastrowid
        assert run_id is not None
        return run_id

    def finish_run(
        self,
        run_id: int,
        at: datetime,
        counts: Mapping[str, int],
        status: str,
        error: str | None = None,
    ) -> None:
        """Record the end of run ``run_id`` with its counters and outcome."""
        text = json.dumps({k: int(v) for k, v in counts.items()}, sort_keys=True)
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE runs SET finished_at = ?, counts = ?, status = ?, error = ? WHERE id = ?",
                (to_us(at), text, status, None if error is None else _clean_error(error), run_id),
            )
            if cur.rowcount != 1:
                raise StateError(f"run {run_id} does not exist in state file {self.path}")

    def last_runs(self) -> list[RunRow]:
        """Return the most recent run of each account, ordered by account."""
        rows = self._rows(
            "SELECT id, kind, account, dry_run, started_at, finished_at, status, counts, error"
            " FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY account) ORDER BY account"
        )
        return [
            RunRow(i, k, a, bool(d), from_us(s), opt_from_us(f), st, json.loads(c), e)
            for i, k, a, d, s, f, st, c, e in rows
        ]

    def recent_runs(self, limit: int = 20) -> list[RunRow]:
        """Return the ``limit`` most recent runs of every account, newest first."""
        rows = self._rows(
            "SELECT id, kind, account, dry_run, started_at, finished_at, status, counts, error"
            " FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            RunRow(i, k, a, bool(d), from_us(s), opt_from_us(f), st, json.loads(c), e)
            for i, k, a, d, s, f, st, c, e in rows
        ]

    # -- maintenance -------------------------------------------------------------

    def prune(self, older_than: datetime) -> dict[str, int]:
        """Delete rows older than ``older_than`` in one transaction; return counts per table.

        Watermarks and backfill cursors are never pruned, nor the latest run of
        an account. A processed row goes only when both its processing time and
        its received time (if known) are older than the cutoff.
        """
        cut = to_us(older_than)
        statements = {
            "processed": "DELETE FROM processed WHERE processed_at < ?1"
            " AND (received_at IS NULL OR received_at < ?1)",
            "applied": "DELETE FROM applied WHERE applied_at < ?1",
            "runs": "DELETE FROM runs WHERE started_at < ?1"
            " AND id NOT IN (SELECT MAX(id) FROM runs GROUP BY account)",
            "failures": "DELETE FROM failures WHERE last_at < ?1",
        }
        counts: dict[str, int] = {}
        with self._tx() as conn:
            for table, sql in statements.items():
                counts[table] = conn.execute(sql, (cut,)).rowcount
        return counts

    def check_file(self) -> None:
        """Raise StateGone when the locked state file was deleted or replaced under us."""
        if self._lock is not None:
            self._lock.check_file()

    def check_sound(self) -> None:
        """Raise StateDamaged when SQLite's quick check finds the file damaged."""
        with self._mutex:
            quick_check(self._live(), self.path)

    def lost_at(self) -> datetime | None:
        """Return when this state was found lost (its file gone, its marker there), or None."""
        return self.get_backfill_progress(LOST_ACCOUNT, LOST_KEY)

    def integrity_check(self) -> str:
        """Return SQLite's integrity report: ``"ok"`` when the file is sound."""
        rows = self._rows("PRAGMA integrity_check")
        return "\n".join(str(r[0]) for r in rows)

    def schema_version(self) -> int:
        """Return the schema version of the open file."""
        return int(self._rows("SELECT version FROM schema_version")[0][0])
