"""Gates shared by the accounts of one quota: turns in rotation, queues that end cleanly."""

from __future__ import annotations

import asyncio
import math

import pytest

from tagger.mimecast import sharedgate
from tagger.mimecast.ratelimit import OutOfTime, RateLimitGate, RateLimitInfo
from tagger.mimecast.sharedgate import GateRegistry, SharedGate
from tests.support.client import VirtualTime

INTERVAL = 0.2  # one call back every 200 ms
BUCKET = 10


class Bucket:
    """The service's leaky bucket: BUCKET calls, one back every INTERVAL (virtual time)."""

    def __init__(self, vt: VirtualTime) -> None:
        self.vt = vt
        self.level = float(BUCKET)
        self.at = vt.now
        self.refused = 0

    def answer(self) -> tuple[RateLimitInfo, bool]:
        """Take one call; returns its headers and whether it was refused."""
        now = self.vt.now
        self.level = min(BUCKET, self.level + (now - self.at) / INTERVAL)
        self.at = now
        refused = self.level < 1
        if refused:
            self.refused += 1
        else:
            self.level -= 1
        reset = (1 - (self.level % 1)) * INTERVAL
        return RateLimitInfo(limit=BUCKET, remaining=int(self.level), reset_s=reset), refused


def _group(vt: VirtualTime, registry: GateRegistry, key: str = "k") -> SharedGate:
    registry.join(key)
    registry.join(key)
    return registry.shared(key, "/p", vt.clock, lambda: RateLimitGate(vt.clock, vt.sleep))


async def _call(
    shared: SharedGate, bucket: Bucket, owner: str, sent: list[str], deadline: float
) -> bool:
    """One call as the exchange makes it: its place, a turn, sent and answered (429: again)."""
    try:
        hold = await shared.enter(owner, deadline)
    except OutOfTime:
        return False
    try:
        while True:
            try:
                ticket = await shared.gate.acquire(deadline)
            except OutOfTime:
                return False
            if not shared.gate.claim(ticket):
                continue
            hold.release()
            await asyncio.sleep(0)
            info, refused = bucket.answer()
            shared.gate.settle(ticket, info, refused)
            if not refused:
                sent.append(owner)
                return True
    finally:
        hold.release()


def _run_two(vt: VirtualTime, shared: SharedGate, calls: int, deadline: float) -> list[str]:
    """Queue ``calls`` calls of owner a, then as many of owner b; returns who was sent, in order."""
    sent: list[str] = []
    bucket = Bucket(vt)

    async def scenario() -> None:
        first = [_call(shared, bucket, "a", sent, deadline) for _ in range(calls)]
        second = [_call(shared, bucket, "b", sent, deadline) for _ in range(calls)]
        await asyncio.gather(*first, *second)

    asyncio.run(scenario())
    assert bucket.refused <= 2
    return sent


def test_two_accounts_queueing_at_once_take_turns() -> None:
    vt = VirtualTime()
    sent = _run_two(vt, _group(vt, GateRegistry()), 200, math.inf)
    assert sorted(sent) == ["a"] * 200 + ["b"] * 200
    # Every stretch of the sequence is shared: no run of one account's calls.
    for start in range(0, 400, 20):
        window = sent[start : start + 20]
        assert abs(window.count("a") - window.count("b")) <= 2, (start, window)


def test_first_come_first_served_would_starve_the_second_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the per-account bound the gate serves the first account's whole backlog first."""
    monkeypatch.setattr(sharedgate, "PER_ACCOUNT", 10**9)
    vt = VirtualTime()
    sent = _run_two(vt, _group(vt, GateRegistry()), 30, math.inf)
    assert sent[:30] == ["a"] * 30


def test_a_bounded_backlog_is_shared_and_the_rest_deferred() -> None:
    vt = VirtualTime()
    shared = _group(vt, GateRegistry())
    sent = _run_two(vt, shared, 200, vt.now + 20.0)
    # About 20 s of turns at 5/s (plus the bucket): half each, the rest deferred.
    assert 90 <= len(sent) <= 115
    assert abs(sent.count("a") - sent.count("b")) <= 2
    assert shared.queued("a") == shared.queued("b") == 0


def test_an_account_alone_in_its_group_goes_straight_to_the_gate() -> None:
    vt = VirtualTime()
    registry = GateRegistry()
    registry.join("solo")
    shared = registry.shared("solo", "/p", vt.clock, lambda: RateLimitGate(vt.clock, vt.sleep))

    async def scenario() -> None:
        holds = [await shared.enter("a", math.inf) for _ in range(5)]
        assert shared.queued("a") == 0
        for hold in holds:
            hold.release()

    asyncio.run(scenario())


def test_a_cancelled_queued_call_leaves_the_queue_and_the_turn_passes_on() -> None:
    vt = VirtualTime()
    shared = _group(vt, GateRegistry())

    async def scenario() -> None:
        held = await shared.enter("a", math.inf)
        waiting = [asyncio.ensure_future(shared.enter("a", math.inf)) for _ in range(2)]
        await asyncio.sleep(0)
        assert shared.queued("a") == 2
        waiting[0].cancel()
        await asyncio.sleep(0)
        assert shared.queued("a") == 1
        held.release()
        nxt = await waiting[1]
        nxt.release()
        # Nothing held, nothing queued: the next call enters at once.
        (await shared.enter("a", math.inf)).release()

    asyncio.run(scenario())


def test_each_group_and_endpoint_has_its_own_gate() -> None:
    vt = VirtualTime()
    registry = GateRegistry()
    registry.join("x")
    registry.join("y")

    def make() -> RateLimitGate:
        return RateLimitGate(vt.clock, vt.sleep)

    x = registry.shared("x", "/p", vt.clock, make)
    assert registry.shared("x", "/p", vt.clock, make) is x
    assert registry.shared("y", "/p", vt.clock, make) is not x
    assert registry.shared("x", "/q", vt.clock, make) is not x
    assert registry.members("x") == 1
