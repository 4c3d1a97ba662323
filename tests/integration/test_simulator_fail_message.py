"""The simulator's fail-message fault, seen by the client in process."""

from __future__ import annotations

import asyncio

from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import ApiFailure
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.client import settings_for


def test_simulator_fail_message_fails_that_message_only_and_only_n_times() -> None:
    with Simulator(SimulatorConfig(seed=3, messages=5)) as sim:
        victim, other = (m.id for m in sim.messages()[:2])
        sim.fail_message(victim, 2)

        async def calls() -> list[str]:
            out = []
            async with MimecastClient(settings_for(sim.url, "2.0")) as client:
                for mid in (victim, other, victim, victim):
                    try:
                        info = await client.get_message_info(mid)
                        out.append(f"ok {info.id == mid}")
                    except ApiFailure as exc:
                        out.append(f"failed {exc.code}")
            return out

        assert asyncio.run(calls()) == [
            "failed err_sim_injected_failure",
            "ok True",
            "failed err_sim_injected_failure",
            "ok True",
        ]
