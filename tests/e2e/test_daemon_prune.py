"""The daemon deletes state rows older than the longest look-back, and keeps the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tests.support.daemon import run_tagger, write_config


def test_daemon_prunes_rows_older_than_retention(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=30), now - timedelta(days=2)
    state = tmp_path / "state.db"
    with StateStore.open(state) as store:
        store.mark_processed("demo", "h", ["old-msg"], old, {"old-msg": old})
        store.mark_processed("demo", "h", ["recent-msg"], recent, {"recent-msg": recent})
    with Simulator(SimulatorConfig(seed=2, messages=20)) as sim:
        cfg = write_config(tmp_path, sim)
        done = run_tagger("run", "-c", str(cfg), "--max-cycles", "1")
        assert done.returncode == 0, done.stderr
    assert '"event": "state_pruned"' in done.stdout + done.stderr
    with StateStore.open(state, lock=False, readonly=True) as store:
        assert store.processed_ids("demo", "h", ["old-msg", "recent-msg"]) == {"recent-msg"}
