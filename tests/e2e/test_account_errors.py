"""Account-level errors stop the account's cycle, never a message; answers are checked.

- 401/403 on get-message-info or apply: the cycle of that account stops, its
  watermarks hold, nothing is recorded as a message failure or set aside, and
  the next cycle (credentials back) applies everything.
- A get-message-info answer for another message is a retryable error: nothing
  is planned from it.
- An expired key binding reported in ``fail[]`` is fatal for the account, like 418.
- ``once`` exits 3 when work is left for the next run, 1 when the account could not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_daemon_failures import victim_needing_info

from tagger import exitcodes
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tests.support.client import watch
from tests.support.daemon import (
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    write_config,
)

__all__ = ["watch"]


def state_rows(state: Path) -> tuple[int, int, int]:
    """Return (watermarks, failure records, set-aside messages) in the state file."""
    if not state.exists():
        return 0, 0, 0
    with StateStore.open(state, lock=False, readonly=True) as store:
        failures = store.failures("demo")
        aside = sum(1 for f in failures if f.set_aside_at is not None)
        return len(list(store.watermarks())), len(failures), aside


@pytest.mark.parametrize(("endpoint", "status"), [("apply", 403), ("info", 401), ("info", 403)])
def test_refused_credentials_hold_the_account_and_lose_no_tag(
    tmp_path: Path, endpoint: str, status: int
) -> None:
    with Simulator(SimulatorConfig(seed=51, messages=60)) as sim:
        cfg = str(write_config(tmp_path, sim, max_failures=1))
        state = tmp_path / "state.db"
        expected = expected_pairs(sim)
        assert expected
        sim.refuse(endpoint, status, 1_000_000)
        # More cycles than max_failures: a per-message count would set messages aside.
        for _ in range(3):
            refused = run_tagger("once", "-c", cfg)
            assert refused.returncode == exitcodes.FAILURE, refused.stderr
            assert "account demo: error:" in refused.stderr
            assert ("permission denied" if status == 403 else "rejected") in refused.stderr
            marks, failures, aside = state_rows(state)
            assert (marks, failures, aside) == (0, 0, 0)
        # Tags that need no message info may have gone on before the first refusal.
        assert applied_pairs(sim) <= expected
        if endpoint == "apply":
            assert applied_pairs(sim) == set()

        sim.refuse(endpoint, status, 0)
        recovered = run_tagger("once", "-c", cfg)
        assert recovered.returncode == exitcodes.OK, recovered.stderr
        assert applied_pairs(sim) == expected
        assert repeated_applies(sim) == {}


def test_refusal_mid_cycle_records_the_applies_that_were_made(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=52, messages=200)) as sim:
        cfg = str(write_config(tmp_path, sim))
        expected = expected_pairs(sim)
        assert len(expected) > 20
        # Five applies go through, then the application loses its role.
        sim.refuse("apply", 403, 1_000_000, after=5)
        refused = run_tagger("once", "-c", cfg)
        assert refused.returncode == exitcodes.FAILURE, refused.stderr
        made = applied_pairs(sim)
        assert len(made) == 5 and made <= expected
        with StateStore.open(tmp_path / "state.db", lock=False, readonly=True) as store:
            recorded = sum(store.tags_per_rule().values())
        assert recorded == len(made)
        assert state_rows(tmp_path / "state.db")[1:] == (0, 0)

        sim.refuse("apply", 403, 0)
        again = run_tagger("once", "-c", cfg)
        assert again.returncode == exitcodes.OK, again.stderr
        assert applied_pairs(sim) == expected
        assert repeated_applies(sim) == {}


def test_info_for_another_message_is_retried_and_never_planned(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=53, messages=120)) as sim:
        cfg = str(write_config(tmp_path, sim, max_failures=1))
        expected = expected_pairs(sim)
        sim.misanswer_info(1_000_000)
        first = run_tagger("once", "-c", cfg)
        # Every read was refused as a mixed-up answer: only search-level tags went on.
        assert first.returncode == exitcodes.INCOMPLETE, first.stderr
        assert "not the one asked for" in first.stderr
        assert re.search(r"incomplete: .*messages? failed", first.stdout), first.stdout
        assert applied_pairs(sim) <= expected
        _marks, failures, aside = state_rows(tmp_path / "state.db")
        assert failures > 0 and aside == 0  # retryable: never set aside

        sim.misanswer_info(0)
        second = run_tagger("once", "-c", cfg)
        assert second.returncode == exitcodes.OK, second.stderr
        assert applied_pairs(sim) == expected
        assert repeated_applies(sim) == {}


def test_once_exit_codes_tell_complete_incomplete_and_failed(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=56, messages=80)) as sim:
        cfg = str(write_config(tmp_path, sim))
        victim, _received = victim_needing_info(sim)
        sim.fail_message(victim, 1_000, transient=True)
        incomplete = run_tagger("once", "-c", cfg)
        assert re.search(r"\b1 failed", incomplete.stdout), incomplete.stdout
        assert incomplete.returncode == exitcodes.INCOMPLETE, incomplete.stderr
        assert "the next run retries" in incomplete.stdout
        sim.fail_message(victim, 0)
        done = run_tagger("once", "-c", cfg)
        assert done.returncode == exitcodes.OK, done.stderr
        assert "incomplete" not in done.stdout
        assert applied_pairs(sim) == expected_pairs(sim)
