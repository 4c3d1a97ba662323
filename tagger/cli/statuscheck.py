"""``tagger status --check``: the monitoring verdict, one Nagios-style line and its exit code.

Exits 0 (OK), 1 (WARNING), 2 (CRITICAL) or 3 (UNKNOWN: the config or the
state cannot be read, the reason on the one line). What is judged, and how
severely, is :mod:`tagger.monitor.checks`'s; this module reads the
thresholds from the options and the config, and prints the outcome.
"""

from __future__ import annotations

import argparse
import sqlite3
from datetime import UTC, datetime

from tagger import exitcodes
from tagger.cli.context import load
from tagger.config import Config
from tagger.errors import UserError
from tagger.monitor.checks import LEVELS, Finding, Thresholds, findings, verdict
from tagger.monitor.snapshot import take_snapshot
from tagger.state import StateError

__all__ = ["check_line", "handle_check", "thresholds"]


def handle_check(args: argparse.Namespace) -> int:
    """Print the verdict line and the other findings; return the verdict's Nagios code.

    Anything that keeps the status from being read (the config, the state
    file damaged or unreadable) is UNKNOWN (3) with the reason on the one
    line, as monitoring systems expect.
    """
    try:
        return _check(args)
    except (UserError, StateError, OSError, UnicodeError, sqlite3.Error) as exc:
        text = " ".join(str(exc).split())
        print(f"TAGGER UNKNOWN - {text}")
        return exitcodes.NAGIOS_UNKNOWN


def check_line(found: list[Finding]) -> str:
    """Return the one-line Nagios plugin output (``TAGGER WARNING - …``)."""
    code = verdict(found)
    text = "; ".join(f.text for f in found) or "cycles on time, nothing failing"
    return f"TAGGER {LEVELS[code]} - {text}"


def thresholds(args: argparse.Namespace, config: Config) -> Thresholds:
    """Return the judging thresholds: the options, ``--expect-daemon`` else the config's."""
    expect = args.expect_daemon
    if expect is None:
        expect = config.monitor.expect_daemon
    return Thresholds(args.warn_intervals, args.crit_intervals, expect)


def _check(args: argparse.Namespace) -> int:
    """Print the one-line verdict and the other findings; return its Nagios code."""
    config = load(args)
    limits = thresholds(args, config)
    found = findings(take_snapshot(config, datetime.now(UTC), max(0, args.history)), limits)
    print(check_line(found))
    for finding in found[1:]:
        print(f"{finding.label}: {finding.text}")
    return verdict(found)
