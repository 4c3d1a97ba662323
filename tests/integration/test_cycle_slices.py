"""A cycle works through a large window in slices and holds only one slice's messages.

Against a real simulator on 127.0.0.1 with a day of mail and a slice sized
for 40 messages: one ``once``-style cycle finishes the work (every expected
tag applied once, the watermark moved to the window's end), every slice
holding a bounded number of messages, and a second cycle finds it all done.
Behaviour only, never speed or memory (``python -m bench.memory`` measures).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tagger.config import load_config
from tagger.engine import cycle as cycle_module
from tagger.engine import slices
from tagger.engine.candidate import Candidate
from tagger.engine.options import cycle_options
from tagger.engine.run import run_cycle
from tagger.engine.tally import CycleReport
from tagger.engine.window import Window
from tagger.service.runtime import open_runtime, open_state, utc_now
from tagger.simulator import Simulator, SimulatorConfig
from testkit.expected import expected_pairs
from testkit.setup import write_config

HOLD = 40


def _cycles(config_path: Path, count: int) -> list[CycleReport]:
    config = load_config(config_path, env={})

    async def go() -> list[CycleReport]:
        runtime = await open_runtime(config)
        reports: list[CycleReport] = []
        try:
            with open_state(config, dry_run=False) as state:
                for _ in range(count):
                    reports.extend(await run_cycle(runtime, state, cycle_options(config), utc_now))
        finally:
            await runtime.close()
        return reports

    return asyncio.run(go())


def test_a_day_of_mail_is_worked_through_in_slices_with_the_right_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slices, "HOLD", HOLD)
    monkeypatch.setattr(cycle_module, "LIMIT", 3 * HOLD)
    held: list[int] = []
    merge = cycle_module._Cycle.merge

    def counting_merge(self: cycle_module._Cycle, outcomes: list) -> dict[str, Candidate]:  # type: ignore[type-arg]
        candidates = merge(self, outcomes)
        held.append(len(candidates))
        return candidates

    monkeypatch.setattr(cycle_module._Cycle, "merge", counting_merge)
    dropped: list[Window] = []
    search = cycle_module._Cycle.search

    async def noting_search(self: cycle_module._Cycle, part: Window, limit: int | None = None):  # type: ignore[no-untyped-def]
        outcomes = await search(self, part, limit)
        if outcomes is None:
            dropped.append(part)
        return outcomes

    monkeypatch.setattr(cycle_module._Cycle, "search", noting_search)
    with Simulator(SimulatorConfig(seed=17, messages=400)) as sim:
        expected = expected_pairs(sim)
        first, second = _cycles(write_config(tmp_path, sim), 2)
        applied = sim.applied()
    assert len(expected) > HOLD
    # Many slices, none holding a whole day: each one sized from the one before.
    assert len(held) > 4
    # Dense mail after empty hours: the slice that found too much was dropped and
    # searched again, shorter, instead of being held.
    assert dropped, held
    assert max(held) <= 3 * HOLD, held
    assert sum(held) >= first.messages_found > 2 * HOLD
    # The work is finished in one cycle: every expected tag, each applied once.
    assert first.failed == 0 and first.errors == [] and not first.interrupted
    assert first.quota_deferred == 0 and first.searches_deferred == 0
    assert set(applied) == expected
    assert all(count == 1 for count in applied.values())
    assert first.watermarks and all(first.windows[k].end == m for k, m in first.watermarks.items())
    # The next cycle finds everything judged: nothing read, nothing applied.
    assert second.info_calls == 0 and second.applied == 0
