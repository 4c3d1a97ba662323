"""Pacing against the simulator in process: concurrent calls under its rate limits get no 429."""

from __future__ import annotations

import asyncio

from tagger.mimecast.client import MimecastClient
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.client import run, settings_for, watch

__all__ = ["watch"]  # the fixture that fails a test on a leaked secret


def test_concurrent_calls_against_the_simulator_are_paced_without_429() -> None:
    limits = {"info": (5, 0.25)}  # 5 in the bucket, one back every 50 ms
    with Simulator(SimulatorConfig(seed=5, messages=30, rate_limits=limits)) as sim:
        ids = [m.id for m in sim.messages()]

        async def scenario() -> None:
            async with MimecastClient(settings_for(sim.url, "2.0")) as client:
                got = await asyncio.gather(*(client.get_message_info(i) for i in ids))
                assert [g.id for g in got] == ids

        run(scenario())
        info = sim.stats()["endpoints"]["info"]["by_status"]
    assert info.get("200") == len(ids)
    assert int(info.get("429", 0)) <= 1
