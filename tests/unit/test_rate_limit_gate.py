"""A short 429 does not shut the rate-limit gate for long (virtual clock)."""

from __future__ import annotations

import asyncio

import pytest

from tagger.mimecast.ratelimit import RateLimitGate, RateLimitInfo


def test_a_short_429_does_not_shut_the_gate_for_long() -> None:
    """A 429 whose reset is 0.3 s, then a concurrent request's answer with 250 calls left."""
    clock = [100.0]

    async def no_sleep(seconds: float) -> None:
        clock[0] += seconds

    gate = RateLimitGate(lambda: clock[0], no_sleep)

    async def scenario() -> int:
        first = await gate.acquire(deadline=1e9)
        assert gate.claim(first)
        # A bucket of 300, one request back every 60 s.
        gate.settle(first, RateLimitInfo(limit=300, remaining=299, reset_s=60.0), False)
        a, b = await gate.acquire(deadline=1e9), await gate.acquire(deadline=1e9)
        assert gate.claim(a) and gate.claim(b)
        gate.settle(a, RateLimitInfo(limit=300, remaining=0, reset_s=0.3), True)
        gate.settle(b, RateLimitInfo(limit=300, remaining=250, reset_s=60.0), False)
        assert gate.delay() == pytest.approx(0.3)
        clock[0] += 0.3
        sent = 0
        while gate.delay() == 0.0 and sent < 1000:
            ticket = await gate.acquire(deadline=1e9)
            assert gate.claim(ticket)
            sent += 1
        return sent

    # The bucket's own credit is honoured at once, then calls wait for the refill.
    assert asyncio.run(scenario()) == 250
    assert gate.delay() > 0


def test_the_gate_says_when_its_refill_was_read_exactly() -> None:
    """Exact only from a full bucket's first dip: a partial Reset or a 429 is a bound."""
    clock = [100.0]

    async def no_sleep(seconds: float) -> None:
        clock[0] += seconds

    async def answer(gate: RateLimitGate, info: RateLimitInfo, throttled: bool = False) -> None:
        ticket = await gate.acquire(deadline=1e9)
        assert gate.claim(ticket)
        gate.settle(ticket, info, throttled)

    async def scenario() -> list[bool]:
        seen = []
        partial = RateLimitGate(lambda: clock[0], no_sleep)
        # Another client spent some: 5 of 10 left, the next back in 0.05 s (part of 0.2 s).
        await answer(partial, RateLimitInfo(limit=10, remaining=5, reset_s=0.05))
        seen.append(partial.exact)
        full = RateLimitGate(lambda: clock[0], no_sleep)
        await answer(full, RateLimitInfo(limit=10, remaining=9, reset_s=0.2))
        seen.append(full.exact)
        clock[0] += 0.1
        await answer(full, RateLimitInfo(limit=10, remaining=8, reset_s=0.1))  # a part: stays
        seen.append(full.exact)
        clock[0] += 1.0
        await answer(full, RateLimitInfo(), throttled=True)  # a bare 429: learned from refusals
        seen.append(full.exact)
        return seen

    assert asyncio.run(scenario()) == [False, True, True, False]
