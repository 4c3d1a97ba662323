"""``tagger recover-state``: move a damaged state file aside; the next run verifies."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from tagger import exitcodes
from tagger.cli.context import load
from tagger.state.recovery import move_aside


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``recover-state`` sub-command."""
    parser = sub.add_parser(
        "recover-state",
        parents=[parent],
        help="move a damaged state file aside (never deleted); the next run re-checks tags",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Move the configured state file aside; returns 0 (StateLocked/StateError reach main).

    With a PostgreSQL ledger it moves nothing and says why (exit status USER_ERROR).

    Prints where each file went, and that the next run reads the tags already
    on each message before applying any (so nothing is applied twice).
    """
    config = load(args)
    if config.state.backend == "postgresql":
        print(
            f"tagger: error: recover-state does not apply to PostgreSQL (the ledger is in"
            f" state database {config.state.where}): PostgreSQL keeps its own integrity;"
            " restore it from your database backups if it is lost",
            file=sys.stderr,
        )
        return exitcodes.USER_ERROR
    moved = move_aside(config.state_path, datetime.now(UTC))
    if not moved:
        print(f"no state file at {config.state_path}: nothing to move")
    for path in moved:
        print(f"moved aside: {path}")
    print(
        "the next run starts a fresh state file and reads the tags already on each "
        "message before applying any, so no tag is applied twice"
    )
    return exitcodes.OK
