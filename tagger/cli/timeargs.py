"""Time arguments (``--since``, ``--until``): durations before now, or ISO 8601 date-times.

``6h``, ``7d``, ``1h30m`` (as in the config) mean that long before now; any
ISO 8601 form Python reads is accepted too: ``2026-11-01``,
``2026-11-01T08:00``, ``2026-11-01T08:00:00Z``, ``2026-11-01 08:00+02:00``.
A date-time without a zone is taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tagger.config.durations import parse_duration
from tagger.errors import UserError


def parse_when(text: str, option: str, now: datetime) -> datetime:
    """Return the moment ``text`` names, relative to ``now`` for a duration (UTC, aware).

    Raises:
        UserError: ``text`` is neither a duration nor an ISO 8601 date-time
            (the message names ``option`` and shows both forms).
    """
    value = text.strip()
    try:
        return now - parse_duration(value)
    except (ValueError, TypeError):
        pass
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise UserError.single(
            f"{option}: {text!r} is neither a duration nor a date-time "
            "(use e.g. 6h, 7d, 2026-11-01 or 2026-11-01T08:00:00Z)",
            file="<command line>",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
