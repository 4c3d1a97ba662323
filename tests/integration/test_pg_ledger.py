"""The PostgreSQL ledger on a real server: schema, lost connections, fencing, dry-run copies.

Every test gets a fresh database on the run's throwaway server (``pg_dsn``).
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tagger.state import AppliedRow, StateError, StateLocked, StateStore, pgdb
from tagger.state.errors import LeaseLost, LedgerMissing
from tagger.state.fence import FENCE, Execute
from tagger.state.integrity import marker_path
from tagger.state.opener import open_state
from tagger.state.pgimport import import_file
from tagger.state.pgschema import BASELINE
from tagger.state.schema import MIGRATIONS, Migration
from tagger.state.target import StateBackend
from testkit.pgserver import PgServer

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSWORD = "s3cret-9d41c"


def rows(n: int, prefix: str = "m") -> list[AppliedRow]:
    return [AppliedRow(f"<{prefix}{i}@x>", "t", "r", "h", "enforce", T0) for i in range(n)]


@dataclass(frozen=True)
class Cfg:
    """The two things opening the ledger needs of a configuration."""

    state_path: Path
    state: StateBackend = field(default_factory=StateBackend)


def pg_config(tmp_path: Path, dsn: str) -> Cfg:
    return Cfg(tmp_path / "state.db", StateBackend("postgresql", dsn, "x"))


@pytest.fixture
def store(tmp_path: Path, pg_dsn: str) -> Iterator[StateStore]:
    s = StateStore.open_postgresql(tmp_path / "state.db", pg_dsn)
    yield s
    s.close()


def query(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description is not None else []


# -- schema ------------------------------------------------------------------------------


def test_a_fresh_database_gets_the_whole_layout_at_the_current_version(
    store: StateStore, pg_dsn: str
) -> None:
    assert store.schema_version() == MIGRATIONS[-1].version == BASELINE
    tables = {
        r[0] for r in query(pg_dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert {"applied", "processed", "runs", "held", "promotions", "state_meta"} <= tables
    # Times are BIGINT microseconds.
    (kind,) = query(
        pg_dsn,
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_name = 'applied' AND column_name = 'applied_at'",
    )[0]
    assert kind == "bigint"
    # A new node nor a restart changes anything.
    store.record_applied_many("a", rows(3))
    with StateStore.open_postgresql(store.path, pg_dsn) as again:
        assert again.schema_version() == BASELINE
        assert len(again.applied_pairs("a", [r.message_id for r in rows(3)])) == 3
    assert store.integrity_check().startswith("ok (PostgreSQL keeps its own integrity")


def test_both_backends_hold_the_same_tables_columns_and_keys(
    store: StateStore, pg_dsn: str, tmp_path: Path
) -> None:
    """The dry-run copy and the one query text rely on it: a later step must keep it so."""
    with StateStore.open(tmp_path / "state.db"):
        pass
    lite = sqlite3.connect(tmp_path / "state.db")
    try:
        names = [
            r[0]
            for r in lite.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        sqlite_layout = {
            t: [(r[1], r[5]) for r in lite.execute(f"PRAGMA table_info({t})")] for t in names
        }
    finally:
        lite.close()
    pg_layout: dict[str, list[tuple[str, int]]] = {}
    for table, column, key in query(
        pg_dsn,
        "SELECT c.table_name, c.column_name, COALESCE(k.ordinal_position, 0)"
        " FROM information_schema.columns c LEFT JOIN information_schema.key_column_usage k"
        " ON k.table_name = c.table_name AND k.column_name = c.column_name"
        " AND k.constraint_name LIKE '%%_pkey'"
        " WHERE c.table_schema = 'public' ORDER BY c.table_name, c.ordinal_position",
    ):
        pg_layout.setdefault(table, []).append((column, key))
    # The cluster's own tables (nodes, leases, claims) exist only where nodes share a ledger.
    cluster = {"cluster_nodes", "leases", "claims", "quota_buckets", "quota_nodes"}
    assert cluster <= pg_layout.keys()
    assert {t: c for t, c in pg_layout.items() if t not in cluster} == sqlite_layout


def test_a_later_version_runs_its_postgresql_step(tmp_path: Path, pg_dsn: str) -> None:
    step = Migration(
        BASELINE + 1,
        "a column for the test",
        ("ALTER TABLE runs ADD COLUMN note TEXT",),
        postgresql=("ALTER TABLE runs ADD COLUMN note TEXT",),
    )
    StateStore.open_postgresql(tmp_path / "s.db", pg_dsn).close()
    with StateStore.open_postgresql(
        tmp_path / "s.db", pg_dsn, migrations=(*MIGRATIONS, step)
    ) as store:
        assert store.schema_version() == BASELINE + 1
    assert query(
        pg_dsn,
        "SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'runs' AND column_name = 'note'",
    )
    # The older tagger refuses the newer ledger instead of writing to it.
    with pytest.raises(StateError, match="schema version 8, but this tagger only knows"):
        StateStore.open_postgresql(tmp_path / "s.db", pg_dsn)


def test_nodes_opening_a_fresh_database_together_create_it_once(
    tmp_path: Path, pg_dsn: str
) -> None:
    barrier = threading.Barrier(4)
    opened: list[StateStore] = []
    errors: list[BaseException] = []

    def node(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            opened.append(StateStore.open_postgresql(tmp_path / f"node{i}.db", pg_dsn))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=node, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert errors == [] and len(opened) == 4
        assert query(pg_dsn, "SELECT version FROM schema_version") == [(BASELINE,)]
        for i, store in enumerate(opened):
            store.record_applied_many("a", rows(1, f"n{i}"))
        assert len(opened[0].tags_per_rule()) == 1
        assert opened[0].tags_per_rule()[("r", "t")] == 4
    finally:
        for store in opened:
            store.close()


def test_a_step_without_its_postgresql_text_is_refused(tmp_path: Path, pg_dsn: str) -> None:
    step = Migration(BASELINE + 1, "sqlite only", ("SELECT 1",))
    with pytest.raises(StateError, match="has no PostgreSQL step"):
        StateStore.open_postgresql(tmp_path / "s.db", pg_dsn, migrations=(*MIGRATIONS, step))


def test_a_database_of_another_program_is_left_alone(tmp_path: Path, pg_dsn: str) -> None:
    query(pg_dsn, "CREATE TABLE invoices (id INT)")
    with pytest.raises(StateError, match=r"not a tagger ledger \(tables: invoices\)"):
        StateStore.open_postgresql(tmp_path / "s.db", pg_dsn)
    assert query(pg_dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(1,)]


def test_a_read_only_open_creates_nothing(tmp_path: Path, pg_dsn: str) -> None:
    with pytest.raises(LedgerMissing, match="holds no tagger ledger yet"):
        StateStore.open_postgresql(tmp_path / "s.db", pg_dsn, readonly=True)
    assert query(pg_dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_a_new_ledger_after_a_sqlite_file_checks_tags_before_applying(
    tmp_path: Path, pg_dsn: str, pg_server: Any
) -> None:
    with StateStore.open_postgresql(tmp_path / "fresh.db", pg_dsn) as fresh:
        assert fresh.lost_at() is None  # a new installation: nothing to distrust
    StateStore.open(tmp_path / "state.db").close()  # this node ran on SQLite before
    assert marker_path(tmp_path / "state.db").exists()
    with StateStore.open_postgresql(tmp_path / "state.db", pg_server.database()) as moved:
        assert moved.lost_at() is not None


# -- unreachable servers and lost connections --------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_server_is_named_without_the_password(tmp_path: Path) -> None:
    port = closed_port()
    dsn = f"postgresql://tagger:{PASSWORD}@127.0.0.1:{port}/ledger"
    for readonly in (False, True):
        with pytest.raises(StateError) as info:
            StateStore.open_postgresql(tmp_path / "s.db", dsn, readonly=readonly)
        text = str(info.value)
        assert f"state database 127.0.0.1:{port}/ledger" in text
        assert "refused" in text.lower()
        assert PASSWORD not in text and PASSWORD not in repr(info.value.__cause__)
    with pytest.raises(StateError) as info:
        open_state(pg_config(tmp_path, dsn), dry_run=True)
    assert PASSWORD not in str(info.value) and f"127.0.0.1:{port}/ledger" in str(info.value)


def terminate_others(dsn: str) -> int:
    """Terminate every other backend of the database; return how many."""
    found = query(
        dsn,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    return len(found)


def test_after_the_server_drops_idle_connections_the_next_write_reconnects(
    store: StateStore, pg_dsn: str
) -> None:
    store.record_applied_many("a", rows(1))
    assert terminate_others(pg_dsn) >= 1
    store.record_applied_many("a", rows(2, "n"))  # the pool checks, finds it dead, reconnects
    assert len(store.applied_pairs("a", [r.message_id for r in rows(2, "n")])) == 2


def test_a_server_restart_costs_no_call(store: StateStore, pg_server: PgServer) -> None:
    store.record_applied_many("a", rows(1))
    pg_server.restart()
    store.record_applied_many("a", rows(3))  # the pooled connection was cut: a new one
    assert len(store.applied_pairs("a", [r.message_id for r in rows(3)])) == 3


def test_while_the_server_refuses_connections_calls_fail_clearly_then_recover(
    tmp_path: Path, pg_dsn: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pgdb, "POOL_WAIT_S", 2.0)
    dsn = pg_dsn.replace("tagger_test@", f"tagger_test:{PASSWORD}@")
    name = pg_dsn.rsplit("/", 1)[1]
    store = StateStore.open_postgresql(tmp_path / "s.db", dsn)
    try:
        query(pg_server.admin_dsn, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        query(
            pg_server.admin_dsn,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        )
        for call in (lambda: store.record_applied_many("a", rows(1)), store.recent_runs):
            with pytest.raises(StateError) as info:
                call()
            text = str(info.value)
            assert "no connection within 2 s" in text and PASSWORD not in text
            assert f"state database 127.0.0.1:{pg_server.port}/{name}" in text
        query(pg_server.admin_dsn, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        deadline = time.monotonic() + 60  # the pool retries with a growing back-off
        while True:
            try:
                store.record_applied_many("a", rows(1))
                break
            except StateError:
                assert time.monotonic() < deadline, "the pool never reconnected"
        assert len(store.applied_pairs("a", [rows(1)[0].message_id])) == 1
    finally:
        query(pg_server.admin_dsn, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        store.close()


@dataclass
class Killer:
    """A fence whose check terminates its own transaction's backend (a server restart)."""

    dsn: str
    calls: int = 0

    def check(self, execute: Execute) -> None:
        self.calls += 1
        ((pid,),) = execute("SELECT pg_backend_pid()", ())
        query(self.dsn, "SELECT pg_terminate_backend(%s)", (pid,))


def test_a_write_cut_off_by_a_terminated_backend_fails_clearly_and_the_next_succeeds(
    tmp_path: Path, pg_dsn: str
) -> None:
    dsn = pg_dsn.replace("tagger_test@", f"tagger_test:{PASSWORD}@")  # trust auth ignores it
    store = StateStore.open_postgresql(tmp_path / "s.db", dsn)
    try:
        killer = Killer(pg_dsn)
        token = FENCE.set(killer)
        try:
            with pytest.raises(StateError) as info:
                store.record_applied_many("a", rows(5))
        finally:
            FENCE.reset(token)
        assert killer.calls == 1
        text = str(info.value)
        assert "lost the connection to state database 127.0.0.1:" in text
        assert PASSWORD not in text
        assert store.applied_pairs("a", [r.message_id for r in rows(5)]) == set()
        store.record_applied_many("a", rows(5))
        assert len(store.applied_pairs("a", [r.message_id for r in rows(5)])) == 5
    finally:
        store.close()


# -- the fence ------------------------------------------------------------------------------


@dataclass
class FakeFence:
    """Records what it ran; writes a row of its own, then raises LeaseLost when told to."""

    lose: bool
    seen: list[list[tuple[Any, ...]]] = field(default_factory=list)

    def check(self, execute: Execute) -> None:
        # The lease query of the cluster has this shape; here a row of the fence's own.
        execute(
            "INSERT INTO switches (name, value, updated_at) VALUES (%s, %s, %s)",
            ["fence-was-here", 1, 0],
        )
        self.seen.append(execute("SELECT value FROM switches WHERE name = %s", ["fence-was-here"]))
        if self.lose:
            raise LeaseLost("lease of account a lost at epoch 3")


def test_a_fence_that_finds_the_lease_lost_rolls_the_whole_write_back(store: StateStore) -> None:
    fence = FakeFence(lose=True)
    token = FENCE.set(fence)
    try:
        with pytest.raises(LeaseLost, match="epoch 3"):
            store.record_applied_many("a", rows(3))
        with pytest.raises(LeaseLost):
            store.start_run("run", "a", T0, dry_run=False)
    finally:
        FENCE.reset(token)
    assert fence.seen == [[(1,)], [(1,)]]  # it ran first, inside the transaction
    assert store.applied_pairs("a", [r.message_id for r in rows(3)]) == set()
    assert store.switch("fence-was-here") is False  # the fence's own row went too
    assert store.recent_runs() == []


def test_a_fence_that_holds_lets_the_write_commit_and_reads_are_never_fenced(
    store: StateStore,
) -> None:
    fence = FakeFence(lose=False)
    token = FENCE.set(fence)
    try:
        store.record_applied_many("a", rows(2))
        assert len(store.applied_pairs("a", [r.message_id for r in rows(2)])) == 2
    finally:
        FENCE.reset(token)
    assert len(fence.seen) == 1
    assert store.switch("fence-was-here") is True


def test_sqlite_ignores_the_fence(tmp_path: Path) -> None:
    fence = FakeFence(lose=True)
    token = FENCE.set(fence)
    try:
        with StateStore.open(tmp_path / "state.db") as sqlite:
            sqlite.record_applied_many("a", rows(2))
            assert len(sqlite.applied_pairs("a", [r.message_id for r in rows(2)])) == 2
    finally:
        FENCE.reset(token)
    assert fence.seen == []


# -- dry runs ------------------------------------------------------------------------------


def test_a_dry_run_works_on_an_in_memory_copy_and_leaves_postgresql_alone(
    tmp_path: Path, pg_dsn: str
) -> None:
    with StateStore.open_postgresql(tmp_path / "state.db", pg_dsn) as live:
        live.record_applied_many("a", rows(1200))
        run = live.start_run("run", "a", T0, dry_run=False)
        live.finish_run(run, T0, {"applied": 1200}, "ok")
    before = query(pg_dsn, "SELECT count(*) FROM applied")
    with open_state(pg_config(tmp_path, pg_dsn), dry_run=True) as copy:
        assert copy.dry_run and copy.dialect == "sqlite"
        assert len(copy.applied_pairs("a", [r.message_id for r in rows(1200)])) == 1200
        assert [r.id for r in copy.recent_runs()] == [run]
        copy.record_applied_many("a", rows(5, "dry"))
        assert copy.start_run("dry-run", "a", T0, dry_run=True) == run + 1
    assert query(pg_dsn, "SELECT count(*) FROM applied") == before
    assert query(pg_dsn, "SELECT count(*) FROM runs") == [(1,)]
    assert not (tmp_path / "state.db").exists()


def test_a_dry_run_on_an_empty_database_starts_empty_and_creates_nothing(
    tmp_path: Path, pg_dsn: str
) -> None:
    with open_state(pg_config(tmp_path, pg_dsn), dry_run=True) as copy:
        assert copy.recent_runs() == []
    assert query(pg_dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


# -- importing a SQLite file ------------------------------------------------------------------


def test_a_sqlite_file_is_imported_whole_and_run_ids_carry_on(tmp_path: Path, pg_dsn: str) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as lite:
        lite.record_applied_many("a", rows(1200))
        lite.mark_processed("a", "rs", [r.message_id for r in rows(10)], T0)
        lite.set_watermark("a", "q", T0, T0)
        last = 0
        for _ in range(3):
            last = lite.start_run("run", "a", T0, dry_run=False)
            lite.finish_run(last, T0, {"applied": 1}, "ok")
        lite.promote("r", "h", T0)
    with StateStore.open_postgresql(path, pg_dsn) as pg:
        assert pg.lost_at() is not None  # a new ledger after a file: unsure until imported
        counts = import_file(pg, path)
        assert counts["applied"] == 1200 and counts["runs"] == 3 and counts["processed"] == 10
        assert pg.lost_at() is None
        assert len(pg.applied_pairs("a", [r.message_id for r in rows(1200)])) == 1200
        assert pg.get_watermark("a", "q") == T0
        assert pg.promotions("a") == {("r", "h")}
        assert pg.start_run("run", "a", T0, dry_run=False) == last + 1
        with pytest.raises(StateError, match="only fills an empty ledger"):
            import_file(pg, path)


def test_an_import_waits_for_no_daemon_and_copies_nothing_on_refusal(
    tmp_path: Path, pg_dsn: str
) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as daemon, StateStore.open_postgresql(path, pg_dsn) as pg:
        daemon.record_applied_many("a", rows(3))
        with pytest.raises(StateLocked):
            import_file(pg, path)
        assert pg.applied_pairs("a", [r.message_id for r in rows(3)]) == set()
        with pytest.raises(StateError, match="does not exist"):
            import_file(pg, tmp_path / "missing.db")
    with StateStore.open(path) as lite, pytest.raises(StateError, match="PostgreSQL ledger"):
        import_file(lite, path)
