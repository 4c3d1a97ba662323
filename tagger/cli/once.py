"""``tagger once``: run one cycle over every account, then exit."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.audit.writer import audit_file, write_entries, write_failure
from tagger.cli.context import add_dry_run, load, with_audit
from tagger.cli.preview import (
    add_rule_option,
    add_show_option,
    check_preview,
    preview_runtime,
    shown_matches,
)
from tagger.config import Config
from tagger.config.model import AuditRotation
from tagger.engine.options import cycle_options
from tagger.engine.tally import CycleReport
from tagger.service.session import Stopped, dry_run_of, open_session
from tagger.words import plural


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``once`` sub-command."""
    parser = sub.add_parser("once", parents=[parent], help="run one cycle now and exit")
    add_dry_run(parser)
    add_rule_option(parser)
    add_show_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run one cycle; returns the exit code of :func:`tagger.exitcodes.cycle_exit_code`.

    0 when every account completed (a rail holding tags back is no part of
    that: a dry run of rules awaiting promotion completes), 3 when work was
    left for the next run (failed messages, held-back or too-full windows, a
    stop request), 1 when an account's cycle could not run or a message was
    set aside. ``--show N`` lists up to N matches per rule after the summary.
    """
    config = with_audit(load(args), args)
    dry_run = dry_run_of(config, args.dry_run)
    check_preview(args.rule, dry_run)
    try:
        reports = asyncio.run(run_once(config, dry_run, args.rule, args.show))
    except Stopped:
        print("stopped before the cycle started; the next run does it", file=sys.stderr)
        return exitcodes.INCOMPLETE
    if not finish(reports, config.audit_path, config.audit_rotation, args.show):
        return exitcodes.FAILURE
    if any(r.interrupted for r in reports):
        print("stopped before the cycle completed; the next run continues", file=sys.stderr)
    return exitcodes.cycle_exit_code(reports)


async def run_once(
    config: Config, dry_run: bool, rules: Sequence[str] | None = None, show: int = 0
) -> list[CycleReport]:
    """Run one cycle against live state, or a throw-away copy of it in a dry run.

    ``show`` > 0 keeps every match's entry (to list them) even without an audit file.

    SIGTERM/SIGINT stop the cycle after the applies in flight are recorded;
    raises :class:`Stopped` when they come before the accounts are connected.
    """
    async with open_session(config, dry_run=dry_run) as session:
        if rules:
            preview_runtime(session.runtime, rules)
        options = cycle_options(config)
        if show > 0:
            options = replace(options, audit=True)
        return await session.cycle(options, kind="once")


def finish(
    reports: list[CycleReport],
    audit: Path | None,
    rotation: AuditRotation | None = None,
    show: int = 0,
) -> bool:
    """Print the per-rule summary and write the audit report when asked.

    Dry-run entries go to the audit file's ``.dry-run`` sibling, never to the
    live file; ``rotation`` says when the file rotates. Returns False (after
    printing which file and how to fix it) when the audit file cannot be
    written, True otherwise.
    """
    for report in reports:
        for line in report.summary_lines():
            print(line)
    for line in shown_matches(reports, show):
        print(line)
    sys.stdout.flush()
    for report in reports:
        for error in report.errors:
            print(f"account {report.account}: error: {error}", file=sys.stderr)
    if audit is not None:
        target = audit_file(audit, any(r.dry_run for r in reports))
        try:
            write_entries(audit, reports, rotation)
        except OSError as exc:
            print(f"error: {write_failure(target, exc)}", file=sys.stderr)
            return False
        # A live cycle wrote most of them as each chunk ended; the rest just now.
        count = sum(r.audited + len(r.entries) for r in reports)
        print(f"audit report: {plural(count, 'entry')} appended to {target}")
    return True
