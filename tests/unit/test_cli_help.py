"""What `--help` shows is plain text: no reStructuredText markup from the docstrings."""

from __future__ import annotations

import re

from tagger.cli.main import build_parser, plain_text
from tagger.cli.manpage import _subcommands

MARKUP = re.compile(r"``|:(class|func|mod|meth|attr|data|exc):`")


def test_no_command_help_shows_restructuredtext_markup() -> None:
    parser = build_parser()
    assert not MARKUP.search(parser.format_help())
    commands = _subcommands(parser)
    assert len(commands) > 15
    for name, summary, sub in commands:
        text = sub.format_help()
        assert not MARKUP.search(text), (name, MARKUP.search(text))
        assert not MARKUP.search(summary), name


def test_plain_text_drops_backticks_and_roles() -> None:
    given = "Use ``tagger once`` and :class:`~tagger.errors.UserError`; shape::\n  x"
    assert plain_text(given) == "Use tagger once and UserError; shape:\n  x"
