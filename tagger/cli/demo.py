"""``tagger demo``: run tagger against its simulator, end to end (see :mod:`tagger.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tagger import demo


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``demo`` sub-command."""
    parser = sub.add_parser(
        "demo", help="run tagger against its built-in simulator (no credentials needed)"
    )
    parser.add_argument(
        "--report",
        metavar="FILE",
        default=demo.REPORT_NAME,
        help=f"where the HTML audit report goes (default: ./{demo.REPORT_NAME})",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every step succeeded."""
    return demo.main(Path(args.report))
