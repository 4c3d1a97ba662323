"""``tagger pause``: pause a rule on its accounts, or every apply at once (``--all``).

``pause RULE`` writes the same pause record a blast-radius limit writes (on
every account whose rule set holds the rule, or the one ``--account``
names; kind ``manual``) and returns once a running tagger has confirmed
that no apply of it reaches Mimecast any more (:mod:`tagger.cli.stopwait`).
``pause --all`` is the kill switch (:mod:`tagger.cli.killswitch`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from tagger import exitcodes
from tagger.cli.context import load
from tagger.cli.killswitch import set_kill_switch
from tagger.cli.ruletargets import add_account_option, rule_targets
from tagger.cli.stopwait import DEFAULT_WAIT_S, confirm_stop
from tagger.engine.guard import MANUAL
from tagger.errors import UserError
from tagger.rules.accountsets import load_account_rule_sets
from tagger.state.opener import open_state
from tagger.state.railstore import PauseRow
from tagger.words import plural

__all__ = ["handle_pause", "register"]


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``pause`` sub-command."""
    pause = sub.add_parser(
        "pause", parents=[parent], help="pause a rule, or stop every apply at once (--all)"
    )
    pause.add_argument(
        "rule", nargs="?", help="the rule's id (paused on every account whose rules hold it)"
    )
    add_account_option(pause, "pause the rule")
    pause.add_argument("--all", action="store_true", help="every rule, account: the kill switch")
    pause.add_argument("--reason", metavar="TEXT", help="why (shown by status and in the logs)")
    pause.add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=(
            "with --all: how long to wait for a running tagger to confirm"
            f" (default {DEFAULT_WAIT_S:g})"
        ),
    )
    pause.set_defaults(handler=handle_pause)


def _now() -> datetime:
    return datetime.now(UTC)


def _seconds(text: str) -> float:
    """Return ``--wait``'s value: a number of seconds from 0 to 600."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 to 600 seconds")
    return value


def handle_pause(args: argparse.Namespace) -> int:
    """Pause a rule on every account, or turn the kill switch on (``--all``).

    Then waits for a running tagger to confirm that none of the paused applies
    reaches Mimecast any more; the matches are recorded as held pairs. Exits
    0 once confirmed (or when no tagger process has the state open), 1 when
    the process holding the state did not confirm within ``--wait`` seconds
    (the pause is stored all the same) or when the pause could not be stored.
    """
    config = load(args)
    if bool(args.all) == bool(args.rule):
        raise UserError.single(
            "name one rule to pause, or --all to stop every apply (the kill switch), not both",
            hint="tagger pause RULE [--reason TEXT], or tagger pause --all",
        )
    if args.account is not None and args.all:
        raise UserError.single(
            "--account narrows a rule's pause: give the rule, not --all",
            hint="tagger pause RULE --account NAME; the kill switch (--all) stops every account",
        )
    if args.all:
        return set_kill_switch(config, args.wait)
    with open_state(config, lock=False) as store:
        sets = load_account_rule_sets(config)
        accounts = [name for name, _ in rule_targets(config, sets, args.rule, args.account)]
        reason = args.reason or "paused by the operator (tagger pause)"
        at = _now()
        for account in accounts:
            store.add_pause(PauseRow(account, args.rule, reason, 0, 0, MANUAL, at))
        confirmed = confirm_stop(store, config.state_path, args.wait)
    if not confirmed.confirmed:
        print(f"rule {args.rule!r} is paused, but {confirmed.text}", file=sys.stderr)
        return exitcodes.FAILURE
    names = ", ".join(accounts)
    print(
        f"rule {args.rule!r} paused on {plural(len(accounts), 'account')} ({names}):"
        f" its matches are recorded as held pairs ({confirmed.text});"
        f" 'tagger resume {args.rule}' applies them"
    )
    return exitcodes.OK
