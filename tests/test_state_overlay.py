"""Dry-run overlay: sees its own writes and the base's rows, never writes the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from state_support import at, file_bytes

from tagger.state import AppliedRow, OverlayState, StateError, StateStore


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


@pytest.mark.parametrize("readonly", [True, False])
def test_overlay_writes_stay_in_memory(base_path: Path, readonly: bool) -> None:
    before_bytes = file_bytes(base_path)
    base = StateStore.open(base_path, lock=False, readonly=readonly)
    before = snapshot(base)
    ov = OverlayState(base)

    ov.record_applied("a", "m2", "t1", rule_id="r1", rule_hash="h", mode="live", at=at(5))
    ov.record_applied_many(
        "a",
        [
            AppliedRow("m1", "t1", "r1", "h", "live", at(5)),  # already in the base
            AppliedRow("m3", "t2", "r2", "h", "live", at(5)),
        ],
    )
    ov.mark_processed("a", "rs", ["m2"], at(5))
    ov.set_watermark("a", "q", at(5), at(5))
    ov.set_backfill_progress("a", "job", at(4), at(5))
    assert ov.record_failure("a", "bad", "again", at(5)) == 2  # counts on top of the base
    ov.set_aside("a", "bad", at(5))
    ov.clear_failure("a", "gone")
    run = ov.start_run("dry-run", "a", at(5), dry_run=True)
    ov.finish_run(run, at(6), {"planned": 2}, "ok")
    assert ov.prune(at(100)) == {"processed": 1, "applied": 2, "runs": 0, "failures": 0}
    ov.record_applied("a", "m2", "t1", rule_id="r1", rule_hash="h", mode="live", at=at(5))

    # The overlay sees base rows plus its own writes...
    assert ov.applied_pairs("a", ["m1", "m2", "m3"]) == {("m1", "t1"), ("m2", "t1")}
    assert ov.processed_ids("a", "rs", ["m1", "m2"]) == {"m1"}  # m2 pruned above
    assert ov.get_watermark("a", "q") == at(5)
    assert ov.get_backfill_progress("a", "job") == at(4)
    assert ov.failure_count("a", "bad") == 2
    assert ov.set_aside_ids("a") == {"bad"}
    assert [f.message_id for f in ov.failures("a")] == ["bad"]
    assert ov.tags_per_rule() == {("r1", "t1"): 2}
    (last,) = ov.last_runs()
    assert last.dry_run and last.counts == {"planned": 2}
    assert ov.integrity_check() == "ok"
    with pytest.raises(StateError):
        ov.finish_run(12345, at(7), {}, "ok")

    # ...while the base and the file are unchanged.
    assert snapshot(base) == before
    ov.close()
    base.close()
    assert file_bytes(base_path) == before_bytes
