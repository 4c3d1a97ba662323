"""``tagger`` entry point: argument parsing, dispatch, and user-error handling.

Each command lives in its own module under ``tagger.cli`` exposing
``register(subparsers, parent)`` which adds its sub-parser and sets
``handler`` (a callable taking the parsed namespace and returning an exit
code). Only this module catches :class:`~tagger.errors.UserError`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence

from tagger import __version__, exitcodes
from tagger.cli import (
    backfill,
    claims,
    completion,
    demo,
    explain,
    fetch,
    fields,
    helptopics,
    importstate,
    init,
    once,
    rails,
    recover,
    report,
    rulelist,
    run,
    simulate,
    status,
    tags,
    test_rules,
    validate,
)
from tagger.errors import UserError
from tagger.logs.configure import configure_logging
from tagger.mimecast.errors import MimecastError
from tagger.service import earlysignals
from tagger.state import StateError

# The commands whose session handles SIGTERM (and SIGHUP for ``run``) itself.
SIGNALLED = frozenset({"run", "once", "backfill"})

# The modules that register a sub-command, in the order shown by ``--help``.
COMMANDS = (
    simulate,
    validate,
    test_rules,
    explain,
    fields,
    rulelist,
    run,
    once,
    backfill,
    status,
    rails,
    claims,
    recover,
    importstate,
    tags,
    report,
    fetch,
    init,
    demo,
    helptopics,
    completion,
)


_ROLE = re.compile(r":(?:class|func|mod|meth|attr|data|exc):`~?([^`]+)`")


def plain_text(text: str | None) -> str | None:
    """Return ``text`` without reStructuredText markup (double backticks, roles, ``::``). Pure."""
    if text is None:
        return None
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], text)
    return text.replace("``", "").replace("::\n", ":\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available sub-command registered."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="configuration file (default: $TAGGER_CONFIG or /etc/tagger/config.yaml)",
    )
    parser = argparse.ArgumentParser(
        prog="tagger",
        description="Rule-driven auto-tagging daemon for Mimecast Smart Tags.",
    )
    parser.add_argument("--version", action="version", version=f"tagger {__version__}")
    # -c is accepted before the command too (``tagger -c FILE once``); the
    # command's own -c, when given, wins.
    parser.add_argument(
        "-c", "--config", dest="config_before", metavar="FILE", help=argparse.SUPPRESS
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub, parent)
    for command in sub.choices.values():
        # Descriptions are the modules' docstrings: shown without their markup.
        command.description = plain_text(command.description)
    # The completion script and the man page are generated from the parser itself.
    parser.set_defaults(root_parser=parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 2 user error, 1 other)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in SIGNALLED:
        # Only the commands that handle signals keep those noted at start-up.
        earlysignals.release()
    if getattr(args, "config", None) is None:
        args.config = args.config_before
    # Until a command configures logging from its config, events (e.g. a config
    # warning) go to standard error like every later one: stdout is for data.
    configure_logging("auto", "info")
    try:
        code: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``tagger status | head -3``): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return exitcodes.BROKEN_PIPE
    except UserError as exc:
        for line in str(exc).splitlines():
            print(line, file=sys.stderr)
        return exitcodes.USER_ERROR
    except (StateError, MimecastError) as exc:
        print(f"tagger: error: {exc}", file=sys.stderr)
        return exitcodes.FAILURE
    except KeyboardInterrupt:
        return exitcodes.INTERRUPTED_BY_KEYBOARD
    return code


if __name__ == "__main__":
    raise SystemExit(main())
