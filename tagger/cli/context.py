"""What every config-driven command does first: find and load the config, set up logs."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from tagger.config import Config, default_config_path, load_config
from tagger.logs.configure import configure_logging
from tagger.logs.redact import REDACTOR


def config_path(args: argparse.Namespace) -> Path:
    """Return the config file named by ``-c``, ``$TAGGER_CONFIG`` or the default."""
    given = getattr(args, "config", None)
    return Path(given) if given else default_config_path(os.environ)


def load(args: argparse.Namespace) -> Config:
    """Load the config for a command and configure logging from it.

    Every credential value is registered with the log redactor before anything
    else is logged. Raises :class:`~tagger.errors.UserError` on any problem.
    """
    config = load_config(config_path(args))
    for secret in config.secret_values():
        REDACTOR.add_secret(secret)
    level = getattr(args, "log_level", None) or config.logging.level
    configure_logging(config.logging.format, level)
    return config


def with_audit(config: Config, args: argparse.Namespace) -> Config:
    """Return ``config`` with the audit file ``--audit FILE`` names, when given."""
    given = getattr(args, "audit", None)
    return replace(config, audit_path=Path(given)) if given else config


def add_dry_run(parser: argparse.ArgumentParser) -> None:
    """Add ``--dry-run`` and ``--audit`` to a command that runs cycles."""
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="evaluate and report what would be tagged; apply nothing, change no state",
    )
    parser.add_argument(
        "--audit",
        metavar="FILE",
        help="append a JSON Lines audit report of every match to FILE",
    )
    parser.add_argument("--log-level", metavar="LEVEL", help="override the configured log level")
