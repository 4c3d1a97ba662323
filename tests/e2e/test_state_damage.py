"""A state file damaged at the page level is refused, and `tagger recover-state` moves it aside.

A real state file written by `tagger once` against the simulator, with
garbage written into one of its pages.
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tagger.state.errors import StateDamaged
from tests.support.daemon import repeated_applies, run_tagger, write_config


def damage(path: Path, table: str = "processed") -> None:
    """Overwrite the header of ``table``'s root page in the (checkpointed) file with garbage."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
    with path.open("r+b") as raw:
        raw.seek((root - 1) * size)
        raw.write(b"\xa5" * 64)


def test_a_damaged_file_is_refused_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        store.mark_processed("a", "q", [f"m{i}" for i in range(2000)], datetime.now(UTC), {})
    damage(path)
    with pytest.raises(StateDamaged) as info:
        StateStore.open(path)
    assert str(path) in str(info.value) and "tagger recover-state" in str(info.value)
    with pytest.raises(StateDamaged):
        StateStore.open_copy(path)


def test_once_refuses_a_damaged_state_and_recovery_applies_nothing_twice(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=21, messages=200)) as sim:
        cfg = str(write_config(tmp_path, sim))
        state = tmp_path / "state.db"
        first = run_tagger("once", "-c", cfg)
        assert first.returncode == 0, first.stderr
        applied = len(sim.applied())
        damage(state)

        refused = run_tagger("once", "-c", cfg)
        assert refused.returncode == 1, refused.stderr
        assert str(state) in refused.stderr and "tagger recover-state" in refused.stderr
        assert len(sim.applied()) == applied

        recovered = run_tagger("recover-state", "-c", cfg)
        assert recovered.returncode == 0, recovered.stderr
        (aside,) = tmp_path.glob("state.db.damaged-*")
        assert f"moved aside: {aside}" in recovered.stdout
        assert not state.exists()

        again = run_tagger("once", "-c", cfg)
        assert again.returncode == 0, again.stderr
        assert "state_lost" in again.stderr
        assert repeated_applies(sim) == {}
        assert len(sim.applied()) == applied
