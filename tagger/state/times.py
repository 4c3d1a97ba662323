"""Conversion between aware datetimes and the integers stored in SQLite.

Every time is stored as integer microseconds since the Unix epoch (UTC): exact
round-trips, cheap indexed comparisons, and no time-zone text to parse.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    """Return ``value`` as microseconds since the epoch.

    Raises ValueError for a naive datetime: guessing its zone would silently
    shift watermarks by hours.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given to the state store")
    return (value - _EPOCH) // _ONE_US


def from_us(value: int) -> datetime:
    """Return the aware UTC datetime for ``value`` microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=value)


def opt_from_us(value: int | None) -> datetime | None:
    """Like :func:`from_us` but passes ``None`` through."""
    return None if value is None else from_us(value)
