"""Durations as users write them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagger.config.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(days=7)),
        ("1h30m", timedelta(minutes=90)),
        (" 1h 30m ", timedelta(minutes=90)),
        ("90", timedelta(seconds=90)),
        (300, timedelta(minutes=5)),
        (0, timedelta(0)),
    ],
)
def test_valid_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5x", "m5", "-1m", "1.5h", "5 minutes", "h", "1h30"])
def test_invalid_durations_quote_the_text(text: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert f"'{text}'" in str(info.value)


def test_non_durations_and_overflow() -> None:
    for bad in (-1, True, 1.5, None):
        with pytest.raises(DurationError):
            parse_duration(bad)  # type: ignore[arg-type]
    with pytest.raises(DurationError, match="too long"):
        parse_duration("9" * 30 + "d")


@given(st.integers(min_value=0, max_value=10**9))
def test_format_then_parse_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value
