"""How long Mimecast keeps message tracking data, and warnings for searches reaching past it.

Message-finder search only sees tracking data, which Mimecast keeps about 30
days (rejected and deferred mail about 7). A window older than that returns
nothing, silently: the searches succeed and find no mail. These helpers say so
before a look-back or a backfill asks for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import structlog

__all__ = [
    "REJECTED_RETENTION",
    "TRACKING_RETENTION",
    "beyond_tracking",
    "retention_note",
    "warn_backfill_since",
    "warn_long_lookbacks",
]

# How far back message-finder search can reach (documented as about 30 days).
TRACKING_RETENTION = timedelta(days=30)
# Rejected and deferred mail is kept for a shorter time (about 7 days).
REJECTED_RETENTION = timedelta(days=7)

log = structlog.get_logger("tagger.mimecast")


def beyond_tracking(span: timedelta) -> bool:
    """Return True when looking back ``span`` from now reaches past the tracking data."""
    return span > TRACKING_RETENTION


def retention_note(what: str, span: timedelta) -> str:
    """Return the warning for ``what`` (e.g. ``--since``) reaching ``span`` back (pure)."""
    days = span.total_seconds() / 86400
    keep = TRACKING_RETENTION.days
    return (
        f"{what} reaches {days:.0f} days back, but Mimecast keeps message tracking data"
        f" only about {keep} days (rejected and deferred mail about"
        f" {REJECTED_RETENTION.days}): the part older than {keep} days will return nothing"
    )


def warn_long_lookbacks(
    initial_lookback: timedelta, rule_lookbacks: Iterable[tuple[str, timedelta]]
) -> list[str]:
    """Log a warning for each look-back reaching past the tracking data; return the notes.

    Given the configured first-start look-back and ``(rule id, lookback)``
    pairs; returns the warning texts (empty when every look-back fits).
    """
    notes = []
    if beyond_tracking(initial_lookback):
        note = retention_note("window.initial_lookback", initial_lookback)
        log.warning("lookback_beyond_tracking_data", setting="window.initial_lookback", note=note)
        notes.append(note)
    for rule_id, span in rule_lookbacks:
        if beyond_tracking(span):
            note = retention_note(f"rule {rule_id!r} lookback", span)
            log.warning("lookback_beyond_tracking_data", rule=rule_id, note=note)
            notes.append(note)
    return notes


def warn_backfill_since(reach: timedelta) -> str | None:
    """Log a warning when a backfill starting ``reach`` ago passes the tracking data.

    Returns the warning text for the command to print, or None when it fits.
    """
    if not beyond_tracking(reach):
        return None
    note = retention_note("--since", reach)
    log.warning("backfill_beyond_tracking_data", days=round(reach / timedelta(days=1)), note=note)
    return note
