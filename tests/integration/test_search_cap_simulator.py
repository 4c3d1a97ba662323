"""The default config finds every message whatever the simulator's search cap."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tagger.config import load_config
from tagger.engine.options import cycle_options
from tagger.engine.run import run_cycle
from tagger.rules import load_rules
from tagger.service.runtime import open_runtime, open_state
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.search import matches, parse_query
from tagger.state import StateStore
from tests.support.daemon import RULES_DIR, expected_pairs, write_config

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def present(sim: Simulator, report: Any) -> set[str]:
    """Return the ids of the messages the shipped rules' searches match in the report's windows."""
    out = set()
    for query in load_rules([RULES_DIR]).queries:
        window = report.windows[query.key]
        q = parse_query(query.criteria.to_request(window.start, window.end))
        assert q.start is not None and q.end is not None
        out.update(m.id for m in sim.messages() if q.start <= m.received <= q.end and matches(q, m))
    return out


def run_cycles(config_path: Path, sim: Simulator, count: int) -> list[Any]:
    """Run ``count`` live cycles of the config at the simulator's clock; returns the reports."""
    config = load_config(config_path)

    async def go() -> list[Any]:
        runtime = await open_runtime(config)
        try:
            reports = []
            for _ in range(count):
                with open_state(config, dry_run=False) as state:
                    options = cycle_options(config)
                    reports.extend(await run_cycle(runtime, state, options, lambda: T0))
            return reports
        finally:
            await runtime.close()

    return asyncio.run(go())


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "cap,mode,messages",
    [
        (40, "oldest", 300),
        (40, "newest", 300),
        (40, "random", 300),
        (100, "random", 600),
        (500, "random", 1400),
        (1000, "random", 2600),
        (1000, "newest", 2600),
    ],
)
def test_default_config_finds_everything_whatever_the_cap(
    tmp_path: Path, cap: int, mode: str, messages: int
) -> None:
    config = SimulatorConfig(
        seed=3, messages=messages, start_time=T0, search_cap=cap, search_cap_mode=mode
    )
    with Simulator(config, clock=T0.timestamp) as sim:
        window = {
            "overlap": "10m",
            "ingestion_delay": "0s",
            "initial_lookback": "24h",
            "max_catchup": "7d",
            "split_min": "1m",
        }
        path = write_config(tmp_path, sim, window=window)
        [report] = run_cycles(path, sim, 1)
        assert report.errors == [] and report.saturated == 0
        assert report.messages_found == len(present(sim, report)) > cap
        assert set(sim.applied()) == expected_pairs(sim)
        with StateStore.open(tmp_path / "state.db", lock=False, readonly=True) as state:
            row = state.get_search_cap("demo")
        assert row is not None and row.learned == cap
        # Kept for the next cycle: its small window needs one search per query, no check.
        before = sim.stats()["endpoints"]["search"]["total"]
        [again] = run_cycles(path, sim, 1)
        assert again.saturated == 0 and again.applied == 0
        queries = len(load_rules([RULES_DIR]).queries)
        assert sim.stats()["endpoints"]["search"]["total"] - before == queries
