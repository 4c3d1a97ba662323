"""``tagger run``: the daemon (scheduled cycles until SIGTERM/SIGINT)."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from tagger.cli.context import add_dry_run, config_path, load
from tagger.service.daemon import Daemon, DaemonOptions
from tagger.service.notify import Notifier
from tagger.state import StateStore


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
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the daemon; returns 0 after a clean stop."""
    config = load(args)
    options = DaemonOptions(
        config_path(args), dry_run=bool(args.dry_run), max_cycles=args.max_cycles
    )
    if args.audit:
        config = replace(config, audit_path=Path(args.audit))
    store = StateStore.open(config.state_path)
    try:
        daemon = Daemon(config, store, options, Notifier.from_env())
        return asyncio.run(daemon.serve())
    finally:
        store.close()
