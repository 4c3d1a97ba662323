"""``tagger backfill --since --until``: tag past mail, resumably, slice by slice."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tagger import exitcodes
from tagger.cli.context import add_dry_run, load, with_audit
from tagger.cli.once import finish
from tagger.cli.preview import add_rule_option, check_preview, preview_runtime
from tagger.cli.progress import Progress
from tagger.cli.timeargs import parse_when
from tagger.config import Config
from tagger.config.durations import parse_duration
from tagger.engine.ledger import Ledger
from tagger.engine.options import cycle_options
from tagger.engine.reportmerge import merge_reports
from tagger.engine.tally import CycleReport
from tagger.engine.window import Window
from tagger.errors import UserError
from tagger.mimecast.retention import warn_backfill_since
from tagger.service.runtime import utc_now
from tagger.service.session import Session, Stopped, dry_run_of, open_session


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
    job = open_job_key(args.since, args.rule) if not args.until else None
    try:
        reports = merge_reports(
            asyncio.run(backfill(config, since, until, step, dry_run, args.rule, job))
        )
    except Stopped:
        print("backfill interrupted: run the same command again to resume", file=sys.stderr)
        return exitcodes.INCOMPLETE
    if not finish(reports, config.audit_path, config.audit_rotation):
        return exitcodes.FAILURE
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
    open_job: str | None = None,
) -> list[CycleReport]:
    """Search ``[since, until)`` slice by slice; returns the report of every slice run.

    The cursor of the job (per account) is saved in state after each slice
    that completed without errors, so an interrupted backfill resumes from
    where it stopped. A job is keyed by its period, or, given ``open_job``
    (no ``--until``: its end is "now"), by that key: the period fixed at its
    first start is kept with its cursor and an unfinished job resumes it.
    A resumed job, or one after a cut-off run, reads message info before every
    apply (tags already present are skipped: nothing is applied twice).
    Watermarks of the daemon are not touched. SIGTERM/SIGINT stop it after
    the applies in flight are recorded. ``rules`` (a dry run only) previews
    those rules alone.
    """
    job = open_job or f"backfill:{since.isoformat()}:{until.isoformat()}"
    async with open_session(config, dry_run=dry_run) as session:
        if rules:
            preview_runtime(session.runtime, rules)
        names = [a.name for a in session.runtime.accounts]
        ledgers = {
            a.name: Ledger(session.state, a.name, session.runtime.ruleset_of(a))
            for a in session.runtime.accounts
        }
        start, until, verify = _resume_point(ledgers, job, since, until, open_job is not None)
        out, stopped = await _run_slices(
            session, config, ledgers, job, _slices(start, until, step), verify
        )
        if stopped and not any(r.interrupted for r in out):
            # Stopped between slices: say so, so the caller reports it.
            for name in names:
                out.append(CycleReport(name, dry_run, utc_now(), utc_now(), interrupted=True))
    return out


def _resume_point(
    ledgers: Mapping[str, Ledger], job: str, since: datetime, until: datetime, is_open: bool
) -> tuple[datetime, datetime, frozenset[str]]:
    """Return where job ``job`` starts, where it ends and the accounts to verify before applying.

    Given the ledger of every account and the period asked for (``is_open``:
    no ``--until``, the saved period of an unfinished job wins). The start is
    the earliest saved cursor (``since`` when none); accounts resuming the
    job, or after a cut-off run, read message info before each apply. Prints
    a line when the job resumes or has nothing left to do.
    """
    resumed = _unfinished(ledgers, job, since, until, is_open)
    if is_open:
        since, until = _open_span(ledgers, job, since, until, resumed)
    verify = frozenset(n for n, ledger in ledgers.items() if n in resumed or ledger.cut_off())
    cursors = [ledger.backfill_cursor(job) or since for ledger in ledgers.values()]
    start = min(cursors) if cursors else until
    if start >= until:
        print("backfill of this period already complete (saved progress): nothing to do")
    elif start > since:
        print(f"resuming backfill from {start:%Y-%m-%dT%H:%M:%S}Z (saved progress)")
    return start, until, verify


async def _run_slices(
    session: Session,
    config: Config,
    ledgers: Mapping[str, Ledger],
    job: str,
    slices: Sequence[Window],
    verify: frozenset[str],
) -> tuple[list[CycleReport], bool]:
    """Run one backfill cycle per slice in ``slices``, saving each account's cursor as it goes.

    Returns the report of every slice run and whether the session's stop
    signal ended the run between slices (before all of them ran).
    """
    out: list[CycleReport] = []
    bar = Progress(len(slices), "slice")
    incomplete: set[str] = set()
    stopped = False
    for window in slices:
        if session.stop.is_set():
            stopped = True
            break
        options = cycle_options(config, window=window)
        reports = await session.cycle(options, kind="backfill", verify=verify)
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
    return out, stopped


def _slices(start: datetime, end: datetime, step: timedelta) -> list[Window]:
    """Cut ``[start, end)`` into consecutive windows of at most ``step``."""
    out = []
    cursor = start.astimezone(UTC)
    while cursor < end:
        nxt = min(cursor + step, end)
        out.append(Window(cursor, nxt))
        cursor = nxt
    return out


def open_job_key(since_text: str, rules: Sequence[str] | None) -> str:
    """Return the key of a backfill without ``--until``: its ``--since`` text and rule filter.

    Stable across restarts (unlike "now"), so the same command resumes the job.
    """
    key = f"backfill:since={since_text.strip()}:until=open"
    return f"{key}:rules={','.join(sorted(rules))}" if rules else key


def _unfinished(
    ledgers: Mapping[str, Ledger], job: str, since: datetime, until: datetime, is_open: bool
) -> set[str]:
    """Return the accounts whose job ``job`` was started and not finished."""
    out = set()
    for name, ledger in ledgers.items():
        span = ledger.backfill_span(job) if is_open else (since, until)
        cursor = ledger.backfill_cursor(job)
        if span is None or cursor is None:
            continue
        if (is_open and cursor < span[1]) or (not is_open and since < cursor < until):
            out.add(name)
    return out


def _open_span(
    ledgers: Mapping[str, Ledger],
    job: str,
    since: datetime,
    until: datetime,
    resumed: set[str],
) -> tuple[datetime, datetime]:
    """Return the period of open job ``job``: the saved one when unfinished, else a new one.

    A new period (first start, or the last one completed) is saved for every
    account before any slice runs, with the cursor at its start.
    """
    for name in sorted(resumed):
        span = ledgers[name].backfill_span(job)
        if span is not None:
            print(f"resuming backfill {span[0]:%Y-%m-%dT%H:%M:%S}Z .. {span[1]:%Y-%m-%dT%H:%M:%S}Z")
            return span
    at = utc_now()
    for ledger in ledgers.values():
        ledger.start_backfill(job, since, until, at)
    return since, until
