"""Schema of the state file and the ordered migrations that build it.

``schema_version`` holds one row with the version the file is at. Opening a
file applies every migration above that version, each in its own transaction
(SQLite DDL is transactional, so a crash leaves the file at the previous
version). A file newer than the newest migration known here is refused: an
older tagger must not write to a layout it does not understand.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tagger.state.errors import StateError


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: reach ``version`` by running ``statements`` in order.

    ``statements`` are SQLite's; ``postgresql`` the same step for a PostgreSQL
    ledger, required of every version above its baseline
    (:data:`tagger.state.pgschema.BASELINE`: a fresh PostgreSQL ledger is
    created at that version in one go, so the steps up to it have none).
    """

    version: int
    name: str
    statements: tuple[str, ...]
    postgresql: tuple[str, ...] | None = None


# Times are integer microseconds since the epoch (UTC), see tagger.state.times.
# WITHOUT ROWID tables keyed by (account, ...) keep batch lookups by message id
# on the primary-key b-tree: one seek per id, no separate index hop.
V1 = Migration(
    version=1,
    name="initial layout",
    statements=(
        """CREATE TABLE applied (
            account TEXT NOT NULL,
            message_id TEXT NOT NULL,
            tag_id TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            rule_hash TEXT NOT NULL,
            mode TEXT NOT NULL,
            applied_at INTEGER NOT NULL,
            PRIMARY KEY (account, message_id, tag_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX applied_by_time ON applied (applied_at)",
        """CREATE TABLE processed (
            account TEXT NOT NULL,
            ruleset_hash TEXT NOT NULL,
            message_id TEXT NOT NULL,
            processed_at INTEGER NOT NULL,
            received_at INTEGER,
            PRIMARY KEY (account, ruleset_hash, message_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX processed_by_time ON processed (processed_at)",
        """CREATE TABLE watermarks (
            account TEXT NOT NULL,
            query_key TEXT NOT NULL,
            value INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (account, query_key)
        ) WITHOUT ROWID""",
        """CREATE TABLE backfill_progress (
            account TEXT NOT NULL,
            job_key TEXT NOT NULL,
            cursor INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (account, job_key)
        ) WITHOUT ROWID""",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            account TEXT NOT NULL,
            dry_run INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            status TEXT NOT NULL,
            counts TEXT NOT NULL DEFAULT '{}',
            error TEXT
        )""",
        "CREATE INDEX runs_by_account ON runs (account, id)",
        "CREATE INDEX runs_by_time ON runs (started_at)",
        """CREATE TABLE failures (
            account TEXT NOT NULL,
            message_id TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            first_at INTEGER NOT NULL,
            last_at INTEGER NOT NULL,
            last_error TEXT NOT NULL,
            set_aside_at INTEGER,
            PRIMARY KEY (account, message_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX failures_by_time ON failures (last_at)",
    ),
)

# What searches revealed about the account's (undocumented) result cap.
V2 = Migration(
    version=2,
    name="learned search cap",
    statements=(
        """CREATE TABLE search_caps (
            account TEXT NOT NULL PRIMARY KEY,
            learned INTEGER,
            largest INTEGER NOT NULL,
            confirmed INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
)

# When each query of a rule with its own ``schedule`` was last searched, so a
# restart does not search it again before it is due.
V3 = Migration(
    version=3,
    name="query search times",
    statements=(
        """CREATE TABLE query_searches (
            account TEXT NOT NULL,
            query_key TEXT NOT NULL,
            searched_at INTEGER NOT NULL,
            PRIMARY KEY (account, query_key)
        ) WITHOUT ROWID""",
    ),
)

# The safety rails: rules paused by a blast-radius limit (with the limit in
# force and the count reached, so a raised limit lifts the pause at load),
# promoted (rule id, content hash) pairs, each rule's matches and applies per
# cycle (the trailing average behind the anomaly guard) and switches such as
# the kill switch (``pause_all``), read by a running daemon before it applies.
V4 = Migration(
    version=4,
    name="safety rails",
    statements=(
        """CREATE TABLE rule_pauses (
            account TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            limit_value INTEGER NOT NULL,
            count INTEGER NOT NULL,
            kind TEXT NOT NULL,
            paused_at INTEGER NOT NULL,
            PRIMARY KEY (account, rule_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE promotions (
            rule_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            promoted_at INTEGER NOT NULL,
            PRIMARY KEY (rule_id, content_hash)
        ) WITHOUT ROWID""",
        """CREATE TABLE rule_cycles (
            account TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            cycle_at INTEGER NOT NULL,
            matched INTEGER NOT NULL,
            applied INTEGER NOT NULL,
            audited INTEGER NOT NULL,
            PRIMARY KEY (account, rule_id, cycle_at)
        ) WITHOUT ROWID""",
        "CREATE INDEX rule_cycles_by_time ON rule_cycles (cycle_at)",
        """CREATE TABLE switches (
            name TEXT NOT NULL PRIMARY KEY,
            value INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
)

# Held pairs: a match a rail (awaiting promotion, a paused rule, a limit, the
# kill switch, a disabled account) kept from being applied is recorded here and
# its message is processed as any other; lifting the rail applies the pairs
# still ``held`` once (``applied``), or they are ``dropped`` (``promote
# --from-now``, a changed definition) or ``expired`` (older than the service's
# tracking retention). Rows resolved long ago are pruned.
V5 = Migration(
    version=5,
    name="held pairs",
    statements=(
        """CREATE TABLE held (
            account TEXT NOT NULL,
            message_id TEXT NOT NULL,
            tag_id TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            rule_hash TEXT NOT NULL,
            tag_ref TEXT NOT NULL,
            reason TEXT NOT NULL,
            held_at INTEGER NOT NULL,
            received_at INTEGER,
            status TEXT NOT NULL DEFAULT 'held',
            resolved_at INTEGER,
            note TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (account, message_id, tag_id, rule_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX held_by_status ON held (status, rule_id, account)",
    ),
)

# The state's generation, bumped by every cycle that ran to its end and
# mirrored in the marker beside the file (tagger.state.generation), so a copy
# or a restored backup, older than the last file this host wrote, is noticed.
# And the rules that applied tags in enforce mode before this release (under
# ``rollout: enforce``, or before audit-first existed) count as promoted in
# their current definition: an upgrade puts no enforcing rule back under review.
V6 = Migration(
    version=6,
    name="state generation; rules enforcing before audit-first",
    statements=(
        """CREATE TABLE state_meta (
            name TEXT NOT NULL PRIMARY KEY,
            value INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
        """INSERT OR IGNORE INTO promotions (rule_id, content_hash, promoted_at)
            SELECT rule_id, rule_hash, MIN(applied_at) FROM applied
            WHERE mode = 'enforce' GROUP BY rule_id, rule_hash""",
    ),
)

# Promotions per account: a rule of an account's own rule set
# (``accounts[].rules``) is promoted on that account alone. A row whose
# account is '' holds for every account: every promotion made before this
# version stays valid for every account.
V7 = Migration(
    version=7,
    name="promotions per account",
    statements=(
        """CREATE TABLE promotions_v7 (
            rule_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            account TEXT NOT NULL DEFAULT '',
            promoted_at INTEGER NOT NULL,
            PRIMARY KEY (rule_id, content_hash, account)
        ) WITHOUT ROWID""",
        """INSERT INTO promotions_v7 (rule_id, content_hash, account, promoted_at)
            SELECT rule_id, content_hash, '', promoted_at FROM promotions""",
        "DROP TABLE promotions",
        "ALTER TABLE promotions_v7 RENAME TO promotions",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (V1, V2, V3, V4, V5, V6, V7)

_USER_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"


def current_version(conn: sqlite3.Connection, path: Path) -> int:
    """Return the schema version of the open file (0 for an empty file).

    Raises StateError when the file holds tables but no version table: it is
    some other program's database and must not be touched.
    """
    tables = {row[0] for row in conn.execute(_USER_TABLES)}
    if "schema_version" not in tables:
        if tables:
            raise StateError(
                f"{path} is an SQLite database but not a tagger state file "
                f"(tables: {', '.join(sorted(tables))}); point state.path at another file"
            )
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    if row is None:
        return 0
    return int(row[0])


def check_known(version: int, migrations: Sequence[Migration], path: Path) -> None:
    """Raise StateError when ``version`` is newer than the newest known migration."""
    newest = migrations[-1].version if migrations else 0
    if version > newest:
        raise StateError(
            f"state file {path} has schema version {version}, but this tagger only knows "
            f"versions up to {newest}: it was written by a newer tagger. Upgrade tagger, "
            "or restore a backup of the state file made before the upgrade"
        )


def migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration]) -> int:
    """Bring the file up to the newest migration and return the resulting version.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each
    migration runs in its own ``BEGIN IMMEDIATE`` transaction, which also
    re-reads the version under the write lock so two openers cannot both apply
    one step. Raises StateError for a too-new file or a failing migration.
    """
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)) or (versions and versions[0] < 1):
        raise StateError("internal error: migrations must have distinct increasing versions ≥ 1")
    version = current_version(conn, path)
    check_known(version, migrations, path)
    for step in migrations:
        if step.version <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = current_version(conn, path)
            if step.version > version:
                if version == 0:
                    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
                for statement in step.statements:
                    conn.execute(statement)
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (step.version,))
                version = step.version
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StateError(
                f"could not upgrade state file {path} to schema version {step.version} "
                f"({step.name}): {exc}"
            ) from exc
    return version
