"""Mimecast's date strings: parsed leniently from responses, formatted for message-finder."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tagger.mimecast.jsonvalues import as_str as _str

_DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S",
    "%a, %d %b %Y %H:%M:%S %Z",
)


def parse_time(value: Any) -> datetime | None:
    """Parse a Mimecast date string (``2011-12-03T10:15:30+0000`` and kin).

    Given any JSON value; returns an aware UTC datetime, or None when the value
    is missing or not a recognisable date.
    """
    text = _str(value)
    if not text:
        return None
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+0000"
    # Fast path (~70x cheaper than strptime; a search returns hundreds of
    # dates): every string the ISO formats below accept, fromisoformat reads alike.
    if len(text) >= 19 and text[10] == "T":
        try:
            fast = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return (fast if fast.tzinfo else fast.replace(tzinfo=UTC)).astimezone(UTC)
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """Format a datetime the way message-finder expects: ``yyyy-MM-dd'T'HH:mm:ssZ``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
