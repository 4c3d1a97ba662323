"""Durations as rules write them: ``90s``, ``15m``, ``2h``, ``7d``, ``1w``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

DURATION_PATTERN = r"^\s*(\d+\s*[smhdw]\s*)+$"
_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Longer than any retention a message-finder search can reach; larger values
# are surely typos (``700d`` for ``70d``) and would make timedelta overflow.
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``1h30m``.

    Given the text; returns a positive :class:`~datetime.timedelta`.

    Raises:
        ValueError: the text is not a duration, is zero, or exceeds ten years;
        the message says which.
    """
    if not isinstance(text, str) or not re.match(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration (write e.g. 90s, 15m, 2h, 7d or 1h30m)")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
    if seconds == 0:
        raise ValueError(f"duration {text!r} is zero")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {text!r} is longer than ten years")
    return timedelta(seconds=seconds)
