"""The daemon's record of each cycle: its log lines, its audit entries, its status line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import structlog

from tagger.audit.writer import audit_file, write_entries, write_failure
from tagger.config.model import AuditRotation
from tagger.engine.tally import CycleReport

# The daemon's logger: cycle events read as the service's own.
log = structlog.get_logger("tagger.service")


def log_reports(reports: Sequence[CycleReport]) -> None:
    """Log a ``cycle_summary`` line per account and a ``rule_summary`` line per rule."""
    for report in reports:
        log.info("cycle_summary", **report.summary_fields())
        for fields in report.rule_fields():
            log.info("rule_summary", **fields)


def log_finished(
    cycle: int, started: datetime, duration: float, reports: Sequence[CycleReport]
) -> None:
    """Log ``cycle_finished``: cycle ``cycle``'s totals over every account's report."""
    log.info(
        "cycle_finished",
        cycle=cycle,
        started=started.isoformat(),
        duration_s=round(duration, 3),
        searches=sum(r.search_calls for r in reports),
        scanned=sum(r.scanned for r in reports),
        planned=sum(r.planned for r in reports),
        applied=sum(r.applied for r in reports),
        failed=sum(r.failed for r in reports),
        window_splits=sum(r.window_splits for r in reports),
        queries_skipped=max((r.queries_skipped for r in reports), default=0),
        interrupted=any(r.interrupted for r in reports),
        errors=sum(len(r.errors) for r in reports),
    )


def status_line(
    cycle: int, started: datetime, reports: Sequence[CycleReport], dry_run: bool
) -> str:
    """Return the systemd status of cycle ``cycle``: when it ran and what it did."""
    scanned = sum(r.scanned for r in reports)
    failed = sum(r.failed for r in reports)
    if dry_run:
        verb = f"{sum(r.planned for r in reports)} planned (dry run)"
    else:
        verb = f"{sum(r.applied for r in reports)} applied"
    return f"cycle {cycle} at {started:%H:%M:%S}Z: {scanned} scanned, {verb}, {failed} failed"


def write_audit(path: Path, reports: Sequence[CycleReport], rotation: AuditRotation) -> None:
    """Append the cycle's audit entries to ``path``; a failure is logged, not raised.

    The tags are already applied and recorded, so the daemon goes on; the
    error names the file and the fix so the operator can restore the trail.
    """
    try:
        write_entries(path, reports, rotation)
    except OSError as exc:
        target = audit_file(path, any(r.dry_run for r in reports))
        log.error("audit_write_failed", path=str(target), error=write_failure(target, exc))
