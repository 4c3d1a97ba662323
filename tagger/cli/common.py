"""Helpers shared by the rule commands (``validate``, ``test``, ``explain``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from tagger.config.lists import ListSpec
from tagger.errors import Problem, UserError

DEFAULT_RULES_DIR = Path("rules")


def add_rule_paths(parser: argparse.ArgumentParser) -> None:
    """Add the positional ``PATHS`` argument (rule files or directories)."""
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="rule files or directories of *.yaml (default: the config's rules, else ./rules)",
    )


def rule_paths_from_args(args: argparse.Namespace) -> list[Path]:
    """Return the rule paths a command should load.

    In order: the ``PATHS`` given; else the ``rules`` of the configuration
    named by ``-c``/``$TAGGER_CONFIG``; else ``./rules`` when it exists.

    Raises:
        UserError: none of these gives any path, or the configuration is invalid.
    """
    given: Sequence[str] = getattr(args, "paths", None) or ()
    if given:
        return [Path(p) for p in given]
    if getattr(args, "config", None) or os.environ.get("TAGGER_CONFIG"):
        from tagger.config import default_config_path, load_config

        config = load_config(default_config_path(given=getattr(args, "config", None)))
        return list(config.rule_paths)
    if DEFAULT_RULES_DIR.is_dir():
        return [DEFAULT_RULES_DIR]
    raise UserError(
        [
            Problem(
                "no rule files given",
                hint="name rule files or directories, or a configuration with -c",
            )
        ]
    )


def lists_from_args(args: argparse.Namespace) -> tuple[ListSpec, ...]:
    """Return the shared lists the rules may test: those of the configuration, when one is named.

    A configuration is named by ``-c`` or ``$TAGGER_CONFIG``; without one
    there are no lists (a rule testing one then says how to give it).

    Raises:
        UserError: the configuration is invalid.
    """
    if not (getattr(args, "config", None) or os.environ.get("TAGGER_CONFIG")):
        return ()
    from tagger.config import default_config_path, load_config

    return load_config(default_config_path(given=getattr(args, "config", None))).lists


def print_problems(problems: Sequence[Problem]) -> tuple[int, int]:
    """Print every problem, one a line; return (errors, warnings)."""
    for problem in problems:
        print(problem)
    errors = sum(1 for p in problems if p.severity == "error")
    return errors, len(problems) - errors
