"""Durations as users write them: ``30s``, ``5m``, ``2h``, ``7d``, ``1h30m`` or whole seconds."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["DurationError", "format_duration", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"\s*([0-9]+)\s*([smhdw])\s*")
_SECONDS = re.compile(r"\s*([0-9]+)\s*")


class DurationError(ValueError):
    """Raised for text that is not a duration; the message quotes the text."""


def parse_duration(text: str | int) -> timedelta:
    """Parse a duration.

    Given a string of one or more ``<number><unit>`` parts (units s, m, h, d,
    w), a string of digits, or a non-negative integer of seconds. Returns the
    ``timedelta``. Raises :class:`DurationError` for anything else, including
    negative numbers and durations too long to represent.
    """
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise DurationError(f"expected a duration such as 30s or 5m, got {type(text).__name__}")
    try:
        if isinstance(text, int):
            if text < 0:
                raise DurationError(f"a duration cannot be negative, got {text}")
            return timedelta(seconds=text)
        plain = _SECONDS.fullmatch(text)
        if plain:
            return timedelta(seconds=int(plain.group(1)))
        seconds = 0
        position = 0
        for match in _PART.finditer(text):
            if match.start() != position:
                break
            seconds += int(match.group(1)) * _UNITS[match.group(2)]
            position = match.end()
        if position != len(text) or not text.strip():
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise DurationError(
                f"'{shown}' is not a duration: use a number and a unit (s, m, h, d, w),"
                " e.g. 30s, 5m, 2h, 7d or 1h30m"
            )
        return timedelta(seconds=seconds)
    except OverflowError:
        raise DurationError("duration is too long") from None


def format_duration(value: timedelta) -> str:
    """Return a compact form of ``value`` such as ``1h30m`` (``0s`` for zero)."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
