"""``tagger help [TOPIC]``: the references an installed package carries, printed.

``rules`` is the rule language and field catalogue (``docs/rules.md`` in a
checkout, shipped in the wheel as ``tagger/skel/docs/rules.md``); ``config``
is the annotated example configuration. Validation errors and the manual
page point here, so an installed wheel documents itself.
"""

from __future__ import annotations

import argparse
from typing import Any

from tagger import exitcodes
from tagger.cli.skel import CONFIG, DOCS, skel_dir
from tagger.errors import UserError

# topic -> (file in the skeleton, what it is)
TOPICS = {
    "rules": (DOCS, "the rule language: keys, conditions, operators, fields, statuses"),
    "config": (CONFIG, "the annotated example configuration (every setting)"),
}


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``help`` sub-command."""
    parser = sub.add_parser(
        "help",
        help="print a reference: rules (the rule language and fields) or config",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument(
        "topic", nargs="?", choices=sorted(TOPICS), metavar="TOPIC", help="rules or config"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the topic's text, or the list of topics; 0, or 2 when the file is missing."""
    if args.topic is None:
        for name, (_, what) in sorted(TOPICS.items()):
            print(f"tagger help {name:<8} {what}")
        return exitcodes.OK
    relative, _ = TOPICS[args.topic]
    path = skel_dir() / relative
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError.single(
            f"the {args.topic} reference is missing: {exc.strerror or exc}",
            file=str(path),
            hint="reinstall tagger",
        ) from None
    print(text, end="" if text.endswith("\n") else "\n")
    return exitcodes.OK
