"""Slices of a cycle's span: sized from the last one's density, oldest first, whole when small."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tagger.engine import slices
from tagger.engine.slices import next_slice, span_of, within
from tagger.engine.window import Window

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_short_span_is_one_slice_and_a_long_one_starts_with_the_first_length() -> None:
    assert next_slice(T0, T0 + timedelta(minutes=15), None, None) == Window(
        T0, T0 + timedelta(minutes=15)
    )
    first = next_slice(T0, T0 + timedelta(days=1), None, None)
    assert first == Window(T0, T0 + slices.FIRST)


def test_the_next_slice_is_scaled_to_hold_about_hold_messages_within_bounds() -> None:
    hour = timedelta(hours=1)
    end = T0 + timedelta(days=30)
    # Twice the messages wanted: half as long.
    assert next_slice(T0, end, hour, 2 * slices.HOLD).end - T0 == hour / 2
    # A flood shrinks it by at most SHRINK, a trickle (or nothing) grows it by at most GROW.
    assert next_slice(T0, end, hour, 1_000_000).end - T0 == hour * slices.SHRINK
    assert next_slice(T0, end, hour, 0).end - T0 == hour * slices.GROW
    # Never shorter than SHORTEST.
    assert next_slice(T0, end, timedelta(0), 10**9).end - T0 == slices.SHORTEST


def test_a_short_tail_joins_the_slice_before_it() -> None:
    hour = timedelta(hours=1)
    tail = next_slice(T0, T0 + hour * 1.4, hour, slices.HOLD)
    assert tail == Window(T0, T0 + hour * 1.4)


def test_span_and_intersection() -> None:
    a = Window(T0, T0 + timedelta(hours=2))
    b = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=5))
    assert span_of([a, b, Window(T0, T0)]) == Window(T0, T0 + timedelta(hours=5))
    assert span_of([Window(T0, T0)]) is None
    assert within(a, b) == Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    assert within(a, Window(T0 + timedelta(hours=3), T0 + timedelta(hours=4))).empty
