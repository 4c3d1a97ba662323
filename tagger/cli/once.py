"""``tagger once``: run one cycle over every account, then exit."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tagger.cli.context import add_dry_run, load
from tagger.cli.preview import add_rule_option, check_preview, preview_ruleset
from tagger.config import Config
from tagger.config.model import AuditRotation
from tagger.engine.audit import audit_file, print_summary, write_entries
from tagger.engine.report import CycleReport
from tagger.exitcodes import cycle_exit_code
from tagger.service.daemon import utc_now
from tagger.service.runtime import (
    cycle_options,
    open_runtime,
    open_state,
    run_cycle,
    stop_on_signals,
)


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``once`` sub-command."""
    parser = sub.add_parser("once", parents=[parent], help="run one cycle now and exit")
    add_dry_run(parser)
    add_rule_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run one cycle; returns the exit code of :func:`tagger.exitcodes.cycle_exit_code`.

    0 when every account completed, 3 when work was left for the next run
    (failed messages, held-back or too-full windows, a stop request), 1 when
    an account's cycle could not run or a message was set aside.
    """
    config = load(args)
    dry_run = bool(args.dry_run or config.dry_run)
    check_preview(args.rule, dry_run)
    reports = asyncio.run(run_once(config, dry_run, args.rule))
    audit = Path(args.audit) if args.audit else config.audit_path
    finish(reports, audit, config.audit_rotation)
    if any(r.interrupted for r in reports):
        print("stopped before the cycle completed; the next run continues", file=sys.stderr)
    return cycle_exit_code(reports)


async def run_once(
    config: Config, dry_run: bool, rules: Sequence[str] | None = None
) -> list[CycleReport]:
    """Run one cycle against live state, or a throw-away overlay of it in a dry run.

    SIGTERM/SIGINT stop the cycle after the applies in flight are recorded.
    """
    stop = asyncio.Event()
    stop_on_signals(stop)
    with open_state(config.state_path, dry_run=dry_run) as state:
        runtime = await open_runtime(config)
        if rules:
            runtime.ruleset = preview_ruleset(runtime.ruleset, rules)
        try:
            options = cycle_options(config, dry_run=dry_run)
            return await run_cycle(runtime, state, options, utc_now, stop, kind="once")
        finally:
            await runtime.close()


def finish(
    reports: list[CycleReport], audit: Path | None, rotation: AuditRotation | None = None
) -> None:
    """Print the per-rule summary and write the audit report when asked.

    Dry-run entries go to the audit file's ``.dry-run`` sibling, never to the
    live file; ``rotation`` says when the file rotates.
    """
    print_summary(reports, sys.stdout)
    for report in reports:
        for error in report.errors:
            print(f"account {report.account}: error: {error}", file=sys.stderr)
    if audit is not None:
        count = write_entries(audit, reports, rotation)
        target = audit_file(audit, any(r.dry_run for r in reports))
        print(f"audit report: {count} entries appended to {target}")
