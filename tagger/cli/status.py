"""``tagger status``: what the daemon did, for people (text), programs (``--json``) and monitoring.

Reads the state file read-only (safe while the daemon runs), the daemon's note
beside it and whether the lock is held. ``--check`` prints one Nagios-style
line and exits 0 (OK), 1 (WARNING), 2 (CRITICAL) or 3 (UNKNOWN: the state
cannot be read); see :mod:`tagger.monitor.checks` for what is judged.

The text is :mod:`tagger.cli.statustext`'s, the JSON
:mod:`tagger.cli.statusjson`'s and the ``--check`` line
:mod:`tagger.cli.statuscheck`'s.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from tagger import exitcodes
from tagger.cli.context import load
from tagger.cli.statuscheck import handle_check, thresholds
from tagger.cli.statusjson import as_json, quota_json
from tagger.cli.statustext import criteria_text, quota_lines, rule_set_lines, text_lines
from tagger.monitor.checks import findings
from tagger.monitor.snapshot import take_snapshot

__all__ = ["as_json", "handle", "quota_json", "quota_lines", "register", "text_lines"]

# A watermark's query criteria for people (the name the text rendering had here).
_criteria = criteria_text


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``status`` sub-command."""
    parser = sub.add_parser(
        "status", parents=[parent], help="show what the daemon did (reads the state file)"
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the status as JSON")
    out.add_argument(
        "--check",
        action="store_true",
        help="monitoring: one line, exit 0 ok, 1 warning, 2 critical, 3 unknown",
    )
    parser.add_argument(
        "--history", type=int, default=10, metavar="N", help="recent cycles shown (default 10)"
    )
    parser.add_argument(
        "--warn-intervals",
        type=float,
        default=3.0,
        metavar="N",
        help="warn when the last completed cycle or a watermark is N intervals old (default 3)",
    )
    parser.add_argument(
        "--crit-intervals",
        type=float,
        default=6.0,
        metavar="N",
        help="critical at N intervals (default 6)",
    )
    expect = parser.add_mutually_exclusive_group()
    expect.add_argument(
        "--daemon",
        dest="expect_daemon",
        action="store_const",
        const=True,
        help="a daemon must hold the lock (default: monitor.expect_daemon, auto: once a"
        " daemon has run and did not stop cleanly)",
    )
    expect.add_argument(
        "--no-daemon",
        dest="expect_daemon",
        action="store_const",
        const=False,
        help="no daemon is expected (cycles run by `tagger once` from a timer)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the status; 0 (or, with ``--check``, the Nagios code of the verdict).

    Under ``--check`` anything that keeps the status from being read (the
    config, the state file damaged or unreadable) is UNKNOWN (3) with the
    reason on the one line, as monitoring systems expect; otherwise it
    reaches :func:`tagger.cli.main.main` (exit 1, or 2 for the config).
    """
    if args.check:
        return handle_check(args)
    config = load(args)
    limits = thresholds(args, config)
    snap = take_snapshot(config, datetime.now(UTC), max(0, args.history))
    found = findings(snap, limits)
    if args.json:
        print(json.dumps(as_json(snap, found), indent=2))
        return exitcodes.OK
    if not snap.state_exists:
        where = f"state database {snap.database}" if snap.database else config.state_path
        print(f"no state yet at {where}: the daemon has not run")
        for line in rule_set_lines(snap):
            print(line)
        return exitcodes.OK
    for line in text_lines(snap, found):
        print(line)
    return exitcodes.OK
