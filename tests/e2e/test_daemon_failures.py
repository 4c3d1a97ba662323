"""A message whose get-message-info keeps failing: it blocks nothing, holds the watermark
back, and is set aside (and reported) after ``max_failures`` attempts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tagger import exitcodes
from tagger.rules import evaluate, load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tests.support.daemon import (
    RULES_DIR,
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    sim_message,
    write_config,
)


def victim_needing_info(sim: Simulator) -> tuple[str, datetime]:
    """Return the oldest message that gets a tag from a rule that needs message info."""
    rules = load_rules([RULES_DIR])
    by_id = {r.id: r for r in rules.rules}
    for record in sim.messages():
        message = sim_message(sim, record.id)
        decisions = evaluate(rules, message)
        if any(d.mode == "enforce" and by_id[d.rule_id].needs_info for d in decisions):
            assert message.summary.received is not None
            return record.id, message.summary.received
    pytest.fail("no message needs info to be tagged")


def watermarks(state: Path) -> list[datetime]:
    with StateStore.open(state, lock=False, readonly=True) as store:
        return [mark for _account, _key, mark in store.watermarks()]


def test_failing_message_does_not_block_others_and_is_set_aside(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=21, messages=150)) as sim:
        cfg = str(write_config(tmp_path, sim, max_failures=2))
        state = tmp_path / "state.db"
        victim, received = victim_needing_info(sim)
        sim.fail_message(victim, 1_000)
        expected = expected_pairs(sim)
        of_victim = {p for p in expected if p[0] == victim}
        assert of_victim

        first = run_tagger("once", "-c", cfg)
        assert first.returncode == exitcodes.INCOMPLETE, first.stderr
        assert re.search(r"\b1 failed", first.stdout), first.stdout
        assert applied_pairs(sim) == expected - of_victim
        # The watermark of the victim's query stays at the victim, so it is searched again.
        assert min(watermarks(state)) <= received < datetime.now(UTC)
        assert max(watermarks(state)) > received

        second = run_tagger("once", "-c", cfg)
        assert second.returncode == exitcodes.FAILURE, second.stderr
        assert re.search(r"\b1 set aside", second.stdout), second.stdout
        # Set aside: it no longer holds the watermark back.
        assert min(watermarks(state)) > received

        status = run_tagger("status", "-c", cfg)
        assert status.returncode == 0, status.stderr
        line = next((ln for ln in status.stdout.splitlines() if victim in ln), "")
        assert "2 attempts (set aside)" in line and "err_sim_injected_failure" in line, (
            status.stdout
        )

        # Later runs change nothing: no retry of the victim, no repeated apply.
        info_calls = sim.stats()["endpoints"]["info"]["total"]
        third = run_tagger("once", "-c", cfg)
        assert third.returncode == 0, third.stderr
        assert applied_pairs(sim) == expected - of_victim
        assert repeated_applies(sim) == {}
        assert sim.stats()["endpoints"]["info"]["total"] == info_calls


def test_transient_failures_hold_the_watermark_but_never_set_a_message_aside(
    tmp_path: Path,
) -> None:
    """An outage (5xx after the client's retries) longer than max_failures loses no tag."""
    with Simulator(SimulatorConfig(seed=21, messages=150)) as sim:
        cfg = str(write_config(tmp_path, sim, max_failures=2))
        state = tmp_path / "state.db"
        victim, received = victim_needing_info(sim)
        sim.fail_message(victim, 1_000, transient=True)
        expected = expected_pairs(sim)
        of_victim = {p for p in expected if p[0] == victim}

        for _ in range(3):  # more cycles than max_failures
            run = run_tagger("once", "-c", cfg)
            assert run.returncode == exitcodes.INCOMPLETE, run.stderr
            assert "incomplete: 1 message failed" in run.stdout, run.stdout
            assert re.search(r"\b1 failed", run.stdout), run.stdout
            assert "set aside" not in run.stdout
            assert min(watermarks(state)) <= received
        assert applied_pairs(sim) == expected - of_victim

        sim.fail_message(victim, 0)  # the outage ends
        last = run_tagger("once", "-c", cfg)
        assert last.returncode == 0, last.stderr
        assert applied_pairs(sim) == expected
        assert repeated_applies(sim) == {}
        # Recovered: its failure record is gone from the status.
        status = run_tagger("status", "-c", cfg)
        assert status.returncode == 0 and victim not in status.stdout, status.stdout
