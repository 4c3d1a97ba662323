"""A cycle paced by the quota: work without a turn by the cycle's bound is deferred, not failed.

Against a real simulator on 127.0.0.1 limiting every endpoint to a bucket of
10 requests refilled at 5/s: a cycle bounded to one second of message work
cannot finish a mailbox of 80 messages, so it defers the rest (nothing failed,
nothing set aside, the windows held); the next cycles, without a bound, finish
it: every expected tag applied exactly once. Behaviour only, never speed.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from tagger.config import load_config
from tagger.engine.options import cycle_options
from tagger.engine.run import run_cycle
from tagger.engine.tally import CycleReport
from tagger.service.runtime import open_runtime, open_state, utc_now
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.config import ENDPOINTS
from testkit.expected import expected_pairs
from testkit.setup import write_config

QUOTA = {endpoint: (10, 2.0) for endpoint in ENDPOINTS}  # 10 in the bucket, 5/s back


def _cycles(config_path: Path, bounds: list[timedelta | None]) -> list[CycleReport]:
    """Run one cycle per bound (None: unbounded) on one runtime and state; returns the reports."""
    config = load_config(config_path, env={})

    async def go() -> list[CycleReport]:
        runtime = await open_runtime(config)
        reports: list[CycleReport] = []
        try:
            with open_state(config, dry_run=False) as state:
                for bound in bounds:
                    options = cycle_options(config, max_cycle=bound)
                    reports.extend(await run_cycle(runtime, state, options, utc_now))
        finally:
            await runtime.close()
        return reports

    return asyncio.run(go())


def test_a_bounded_cycle_defers_what_the_quota_cannot_do_and_the_next_finishes(
    tmp_path: Path,
) -> None:
    with Simulator(SimulatorConfig(seed=5, messages=80, rate_limits=QUOTA)) as sim:
        expected = expected_pairs(sim)
        assert len(expected) > 10
        bounded, *rest = _cycles(write_config(tmp_path, sim), [timedelta(seconds=1), None, None])
        applied = sim.applied()
    # The bounded cycle left work for later, and said so: paced, not failed.
    assert bounded.quota_deferred > 0
    assert bounded.oldest_deferred is not None
    assert bounded.failed == 0 and bounded.set_aside == [] and bounded.errors == []
    assert bounded.undone() == []
    assert "messages deferred" in bounded.quota_note()
    # Paced, not undone: no window counts as held back by a failure.
    assert bounded.held_back == 0
    # The next cycles finish the job: every expected tag, each applied once (a
    # window that moved past a deferred message would have lost its tags).
    assert all(r.failed == 0 and r.errors == [] for r in rest)
    assert rest[-1].quota_deferred == 0
    assert set(applied) == expected
    assert all(count == 1 for count in applied.values())


def test_an_unbounded_cycle_waits_its_turns_and_finishes_in_one_pass(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=6, messages=40, rate_limits=QUOTA)) as sim:
        expected = expected_pairs(sim)
        (report,) = _cycles(write_config(tmp_path, sim), [None])
        applied = sim.applied()
        throttled = sim.stats()["throttled_total"]
    assert report.quota_deferred == 0 and report.failed == 0 and report.undone() == []
    assert set(applied) == expected
    # Paced to the refill: the service refused few calls, if any.
    assert throttled <= 10
