"""Durations in rules (``lookback``, ``schedule``): the config's syntax, but positive and sane."""

from __future__ import annotations

from datetime import timedelta

from tagger.config.durations import parse_duration as _parse

# Longer than any retention a message-finder search can reach; larger values
# are surely typos (``700d`` for ``70d``).
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """Parse a rule duration such as ``1h30m`` with the one duration parser of tagger.

    Given the text; returns a positive :class:`~datetime.timedelta`.

    Raises:
        ValueError: the text is not a duration, is zero, or exceeds ten years;
        the message says which.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration (write e.g. 90s, 15m, 2h, 7d or 1h30m)")
    value = _parse(text)
    if not value:
        raise ValueError(f"duration {text!r} is zero")
    if value > MAX_DURATION:
        raise ValueError(f"duration {text!r} is longer than ten years")
    return value
