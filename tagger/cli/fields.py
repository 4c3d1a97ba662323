"""``tagger fields [PATTERN]``: the rule field reference, from the catalogue itself."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tagger import exitcodes
from tagger.errors import UserError
from tagger.rules.reference import field_docs, render_json, render_text


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``fields`` sub-command."""
    parser = sub.add_parser(
        "fields",
        help="list the fields a rule can test: JSON path, type, operators, known values",
        description="List every rule field with its JSON path in Mimecast's answers, its "
        "type, the operators it takes and its known values with their meanings. PATTERN "
        "keeps the fields whose name or JSON path contains it (spf, spamInfo) or matches it "
        "as a glob (spf.*, *.result); case is ignored.",
    )
    parser.add_argument("pattern", nargs="?", metavar="PATTERN", help="a substring or glob")
    parser.add_argument("--json", action="store_true", help="print the entries as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the reference; 0. Raises UserError when PATTERN finds no field."""
    docs = field_docs(args.pattern)
    if not docs:
        raise UserError.single(
            f"no rule field matches {args.pattern!r}",
            hint="tagger fields lists them all; a pattern is a substring (dmarc) or a glob (spf.*)",
        )
    sys.stdout.write(render_json(docs) if args.json else render_text(docs))
    return exitcodes.OK
