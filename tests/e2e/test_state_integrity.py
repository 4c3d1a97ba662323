"""A second writer, a deleted or replaced state file, and a lost state are all caught.

Real SQLite files, real processes holding the lock, and `tagger once`/`run`
against the simulator on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateLocked, StateStore
from testkit.setup import SUMMARY_ONLY_RULE
from tests.support.daemon import RULES_DIR, Running, repeated_applies, run_tagger, write_config
from tests.support.state import read_line, spawn

HOLDER = """
import os, sys
from pathlib import Path
from tagger.state import StateStore
store = StateStore.open(Path(sys.argv[1]))
print("locked", os.getpid(), flush=True)
sys.stdin.read()
store.close()
"""


def test_deleting_the_lock_file_does_not_admit_a_second_writer(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    holder = spawn(HOLDER, str(path))
    try:
        read_line(holder)
        Path(f"{path}.lock").unlink()
        with pytest.raises(StateLocked, match=str(path)):
            StateStore.open(path)
    finally:
        holder.kill()
        holder.wait(timeout=20)


def test_a_symlink_to_the_same_state_file_is_the_same_writer(tmp_path: Path) -> None:
    real = tmp_path / "real" / "state.db"
    real.parent.mkdir()
    (tmp_path / "alias").symlink_to(real.parent)
    holder = spawn(HOLDER, str(real))
    try:
        read_line(holder)
        with pytest.raises(StateLocked):
            StateStore.open(tmp_path / "alias" / "state.db")
        link = tmp_path / "link.db"
        link.symlink_to(real)
        with pytest.raises(StateLocked):
            StateStore.open(link)
    finally:
        holder.kill()
        holder.wait(timeout=20)


def test_once_after_the_state_was_deleted_applies_nothing_twice(tmp_path: Path) -> None:
    probe = tmp_path / "summary-only.yaml"
    probe.write_text(SUMMARY_ONLY_RULE, encoding="utf-8")
    with Simulator(SimulatorConfig(seed=5, messages=200)) as sim:
        cfg = str(write_config(tmp_path, sim, rules=[RULES_DIR / "*.yaml", probe]))
        first = run_tagger("once", "-c", cfg)
        assert first.returncode == 0, first.stderr
        applied = len(sim.applied())
        assert applied > 0
        state = tmp_path / "state.db"
        for extra in ("", "-wal", "-shm"):
            Path(f"{state}{extra}").unlink(missing_ok=True)
        second = run_tagger("once", "-c", cfg)
        assert second.returncode == 0, second.stderr
        assert repeated_applies(sim) == {}
        assert len(sim.applied()) == applied
        assert "state_lost" in second.stderr
        # The run that verified completed: the next one trusts the state again.
        third = run_tagger("once", "-c", cfg)
        assert third.returncode == 0, third.stderr
        assert "previous_run_cut_off" not in third.stderr
        assert repeated_applies(sim) == {}


def test_the_daemon_stops_with_an_error_when_its_state_file_is_deleted(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=6, messages=50)) as sim:
        cfg = str(write_config(tmp_path, sim))
        daemon = Running("run", "-c", cfg)
        try:
            daemon.wait_event("cycle_finished")
            (tmp_path / "state.db").unlink()
            code = daemon.wait(timeout=60)
        finally:
            daemon.stop()
        assert code == 1, daemon.stderr[-3000:]
        (event,) = daemon.named("state_unusable")
        assert str(tmp_path / "state.db") in event["error"] and "deleted" in event["error"]
