"""A search answer larger than the client's bounds splits its window instead of failing.

The simulator answers without a cap (every message of the window in one
answer), and the account's ``max_items_per_response`` is set below what a
day holds: the first answers are refused by the client's own bound, their
windows are searched in halves, and `tagger once` finds and tags everything,
exiting 0 (it used to fail the account, exit 1, with a summary saying the
next run retries).
"""

from __future__ import annotations

from pathlib import Path

from tagger import exitcodes
from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import (
    RULES_DIR,
    account_yaml,
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    write_config,
)


def test_an_oversized_answer_splits_and_nothing_is_missed(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=31, messages=600, search_cap=0)) as sim:
        account = account_yaml(sim) | {"max_items_per_response": 150}
        cfg = str(write_config(tmp_path, sim, accounts=[account]))
        done = run_tagger("once", "-c", cfg)
        assert done.returncode == exitcodes.OK, done.stdout + done.stderr[-3000:]
        assert "search_answer_too_large" in done.stderr
        assert "needs attention" not in done.stdout and "incomplete" not in done.stdout
        assert repeated_applies(sim) == {}
        assert applied_pairs(sim) == expected_pairs(sim, load_rules([RULES_DIR]))
