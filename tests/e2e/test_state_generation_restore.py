"""A state file replaced by a copy taken mid-run applies nothing twice.

`tagger once` runs against the simulator (with latency, so its applies spread
over seconds); the state file alone (no WAL) is copied while it applies, the
process is SIGKILLed some applies later, the copy is put in place of the
state, and `tagger once` runs again. The rule set includes a rule decided from
the search summary alone, so only the state stands between the restart and a
second apply: the copy's generation, below the marker's, makes every account
read the tags already on each message first.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from testkit.setup import SUMMARY_ONLY_RULE
from tests.support.daemon import (
    RULES_DIR,
    Running,
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    wait_until,
    write_config,
)


def test_a_copy_taken_mid_run_put_back_applies_nothing_twice(tmp_path: Path) -> None:
    probe = tmp_path / "summary-only.yaml"
    probe.write_text(SUMMARY_ONLY_RULE, encoding="utf-8")
    rules = [RULES_DIR / "*.yaml", probe]
    config = SimulatorConfig(seed=19, messages=300, latency_ms=25)
    with Simulator(config) as sim:
        cfg = str(write_config(tmp_path, sim, rules=rules))
        state = tmp_path / "state.db"
        first = Running("once", "-c", cfg)
        try:
            wait_until(lambda: len(sim.applied()) >= 10, 60, "10 applies")
            shutil.copy2(state, tmp_path / "copy.db")
            at_copy = len(sim.applied())
            wait_until(lambda: len(sim.applied()) >= at_copy + 20, 60, "20 more applies")
            first.signal(signal.SIGKILL)
            first.wait(timeout=30)
        finally:
            first.stop()
        applied = len(sim.applied())
        assert applied > at_copy

        for suffix in ("-wal", "-shm"):
            Path(f"{state}{suffix}").unlink(missing_ok=True)
        shutil.copy2(tmp_path / "copy.db", state)

        again = run_tagger("once", "-c", cfg)
        assert again.returncode == 0, again.stderr[-3000:]
        assert repeated_applies(sim) == {}
        assert "state_behind_marker" in again.stderr
        assert repeated_applies(sim) == {}
        assert applied_pairs(sim) == expected_pairs(sim, load_rules([RULES_DIR, probe]))
        after = json.loads(run_tagger("status", "--json", "-c", cfg).stdout)
        assert after["behind_marker"] is None and after["verifying"]["accounts"] == []
        assert after["verifying"]["since"] is not None and after["generation"] > 0
        # The verifying run completed: the next one trusts the state again.
        third = run_tagger("once", "-c", cfg)
        assert third.returncode == 0, third.stderr[-3000:]
        assert "state_behind_marker" not in third.stderr
        assert "previous_run_cut_off" not in third.stderr
        assert repeated_applies(sim) == {}
