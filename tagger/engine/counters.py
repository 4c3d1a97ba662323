"""The counters of a cycle's report, and those the run history keeps (pure)."""

from __future__ import annotations

from tagger.engine.figures import CycleFigures

__all__ = ["COUNTERS", "run_counts"]


# Every counter of a report: its field, and its name in the run history (None: not kept).
COUNTERS: tuple[tuple[str, str | None], ...] = (
    ("search_calls", "search_calls"),
    ("window_splits", "window_splits"),
    ("queries_skipped", None),
    ("messages_found", "found"),
    ("already_processed", None),
    ("set_aside_skipped", None),
    ("scanned", "scanned"),
    ("info_calls", "info_calls"),
    ("matched", "matched"),
    ("planned", "planned"),
    ("applied", "applied"),
    ("failed", "failed"),
    ("held_back", None),
    ("saturated", "saturated_windows"),
    ("search_failures", None),
    ("search_refused", None),
    ("quota_deferred", "quota_deferred"),
    ("searches_deferred", "searches_deferred"),
)


def run_counts(report: CycleFigures) -> dict[str, int]:
    """Return the counts of a report that the run history keeps (``tagger status`` shows them)."""
    counts = {kept: int(getattr(report, name)) for name, kept in COUNTERS if kept is not None}
    counts["set_aside"] = len(report.set_aside)
    if report.oldest_deferred is not None:
        # The backlog's age: ``tagger status`` and the metrics read it.
        counts["oldest_deferred"] = int(report.oldest_deferred.timestamp())
    return counts
