"""A state file damaged at the page level is refused, and `tagger recover-state` moves it aside.

A real state file written by `tagger once` against the simulator, with
garbage written into one of its pages.
"""

from __future__ import annotations

from pathlib import Path

from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import repeated_applies, run_tagger, write_config
from tests.support.state import damage


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
