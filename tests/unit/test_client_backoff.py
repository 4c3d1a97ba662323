"""The shared doubling-backoff formula, and that each caller keeps its own numbers."""

from __future__ import annotations

import math
from datetime import timedelta

from tagger.mimecast.backoff import MAX_DOUBLINGS, doubling_delay
from tagger.mimecast.retry import backoff_delay
from tagger.mimecast.settings import RetryPolicy
from tagger.service.backoff import next_delay


def test_doubles_from_the_base_up_to_the_cap() -> None:
    assert [doubling_delay(0.5, n, 3.0) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert doubling_delay(1.0, -3) == 1.0  # a negative count is no doubling
    assert doubling_delay(2.0, 3) == 16.0  # no cap by default


def test_jitter_scales_the_capped_delay() -> None:
    assert doubling_delay(1.0, 10, 8.0, 0.25) == 2.0
    assert doubling_delay(1.0, 10, 8.0, 0.0) == 0.0


def test_never_overflows() -> None:
    assert doubling_delay(1.0, 10**9, 60.0) == 60.0
    assert doubling_delay(1.0, 10**9) == 2.0**MAX_DOUBLINGS
    assert math.isinf(doubling_delay(4.0, 10**9))


def test_callers_keep_their_numbers() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=3.0)
    assert [backoff_delay(policy, n, lambda: 1.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    base = timedelta(seconds=30)
    assert [next_delay(n, base) for n in (1, 2, 3)] == [base, base * 2, base * 4]
    assert next_delay(10**6, base) == timedelta(minutes=10)
