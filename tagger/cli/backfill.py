"""``tagger backfill --since --until``: tag past mail, resumably, slice by slice."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tagger import exitcodes
from tagger.cli.context import add_dry_run, load, with_audit
from tagger.cli.once import finish
from tagger.cli.preview import add_rule_option, check_preview, preview_ruleset
from tagger.cli.progress import Progress
from tagger.cli.timeargs import parse_when
from tagger.config import Config
from tagger.config.durations import parse_duration
from tagger.engine.ledger import Ledger
from tagger.engine.report import CycleReport, merge_reports
from tagger.engine.window import Window
from tagger.errors import UserError
from tagger.mimecast.retention import warn_backfill_since
from tagger.service.runtime import cycle_options, utc_now
from tagger.service.session import Stopped, dry_run_of, open_session


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``backfill`` sub-command."""
    parser = sub.add_parser(
        "backfill",
        parents=[parent],
        help="tag mail received in a past period (resumable after interruption)",
    )
    parser.add_argument(
        "--since",
        required=True,
        help="start: a duration before now (6h, 7d) or an ISO 8601 date-time (2026-11-01)",
    )
    parser.add_argument(
        "--until", help="end, in the same forms (default: now minus the ingestion delay)"
    )
    parser.add_argument("--slice", default="1h", help="window per step (default 1h)")
    add_dry_run(parser)
    add_rule_option(parser)
    parser.set_defaults(handler=handle)


def _when(text: str, option: str) -> datetime:
    """Parse a --since/--until value (duration or date-time); raises UserError naming the option."""
    return parse_when(text, option, utc_now())


def handle(args: argparse.Namespace) -> int:
    """Run the backfill; returns the exit code of :func:`tagger.exitcodes.cycle_exit_code`.

    0 when every slice completed for every account, 3 when work was left for
    the next run (the same command resumes it), 1 when an account's cycle
    could not run or a message was set aside.

    Prints one merged summary per account. Interrupted (SIGTERM/SIGINT), it
    stops after the applies in flight are recorded; the same command resumes.
    """
    config = with_audit(load(args), args)
    since = _when(args.since, "--since")
    until = (
        _when(args.until, "--until") if args.until else utc_now() - config.window.ingestion_delay
    )
    if until <= since:
        raise UserError.single("--until must be after --since", file="<command line>")
    note = warn_backfill_since(utc_now() - since)
    if note is not None:
        print(f"warning: {note}", file=sys.stderr)
    step = parse_duration(args.slice)
    dry_run = dry_run_of(config, args.dry_run)
    check_preview(args.rule, dry_run)
    try:
        reports = merge_reports(
            asyncio.run(backfill(config, since, until, step, dry_run, args.rule))
        )
    except Stopped:
        print("backfill interrupted: run the same command again to resume", file=sys.stderr)
        return exitcodes.INCOMPLETE
    finish(reports, config.audit_path, config.audit_rotation)
    if any(r.interrupted for r in reports):
        print("backfill interrupted: run the same command again to resume", file=sys.stderr)
    return exitcodes.cycle_exit_code(reports)


async def backfill(
    config: Config,
    since: datetime,
    until: datetime,
    step: timedelta,
    dry_run: bool,
    rules: Sequence[str] | None = None,
) -> list[CycleReport]:
    """Search ``[since, until)`` slice by slice; returns the report of every slice run.

    The cursor of the job (per account, keyed by the period) is saved in state
    after each slice that completed without errors, so an interrupted backfill
    resumes from where it stopped. Watermarks of the daemon are not touched.
    SIGTERM/SIGINT stop it after the applies in flight are recorded. ``rules``
    (a dry run only) previews those rules alone.
    """
    job = f"backfill:{since.isoformat()}:{until.isoformat()}"
    out: list[CycleReport] = []
    async with open_session(config, dry_run=dry_run) as session:
        if rules:
            session.runtime.ruleset = preview_ruleset(session.runtime.ruleset, rules)
        stop = session.stop
        names = [a.name for a in session.runtime.accounts]
        ledgers = {n: Ledger(session.state, n, session.runtime.ruleset) for n in names}
        cursors = [ledgers[n].backfill_cursor(job) or since for n in names]
        start = min(cursors) if cursors else until
        if start >= until:
            print("backfill of this period already complete (saved progress): nothing to do")
        elif start > since:
            print(f"resuming backfill from {start:%Y-%m-%dT%H:%M:%S}Z (saved progress)")
        slices = _slices(start, until, step)
        bar = Progress(len(slices), "slice")
        incomplete: set[str] = set()
        stopped = False
        for window in slices:
            if stop.is_set():
                stopped = True
                break
            options = cycle_options(config, dry_run=dry_run, window=window)
            reports = await session.cycle(options, kind="backfill")
            out.extend(reports)
            for report in reports:
                # The cursor only moves over contiguous completed slices: a slice
                # left incomplete is where the next run must start again.
                if report.errors or report.undone():
                    incomplete.add(report.account)
                elif report.account not in incomplete:
                    ledgers[report.account].save_backfill_cursor(job, window.end, utc_now())
            bar.update(f"{window.end:%Y-%m-%d %H:%M}Z")
        bar.close()
        if stopped and not any(r.interrupted for r in out):
            # Stopped between slices: say so, so the caller reports it.
            for name in names:
                out.append(CycleReport(name, dry_run, utc_now(), utc_now(), interrupted=True))
    return out


def _slices(start: datetime, end: datetime, step: timedelta) -> list[Window]:
    """Cut ``[start, end)`` into consecutive windows of at most ``step``."""
    out = []
    cursor = start.astimezone(UTC)
    while cursor < end:
        nxt = min(cursor + step, end)
        out.append(Window(cursor, nxt))
        cursor = nxt
    return out
