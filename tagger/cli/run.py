"""``tagger run``: the daemon (scheduled cycles until SIGTERM/SIGINT)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tagger.cli.context import add_dry_run, config_path, load, with_audit
from tagger.service.daemon import DaemonOptions, serve
from tagger.service.notify import Notifier


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``run`` sub-command."""
    parser = sub.add_parser("run", parents=[parent], help="run as a daemon (scheduled cycles)")
    add_dry_run(parser)
    parser.add_argument(
        "--max-cycles",
        type=int,
        metavar="N",
        help="stop after N cycles (for trials; the service runs until stopped)",
    )
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=DaemonOptions.stop_timeout_s,
        metavar="SECONDS",
        help="on SIGTERM, wait this long for the cycle in flight (default "
        f"{DaemonOptions.stop_timeout_s:g}; keep it below the service's TimeoutStopSec)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the daemon; returns 0 after a clean stop.

    A live daemon holds the state file's single-writer lock (a second one
    refuses to start, naming the file and the holder's pid); a dry-run daemon
    reads the state without the lock and never writes it.
    """
    config = load(args)
    options = DaemonOptions(
        config_path(args),
        dry_run=bool(args.dry_run),
        max_cycles=args.max_cycles,
        stop_timeout_s=max(0.0, args.stop_timeout),
    )
    config = with_audit(config, args)
    return asyncio.run(serve(config, options, Notifier.from_env()))
