"""``tagger completion SHELL`` and ``tagger manpage``: shell completion and the manual page.

Both are generated from the argument parser itself (``args.root_parser``, set
by :func:`tagger.cli.main.build_parser`), so they never fall behind the
commands. Completion scripts come from shtab: static scripts, so pressing Tab
never starts Python (argcomplete would run tagger, importing the HTTP client
and the rest, on every Tab).
"""

from __future__ import annotations

import argparse
from typing import Any

from tagger import exitcodes

SHELLS = ("bash", "zsh", "tcsh")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``completion`` and ``manpage`` sub-commands."""
    parser = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script for SHELL. bash: "
        "tagger completion bash > /etc/bash_completion.d/tagger; zsh: "
        'tagger completion zsh > "${fpath[1]}/_tagger".',
    )
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help=", ".join(SHELLS))
    parser.set_defaults(handler=handle_completion)
    page = sub.add_parser(
        "manpage",
        help="print the manual page (roff): tagger manpage > /usr/local/share/man/man1/tagger.1",
    )
    page.set_defaults(handler=handle_manpage)


def handle_completion(args: argparse.Namespace) -> int:
    """Print the completion script; 0."""
    import shtab  # imported here: only this command needs it

    print(shtab.complete(args.root_parser, shell=args.shell))
    return exitcodes.OK


def handle_manpage(args: argparse.Namespace) -> int:
    """Print the manual page; 0."""
    from tagger.cli.manpage import render

    print(render(args.root_parser), end="")
    return exitcodes.OK
