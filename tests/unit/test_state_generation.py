"""The state's generation and its marker: a copy or a restored backup is noticed.

Real SQLite files; the copies are taken the way an operator would (the main
file alone, with or without its WAL checkpointed into it).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from tagger.monitor.snapshot import behind_marker
from tagger.state import StateStore
from tagger.state.generation import marker_generation
from tagger.state.integrity import marker_path

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _cycle(store: StateStore) -> int:
    """Do what a live cycle does to the generation; return the one it committed."""
    generation = store.begin_generation()
    store.commit_generation(generation, T0)
    return generation


def _restore(copy: Path, path: Path) -> None:
    """Put ``copy`` in place of the state file, as a restore would (no WAL, no -shm)."""
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy2(copy, path)


def test_each_cycle_bumps_the_state_and_its_marker(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        assert store.generation() == 0 and marker_generation(path) is None
        assert _cycle(store) == 1 and _cycle(store) == 2
        assert store.generation() == 2 and marker_generation(path) == 2
    text = marker_path(path).read_text(encoding="utf-8")
    assert text.startswith(f"tagger state {path.resolve()} first opened ")
    with StateStore.open(path) as store:
        assert store.behind_marker() is None and store.lost_at() is None


def test_a_restored_backup_is_noticed_and_verified(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        _cycle(store)
    shutil.copy2(path, tmp_path / "backup.db")
    with StateStore.open(path) as store:
        _cycle(store)
    _restore(tmp_path / "backup.db", path)
    # `tagger status` (read-only, next to nothing) sees it before any writer opens it.
    with StateStore.open(path, readonly=True) as status:
        assert status.behind_marker() == (1, 2) and status.lost_at() is None
    with StateStore.open(path) as store:
        assert store.generation() == 1
        assert store.lost_at() is not None  # every account verifies until a clean cycle
        # The next cycle goes past both: the marker never goes back.
        assert _cycle(store) == 3


def test_a_copy_taken_mid_cycle_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        _cycle(store)
        store.begin_generation()
        store.record_applied("a", "m1", "t1", rule_id="r", rule_hash="h", mode="enforce", at=T0)
        # Taken now, without the WAL: the apply above is not in it.
        shutil.copy2(path, tmp_path / "copy.db")
    _restore(tmp_path / "copy.db", path)
    with StateStore.open(path) as store:
        assert store.applied_pairs("a", ["m1"]) == set()
        behind = store.behind_marker()
        assert behind is not None and behind[0] < 2 and behind[1] == 2
        assert store.lost_at() is not None


def test_a_cycle_cut_off_before_its_end_is_verified_too(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        store.begin_generation()
    with StateStore.open(path) as store:
        assert store.lost_at() is not None


def test_a_marker_gone_while_the_state_has_a_generation_is_verified(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        _cycle(store)
    marker_path(path).unlink()
    with StateStore.open(path) as store:
        assert store.lost_at() is not None
    assert marker_path(path).exists()


def test_a_marker_of_an_older_tagger_says_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        pass
    marker_path(path).write_text("tagger state x first opened 2026-01-01\n", encoding="utf-8")
    with StateStore.open(path) as store:
        assert store.behind_marker() is None and store.lost_at() is None


def test_a_command_next_to_the_daemon_notes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as daemon:
        daemon.begin_generation()  # a cycle is running
        # `tagger pause --all` opens the file without the lock mid-cycle.
        with StateStore.open(path, lock=False) as command:
            assert command.lost_at() is None
        assert daemon.lost_at() is None


def test_status_reads_one_generation_behind_under_a_lock_as_a_cycle_under_way(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        _cycle(store)
        store.begin_generation()  # a cycle has begun and not ended yet
        found = store.behind_marker()
    assert found == (1, 2)
    # The daemon holds the lock: its cycle is under way, nothing to report.
    assert behind_marker(found, lock_held=True) is None
    # Nobody holds it: the cycle was cut off (or the state is a copy), say so.
    assert behind_marker(found, lock_held=False) == (1, 2)
    assert behind_marker(found, lock_held=None) == (1, 2)
    # Two behind under a lock is more than one cycle: a copy put back under a daemon.
    assert behind_marker((1, 3), lock_held=True) == (1, 3)
    assert behind_marker((1, None), lock_held=True) == (1, None)
    assert behind_marker(None, lock_held=True) is None
