"""The fault-soak and late-indexing scenarios: the daemon as a real process, faulty simulator.

The scenarios are :mod:`testkit.faults` (``python -m bench.faults`` runs them at full scale).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from testkit.faults import Result, late, soak


def run_scenario(scenario: Callable[[int, int, float], Result], *args: int) -> dict[str, object]:
    """Run one scenario of :mod:`testkit.faults` and return its figures as JSON data."""
    return json.loads(json.dumps(scenario(*args, 120.0).to_json()))


@pytest.mark.slow
@pytest.mark.timeout(160)
def test_fault_soak_completes_with_every_tag_and_no_extra() -> None:
    figures = run_scenario(soak, 3, 800)
    assert figures["completed"], figures
    assert figures["expected"] > 100  # the soak has real work to do
    assert figures["missing"] == 0, figures
    assert figures["extra"] == 0, figures
    assert figures["set_aside"] == 0, figures
    assert figures["exit_code"] == 0, figures
    faults = figures["faults"]
    assert isinstance(faults, dict)
    # The faults really happened, and the client really retried them.
    assert faults["error_5xx"] > 0 and faults["drop"] > 0, figures
    assert isinstance(figures["throttled_429"], int) and figures["throttled_429"] > 0
    assert isinstance(figures["retries"], int) and figures["retries"] > 0
    # A repeated apply call only ever follows a truncated answer to an executed apply.
    assert figures["duplicate_calls"] <= faults["malformed_json"], figures
    assert figures["ok"] is True


@pytest.mark.slow
@pytest.mark.timeout(160)
def test_late_indexing_and_capped_windows_at_scale_lose_nothing() -> None:
    figures = run_scenario(late, 5, 2000)
    assert figures["completed"], figures
    assert figures["missing"] == 0 and figures["extra"] == 0, figures
    assert figures["duplicate_calls"] == 0, figures
    assert isinstance(figures["window_splits"], int) and figures["window_splits"] > 0
    assert figures["saturated_windows"] == 0, figures
    # Some tags belong to mail the daemon's first searches could not see yet.
    assert isinstance(figures["late_expected_pairs"], int) and figures["late_expected_pairs"] > 0
    assert figures["late_pairs_applied"] == figures["late_expected_pairs"], figures
    assert figures["ok"] is True
