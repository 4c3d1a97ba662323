"""The simulator's rate-limit buckets: leaky refill and window reset, on a virtual clock."""

from __future__ import annotations

import pytest

from tagger.simulator.ratelimit import RateLimiter


def test_one_request_returns_per_refill_interval_not_the_whole_bucket() -> None:
    now = [0.0]
    limiter = RateLimiter(lambda _: (4, 2.0), clock=lambda: now[0])  # one back every 0.5 s
    first = [limiter.take("search") for _ in range(5)]
    assert [d.allowed for d in first] == [True] * 4 + [False]
    assert [d.remaining for d in first] == [3, 2, 1, 0, 0]
    assert first[0].reset_ms == 500  # a full bucket dipped into: one whole interval
    assert first[4].reset_ms == 500  # empty: the next one returns in 0.5 s
    now[0] = 0.3
    refused = limiter.take("search")
    assert not refused.allowed and refused.reset_ms == 200
    now[0] = 0.5
    got = [limiter.take("search") for _ in range(2)]
    assert [d.allowed for d in got] == [True, False]  # one back, not four
    assert got[0].remaining == 0 and got[0].reset_ms == 500
    now[0] = 10.0  # a long pause fills the bucket, never beyond its size
    assert [limiter.take("search").allowed for _ in range(5)] == [True] * 4 + [False]


def test_window_mode_returns_the_whole_quota_at_the_reset() -> None:
    now = [0.0]
    limiter = RateLimiter(lambda _: (2, 1.0), clock=lambda: now[0], mode="window")
    assert [limiter.take("info").allowed for _ in range(3)] == [True, True, False]
    now[0] = 1.0
    assert [limiter.take("info").allowed for _ in range(3)] == [True, True, False]
    with pytest.raises(ValueError):
        RateLimiter(lambda _: (2, 1.0), mode="sliding")
