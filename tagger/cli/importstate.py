"""``tagger import-state [FILE]``: move a SQLite state file into the PostgreSQL ledger.

For a node moving from SQLite to PostgreSQL: every apply, watermark and run
the file holds goes into the (empty) PostgreSQL ledger the config names, in
one transaction (:mod:`tagger.state.pgimport`); the file is left as it was.
FILE defaults to ``state_path``, where the file was.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.cli.context import load
from tagger.errors import UserError
from tagger.state.opener import open_state
from tagger.state.pgimport import import_file


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``import-state`` sub-command."""
    parser = sub.add_parser(
        "import-state",
        parents=[parent],
        help="copy a SQLite state file into the empty PostgreSQL ledger the config names",
    )
    parser.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="the SQLite state file (default: the config's state_path)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Copy the file into the ledger; print the rows per table. Returns 0.

    A config whose state is SQLite is a UserError; StateLocked (a daemon holds
    the file) and StateError (the ledger is not empty, the file unusable)
    reach main.
    """
    config = load(args)
    if config.state.backend != "postgresql":
        raise UserError.single(
            "import-state copies into a PostgreSQL ledger, and this config's state is the"
            f" SQLite file {config.state_path}",
            file=str(config.source),
            hint="add `state: {backend: postgresql, dsn: {env: TAGGER_DSN}}` to the config",
        )
    source = Path(args.file) if args.file else config.state_path
    with open_state(config, lock=False) as store:
        counts = import_file(store, source)
        where = store.label
    for table, rows in sorted(counts.items()):
        print(f"{table}: {rows} rows")
    print(
        f"copied {source} into {where}; the file is unchanged (keep it as a backup):"
        " start tagger on the PostgreSQL ledger, it carries on where the file left off"
    )
    return exitcodes.OK
