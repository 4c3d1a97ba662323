"""Scoped searches against the strict simulator in process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagger.config import load_config
from tagger.engine.options import cycle_options
from tagger.engine.run import run_cycle
from tagger.engine.scope import (
    scoped_criteria,
)
from tagger.engine.window import Window
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.errors import ApiFailure
from tagger.mimecast.models import TrackedEmail
from tagger.service.runtime import open_runtime, open_state
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import (
    write_config,
)
from tests.support.search import DOMAINS, query_count, scoped_account


def test_strict_simulator_refuses_a_bare_window_and_filters_by_domain(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=5, messages=120, strict_search=True)) as sim:
        config = load_config(write_config(tmp_path, sim))
        end = datetime.fromtimestamp(sim.now(), UTC) + timedelta(minutes=1)
        start = end - timedelta(hours=7)
        inbound = SearchCriteria(routes=("inbound",))

        async def go() -> tuple[ApiFailure, list[TrackedEmail]]:
            async with MimecastClient(config.accounts[0].settings) as client:
                with pytest.raises(ApiFailure) as info:
                    await client.search(inbound, start, end)
                scoped = scoped_criteria(inbound, ["corp.example.com"])[0]
                found = await client.search(scoped, start, end)
                return info.value, list(found.emails)

        refusal, found = asyncio.run(go())
        assert refusal.code == "err_validation_blank" and not refusal.retryable
        assert "must not be empty" in refusal.message
        assert found, "some inbound mail goes to the subsidiary domain"
        by_id = {m.id: m for m in sim.messages()}
        for email in found:
            message = by_id[email.id]
            assert message.route == "inbound"
            assert any(p.domain == "corp.example.com" for p in message.recipients)


def test_later_cycles_of_the_process_go_straight_to_scoped_searches(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=7, messages=120, strict_search=True)) as sim:
        config = load_config(
            write_config(tmp_path, sim, accounts=scoped_account(sim, domains=DOMAINS)), env={}
        )
        end = datetime.fromtimestamp(sim.now(), UTC)
        window = Window(end - timedelta(hours=7), end)

        async def go() -> list[int]:
            runtime = await open_runtime(config)
            calls = []
            try:
                with open_state(config, dry_run=True) as state:
                    options = cycle_options(config, window=window)
                    for _ in range(2):
                        (report,) = await run_cycle(runtime, state, options, lambda: end)
                        assert report.errors == []
                        calls.append(report.search_calls)
            finally:
                await runtime.close()
            return calls

        first, second = asyncio.run(go())
        assert first - second == query_count()  # one refused bare search per query, once
