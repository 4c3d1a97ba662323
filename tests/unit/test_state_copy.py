"""Dry runs work on an in-memory copy of the state: it sees the file's rows and its own
writes, and the file is never created or changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagger.state import AppliedRow, StateError, StateStore
from tagger.state.schema import MIGRATIONS
from tests.support.state import at, file_bytes


@pytest.fixture
def base_path(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    with StateStore.open(path) as s:
        s.record_applied("a", "m1", "t1", rule_id="r1", rule_hash="h", mode="live", at=at(0))
        s.mark_processed("a", "rs", ["m1"], at(0))
        s.set_watermark("a", "q", at(0), at(0))
        s.record_failure("a", "bad", "timeout", at(0))
        s.set_aside("a", "gone", at(0))
        run = s.start_run("run", "a", at(0), dry_run=False)
        s.finish_run(run, at(1), {"applied": 1}, "ok")
    return path


def snapshot(store: StateStore) -> tuple[object, ...]:
    return (
        store.applied_pairs("a", ["m1", "m2", "m3"]),
        store.processed_ids("a", "rs", ["m1", "m2"]),
        store.get_watermark("a", "q"),
        store.failures(),
        store.set_aside_ids("a"),
        store.last_runs(),
        store.tags_per_rule(),
        store.get_backfill_progress("a", "job"),
    )


def test_a_copy_sees_the_file_and_its_own_writes_and_never_writes_the_file(
    base_path: Path,
) -> None:
    before_bytes = file_bytes(base_path)
    with StateStore.open(base_path, lock=False, readonly=True) as base:
        before = snapshot(base)
    copy = StateStore.open_copy(base_path)
    assert snapshot(copy) == before

    copy.record_applied("a", "m2", "t1", rule_id="r1", rule_hash="h", mode="live", at=at(5))
    copy.record_applied_many(
        "a",
        [
            AppliedRow("m1", "t1", "r1", "h", "live", at(5)),  # already in the file
            AppliedRow("m3", "t2", "r2", "h", "live", at(5)),
        ],
    )
    copy.mark_processed("a", "rs", ["m2"], at(5))
    copy.set_watermark("a", "q", at(5), at(5))
    copy.set_backfill_progress("a", "job", at(4), at(5))
    assert copy.record_failure("a", "bad", "again", at(5)) == 2  # counts on top of the file's
    copy.set_aside("a", "bad", at(5))
    copy.clear_failure("a", "gone")
    run = copy.start_run("dry-run", "a", at(5), dry_run=True)
    copy.finish_run(run, at(6), {"planned": 2}, "ok")

    assert copy.applied_pairs("a", ["m1", "m2", "m3"]) == {("m1", "t1"), ("m2", "t1"), ("m3", "t2")}
    assert copy.processed_ids("a", "rs", ["m1", "m2"]) == {"m1", "m2"}
    assert copy.get_watermark("a", "q") == at(5)
    assert copy.get_backfill_progress("a", "job") == at(4)
    assert copy.failure_count("a", "bad") == 2
    assert copy.set_aside_ids("a") == {"bad"}
    assert [f.message_id for f in copy.failures("a")] == ["bad"]
    assert copy.tags_per_rule() == {("r1", "t1"): 2, ("r2", "t2"): 1}
    (last,) = copy.last_runs()
    assert last.dry_run and last.counts == {"planned": 2}
    assert copy.integrity_check() == "ok"
    assert copy.prune(at(100))["applied"] == 3
    with pytest.raises(StateError):
        copy.finish_run(12345, at(7), {}, "ok")
    copy.close()

    # The file is unchanged, byte for byte.
    assert file_bytes(base_path) == before_bytes
    with StateStore.open(base_path, lock=False, readonly=True) as base:
        assert snapshot(base) == before


def test_a_copy_works_while_another_process_holds_the_lock(base_path: Path) -> None:
    with StateStore.open(base_path) as live:
        live.set_watermark("a", "q", at(9), at(9))
        with StateStore.open_copy(base_path) as copy:
            assert copy.get_watermark("a", "q") == at(9)
            copy.set_watermark("a", "q", at(10), at(10))
        assert live.get_watermark("a", "q") == at(9)


def test_a_copy_of_a_missing_file_starts_empty_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "state.db"
    with StateStore.open_copy(path) as copy:
        assert copy.schema_version() == MIGRATIONS[-1].version
        assert copy.last_runs() == []
        copy.set_watermark("a", "q", at(1), at(1))
        assert copy.get_watermark("a", "q") == at(1)
    assert not path.exists()
    assert not path.parent.exists()


def test_a_copy_of_an_older_file_is_upgraded_in_memory_only(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path, migrations=MIGRATIONS[:1]) as old:
        old.set_watermark("a", "q", at(1), at(1))
    before = file_bytes(path)
    with StateStore.open_copy(path) as copy:
        assert copy.schema_version() == MIGRATIONS[-1].version
        assert copy.get_watermark("a", "q") == at(1)
    assert file_bytes(path) == before


def test_a_copy_of_a_file_that_is_not_state_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StateError):
        StateStore.open_copy(path)
