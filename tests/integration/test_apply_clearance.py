"""The clearance of an apply, against the simulator: checked at the moment of sending.

The rails (kill switch, pauses) are read when the request is about to go
out, after every wait in front of it; a refused clearance sends nothing and
leaves the client able to send the next call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from tagger.mimecast.clearance import Clearance, Withheld
from tagger.mimecast.client import MimecastClient
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.client import settings_for


def _target(sim: Simulator) -> tuple[str, str]:
    message = sim.messages()[0].id
    tag = sim.smart_tags()[0]["id"]
    return message, tag


def test_a_refused_clearance_sends_nothing_and_the_next_call_goes_out() -> None:
    with Simulator(SimulatorConfig(seed=3, messages=5)) as sim:
        message, tag = _target(sim)

        def refuse() -> AbstractContextManager[None]:
            raise Withheld("the kill switch is on", rail=True)

        async def calls() -> None:
            async with MimecastClient(settings_for(sim.url, "2.0", concurrency=1)) as client:
                with pytest.raises(Withheld, match="kill switch"):
                    await client.apply_smart_tag(message, tag, refuse)
                assert sim.applied() == {}
                await client.apply_smart_tag(message, tag)

        asyncio.run(calls())
        assert sim.applied() == {(message, tag): 1}


def test_the_clearance_is_entered_after_the_wait_for_a_slot_and_left_after_the_answer() -> None:
    # One connection slot and 100 ms per call: the second apply waits for the
    # first one's slot. Its clearance must be asked only once the slot is its,
    # so a switch set while it waits is still seen.
    with Simulator(SimulatorConfig(seed=3, messages=5, latency_ms=100)) as sim:
        message, tag = _target(sim)
        other = sim.messages()[1].id
        events: list[str] = []
        switched = asyncio.Event()

        def clearance(name: str) -> Clearance:
            @contextmanager
            def cleared() -> Iterator[None]:
                if switched.is_set():
                    events.append(f"{name} withheld")
                    raise Withheld("the kill switch is on", rail=True)
                events.append(f"{name} sent ({len(sim.applied())} applied)")
                yield
                events.append(f"{name} answered ({len(sim.applied())} applied)")

            return cleared

        async def calls() -> None:
            async with MimecastClient(settings_for(sim.url, "2.0", concurrency=1)) as client:
                first = asyncio.ensure_future(
                    client.apply_smart_tag(message, tag, clearance("first"))
                )
                second = asyncio.ensure_future(
                    client.apply_smart_tag(other, tag, clearance("second"))
                )
                while not events:
                    await asyncio.sleep(0.005)
                switched.set()  # the second call is queued for the slot by now
                await first
                with pytest.raises(Withheld):
                    await second

        asyncio.run(calls())
        assert events == ["first sent (0 applied)", "first answered (1 applied)", "second withheld"]
        assert sim.applied() == {(message, tag): 1}
