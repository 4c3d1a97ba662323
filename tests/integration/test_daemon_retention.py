"""The state's retention, computed from the config against the simulator in process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tagger.config import load_config
from tagger.engine.pruning import keep_for
from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import RULES_DIR, write_config


def test_retention_is_the_longest_lookback_plus_overlap_and_a_day(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=2, messages=1)) as sim:
        config = load_config(write_config(tmp_path, sim))
    rules = load_rules([RULES_DIR])
    # initial_lookback 24h, max_catchup 7d, rule look-backs <= 7d, overlap 10m.
    assert keep_for(config, rules) == timedelta(days=8, minutes=10)
