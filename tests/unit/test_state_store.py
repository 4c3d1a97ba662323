"""The state store: creation, each table's operations, pruning, read-only use.

The tests of the ledger run on both backends (the ``store`` and ``ledger``
fixtures); those of the SQLite file itself (permissions, WAL, damage) on SQLite.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tagger.logs.redact import REDACTOR
from tagger.state import AppliedRow, StateError, StateStore
from tagger.state.schema import MIGRATIONS
from tests.support.ledgers import BACKENDS, Ledger, make_ledger
from tests.support.state import T0, at


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    return make_ledger(request, tmp_path)


@pytest.fixture
def store(ledger: Ledger) -> Iterator[StateStore]:
    s = ledger.open()
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[StateStore]:
    s = StateStore.open(tmp_path / "state.db")
    yield s
    s.close()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_private_even_with_umask_000(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "state.db"
    old = os.umask(0)
    try:
        s = StateStore.open(path)
        s.record_applied("a", "m1", "t1", rule_id="r", rule_hash="h", mode="live", at=T0)
        assert mode_of(path) == 0o600
        assert mode_of(Path(f"{path}-wal")) == 0o600
        assert mode_of(Path(f"{path}.lock")) == 0o600
        s.close()
    finally:
        os.umask(old)


def test_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    StateStore.open(path).close()
    assert mode_of(path) == 0o600


def test_wal_and_full_sync(sqlite_store: StateStore) -> None:
    conn = sqlite3.connect(sqlite_store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert sqlite_store.integrity_check() == "ok"
    assert sqlite_store.schema_version() == MIGRATIONS[-1].version


def test_record_applied_is_idempotent(store: StateStore) -> None:
    for _ in range(2):
        store.record_applied("a", "m1", "t1", rule_id="r1", rule_hash="h1", mode="live", at=T0)
    store.record_applied("a", "m1", "t2", rule_id="r1", rule_hash="h1", mode="live", at=at(1))
    store.record_applied("b", "m1", "t1", rule_id="r2", rule_hash="h2", mode="live", at=at(1))
    assert store.applied_pairs("a", ["m1", "m2"]) == {("m1", "t1"), ("m1", "t2")}
    assert store.applied_pairs("b", ["m1"]) == {("m1", "t1")}
    assert store.tags_per_rule() == {("r1", "t1"): 1, ("r1", "t2"): 1, ("r2", "t1"): 1}
    assert store.tags_per_rule("b") == {("r2", "t1"): 1}


def test_batch_lookups_cross_chunk_boundaries(store: StateStore) -> None:
    ids = [f"<m{i}@x>" for i in range(1234)]
    rows = [AppliedRow(m, "t", "r", "h", "live", T0) for m in ids[::2]]
    store.record_applied_many("a", rows)
    store.mark_processed("a", "rs1", ids[1::3], T0)
    query = [*ids, "<absent@x>", ids[0]]  # duplicates and misses are fine
    assert store.applied_pairs("a", query) == {(m, "t") for m in ids[::2]}
    assert store.processed_ids("a", "rs1", query) == set(ids[1::3])
    assert store.processed_ids("a", "rs2", query) == set()
    assert store.processed_ids("other", "rs1", query) == set()


def test_watermark_and_backfill_round_trip(store: StateStore) -> None:
    assert store.get_watermark("a", "q1") is None
    value = datetime.fromisoformat("2024-05-01T10:11:12.345678+02:00")
    store.set_watermark("a", "q1", value, T0)
    got = store.get_watermark("a", "q1")
    assert got == value and got is not None and got.utcoffset() is not None
    store.set_watermark("a", "q1", at(5), at(6))
    assert store.get_watermark("a", "q1") == at(5)
    assert store.get_watermark("a", "q2") is None
    assert store.get_backfill_progress("a", "job") is None
    store.set_backfill_progress("a", "job", at(30), at(31))
    assert store.get_backfill_progress("a", "job") == at(30)


def test_naive_datetimes_are_rejected(store: StateStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.set_watermark("a", "q", datetime(2024, 1, 1), T0)


def test_failures_count_set_aside_and_clear(store: StateStore) -> None:
    assert store.failure_count("a", "m1") == 0
    assert store.record_failure("a", "m1", "timeout", at(1)) == 1
    assert store.record_failure("a", "m1", "http 500", at(2)) == 2
    assert store.record_failure("b", "m1", "timeout", at(2)) == 1
    assert store.failure_count("a", "m1") == 2
    assert store.set_aside_ids("a") == set()
    store.set_aside("a", "m1", at(3))
    store.set_aside("a", "m9", at(3))  # no failure recorded first: still set aside
    assert store.set_aside_ids("a") == {"m1", "m9"}
    assert store.set_aside_ids("b") == set()
    rows = {(r.account, r.message_id): r for r in store.failures()}
    assert rows[("a", "m1")].attempts == 2
    assert rows[("a", "m1")].last_error == "http 500"
    assert rows[("a", "m1")].first_at == at(1) and rows[("a", "m1")].set_aside_at == at(3)
    assert [r.message_id for r in store.failures("b")] == ["m1"]
    store.clear_failure("a", "m1")
    assert store.failure_count("a", "m1") == 0
    assert store.set_aside_ids("a") == {"m9"}


def test_failure_text_is_redacted_and_capped(store: StateStore) -> None:
    REDACTOR.add_secret("store-test-secret-93c1")
    store.record_failure("a", "m1", "auth failed for store-test-secret-93c1 " + "x" * 5000, T0)
    (row,) = store.failures("a")
    assert "store-test-secret-93c1" not in row.last_error
    assert "***" in row.last_error and len(row.last_error) <= 2000


def test_runs_history(store: StateStore) -> None:
    first = store.start_run("run", "a", at(0), dry_run=False)
    store.finish_run(first, at(1), {"scanned": 10, "applied": 2}, "ok")
    second = store.start_run("run", "a", at(5), dry_run=False)
    other = store.start_run("once", "b", at(5), dry_run=True)
    store.finish_run(other, at(6), {}, "error", "search failed")
    runs = store.last_runs()
    assert [(r.account, r.id) for r in runs] == [("a", second), ("b", other)]
    assert runs[0].status == "running" and runs[0].finished_at is None
    assert runs[1].dry_run and runs[1].error == "search failed" and runs[1].finished_at == at(6)
    store.finish_run(second, at(6), {"scanned": 3}, "ok")
    assert store.last_runs()[0].counts == {"scanned": 3}
    with pytest.raises(StateError, match="run 999"):
        store.finish_run(999, at(7), {}, "ok")


def test_prune_deletes_old_rows_but_never_watermarks(store: StateStore) -> None:
    store.record_applied("a", "old", "t", rule_id="r", rule_hash="h", mode="live", at=at(0))
    store.record_applied("a", "new", "t", rule_id="r", rule_hash="h", mode="live", at=at(100))
    store.mark_processed("a", "rs", ["old"], at(0), {"old": at(-10)})
    # Processed recently, but received long ago: still kept (only both old goes).
    store.mark_processed("a", "rs", ["late"], at(100), {"late": at(-10)})
    # Received recently (clock skew): kept although processed "before" the cutoff.
    store.mark_processed("a", "rs", ["skew"], at(0), {"skew": at(100)})
    store.record_failure("a", "f-old", "x", at(0))
    store.record_failure("a", "f-new", "x", at(100))
    old_run = store.start_run("run", "a", at(0), dry_run=False)
    store.finish_run(old_run, at(1), {}, "ok")
    store.start_run("run", "a", at(100), dry_run=False)
    lone = store.start_run("run", "b", at(0), dry_run=False)  # latest of b: kept
    store.set_watermark("a", "q", at(0), at(0))

    counts = store.prune(at(50))

    assert counts == {"processed": 1, "applied": 1, "runs": 1, "failures": 1}
    assert store.applied_pairs("a", ["old", "new"]) == {("new", "t")}
    assert store.processed_ids("a", "rs", ["old", "late", "skew"]) == {"late", "skew"}
    assert [f.message_id for f in store.failures()] == ["f-new"]
    assert lone in {r.id for r in store.last_runs()}
    assert store.get_watermark("a", "q") == at(0)
    assert store.prune(at(50)) == {"processed": 0, "applied": 0, "runs": 0, "failures": 0}


def test_readonly_reads_and_refuses_writes(ledger: Ledger) -> None:
    with ledger.open() as s:
        s.set_watermark("a", "q", at(1), at(1))
    ro = ledger.open(readonly=True)
    assert ro.get_watermark("a", "q") == at(1)
    with pytest.raises(StateError, match="read-only"):
        ro.set_watermark("a", "q", at(2), at(2))
    ro.close()
    with pytest.raises(StateError, match="closed"):
        ro.get_watermark("a", "q")


def test_readonly_never_creates_a_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(StateError, match="does not exist"):
        StateStore.open(path, readonly=True)
    assert list(tmp_path.iterdir()) == []


def test_garbage_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StateError, match="not a database"):
        StateStore.open(path)
    # The lock taken for the attempt was released again.
    StateStore.open(tmp_path / "other.db").close()
    with pytest.raises(StateError, match="not a database"):
        StateStore.open(path)
