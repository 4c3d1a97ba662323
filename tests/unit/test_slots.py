"""The account's connection slots: applies of messages already read go before new reads."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tagger.mimecast.client import MimecastClient
from tagger.mimecast.settings import AccountSettings, OAuthCredentials
from tagger.mimecast.slots import FIRST, NEXT, Slots
from tests.support.client import VirtualTime, envelope


async def _hold_in_turn(slots: Slots, order: list[str], name: str, priority: int) -> None:
    async with slots.hold(priority):
        order.append(name)
        await asyncio.sleep(0)


def test_a_waiting_apply_gets_the_next_free_slot_before_earlier_reads() -> None:
    async def scenario() -> list[str]:
        slots = Slots(1)
        order: list[str] = []
        async with slots.hold(NEXT):
            tasks = [
                asyncio.ensure_future(_hold_in_turn(slots, order, "read-1", NEXT)),
                asyncio.ensure_future(_hold_in_turn(slots, order, "read-2", NEXT)),
                asyncio.ensure_future(_hold_in_turn(slots, order, "apply-1", FIRST)),
                asyncio.ensure_future(_hold_in_turn(slots, order, "read-3", NEXT)),
                asyncio.ensure_future(_hold_in_turn(slots, order, "apply-2", FIRST)),
            ]
            await asyncio.sleep(0)
            assert slots.waiting == 5
        await asyncio.gather(*tasks)
        return order

    # Applies first (in the order they asked), then the reads in theirs.
    assert asyncio.run(scenario()) == ["apply-1", "apply-2", "read-1", "read-2", "read-3"]


def test_a_cancelled_waiter_loses_no_slot() -> None:
    async def scenario() -> int:
        slots = Slots(2)
        order: list[str] = []
        async with slots.hold(NEXT), slots.hold(NEXT):
            waiter = asyncio.ensure_future(_hold_in_turn(slots, order, "gone", FIRST))
            await asyncio.sleep(0)
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)

        async def both() -> int:
            async with slots.hold(NEXT), slots.hold(NEXT):
                return slots.waiting

        # Both slots are free again: two holders at once, no wait (bounded, not hung).
        assert await asyncio.wait_for(both(), 5) == 0
        return len(order)

    assert asyncio.run(scenario()) == 0


def test_never_more_holders_than_slots() -> None:
    async def scenario() -> int:
        slots = Slots(3)
        busy = peak = 0

        async def call(priority: int) -> None:
            nonlocal busy, peak
            async with slots.hold(priority):
                busy += 1
                peak = max(peak, busy)
                await asyncio.sleep(0.001)
                busy -= 1

        await asyncio.gather(*(call(FIRST if i % 3 else NEXT) for i in range(40)))
        return peak

    assert asyncio.run(scenario()) == 3


def test_no_slots_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Slots(0)


def test_a_read_message_s_apply_goes_before_the_reads_still_queued() -> None:
    """The client at concurrency 1: each message reads its info, then applies its tag."""
    vt = VirtualTime()
    order: list[str] = []

    async def server(request: httpx.Request) -> httpx.Response:
        await vt.sleep(0.05)  # every answer takes a while: the calls queue for the slot
        if request.url.path == "/oauth/token":
            return httpx.Response(
                200, json={"access_token": "unit-slots-token", "expires_in": 1800}
            )
        item = json.loads(request.content)["data"][0]
        kind = "apply" if request.url.path.endswith("apply-smart-tag") else "info"
        order.append(f"{kind}-{item['id']}")
        return httpx.Response(200, json=envelope([{"id": item["id"]}]))

    settings = AccountSettings(
        name="unit",
        api_version="2.0",
        base_url="http://127.0.0.1:9",
        credentials=OAuthCredentials("unit-client", "unit-secret-value"),
        concurrency=1,
    )

    async def message(client: MimecastClient, mid: str) -> None:
        await client.get_message_info(mid)
        await client.apply_smart_tag(mid, "tag")

    async def scenario() -> None:
        async with MimecastClient(
            settings,
            clock=vt.clock,
            sleep=vt.sleep,
            uniform=lambda: 0.0,
            transport=httpx.MockTransport(server),
        ) as client:
            await asyncio.gather(*(message(client, f"m{i}") for i in range(6)))

    asyncio.run(scenario())
    # Each apply goes out as soon as the slot frees after its read (one read later:
    # the next read held the slot when the apply asked), never after all the reads.
    for i in range(4):
        assert order.index(f"apply-m{i}") < order.index(f"info-m{i + 2}"), order
