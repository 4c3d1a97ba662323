"""Helpers shared by the rule commands (``validate``, ``test``, ``explain``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from tagger.config.lists import ListSpec
from tagger.config.model import Config
from tagger.errors import Problem, UserError
from tagger.yamldoc.suggest import did_you_mean

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

    In order: the ``PATHS`` given; else the rules of the configuration
    named by ``-c``/``$TAGGER_CONFIG`` (the top-level ``rules``, or those of
    the account ``--account`` names); else ``./rules`` when it exists.

    Raises:
        UserError: none of these gives any path, or the configuration is invalid.
    """
    return rule_sources_from_args(args)[0]


def rule_sources_from_args(
    args: argparse.Namespace,
) -> tuple[list[Path], tuple[ListSpec, ...]]:
    """Return the rule paths a command should load and the shared lists they may test.

    The paths as :func:`rule_paths_from_args` finds them; the lists are those
    of the configuration :func:`lists_from_args` reads (none without one),
    which is read once for both.

    Raises:
        UserError: no rule path is found, or the configuration is invalid.
    """
    given: Sequence[str] = getattr(args, "paths", None) or ()
    config_path = _named_config(args)
    if config_path is not None:
        from tagger.config import load_config

        config = load_config(config_path)
        if given:
            return [Path(p) for p in given], config.lists
        return list(account_rule_paths(config, getattr(args, "account", None))), config.lists
    if given:
        return [Path(p) for p in given], ()
    if DEFAULT_RULES_DIR.is_dir():
        return [DEFAULT_RULES_DIR], ()
    raise UserError(
        [
            Problem(
                "no rule files given",
                hint="name rule files or directories, or a configuration with -c",
            )
        ]
    )


def account_rule_paths(config: Config, account: str | None) -> tuple[Path, ...]:
    """Return the rule files ``account`` runs (None: the top-level rules).

    Raises:
        UserError: the config has no such account (with a did-you-mean).
    """
    if account is None:
        return config.rule_paths
    try:
        return config.account_rule_paths(account)
    except KeyError:
        names = [a.name for a in config.accounts]
        hint = did_you_mean(account, names) or "accounts: " + ", ".join(names)
        raise UserError([Problem(f"no account named {account!r}", hint=hint)]) from None


def config_with_account_rules(args: argparse.Namespace) -> Config | None:
    """Return the configuration a rule command reads, when its accounts' rules differ.

    None unless the command reads a configuration (and names no rule paths)
    in which some account names rule files of its own.

    Raises:
        UserError: the configuration is invalid.
    """
    config_path = _named_config(args)
    if config_path is None or getattr(args, "paths", None):
        return None
    from tagger.config import load_config

    config = load_config(config_path)
    return config if config.per_account_rules else None


def default_account(args: argparse.Namespace) -> str | None:
    """Return the account whose rules a command uses by default when accounts differ.

    Its first account (the one ``--id`` asks by default) when
    :func:`config_with_account_rules` finds a configuration; else None.
    """
    config = config_with_account_rules(args)
    return None if config is None else config.accounts[0].name


def _named_config(args: argparse.Namespace) -> Path | None:
    """Return the configuration a rule command reads, or None.

    ``-c`` when given; else ``$TAGGER_CONFIG`` when no rule paths are given
    (as ``validate`` decides).
    """
    explicit = getattr(args, "config", None)
    if explicit:
        return Path(explicit)
    found = os.environ.get("TAGGER_CONFIG")
    if found and not getattr(args, "paths", None):
        return Path(found)
    return None


def lists_from_args(args: argparse.Namespace) -> tuple[ListSpec, ...]:
    """Return the shared lists the rules may test: those of the configuration the command reads.

    That is the one ``-c`` names, else ``$TAGGER_CONFIG`` when no rule paths
    are given; without one there are no lists (a rule testing one then says
    how to give it).

    Raises:
        UserError: the configuration is invalid.
    """
    config_path = _named_config(args)
    if config_path is None:
        return ()
    from tagger.config import load_config

    return load_config(config_path).lists


def print_problems(problems: Sequence[Problem]) -> tuple[int, int]:
    """Print every problem, one a line; return (errors, warnings)."""
    for problem in problems:
        print(problem)
    errors = sum(1 for p in problems if p.severity == "error")
    return errors, len(problems) - errors
