"""The release prompt ``promote`` and ``resume`` share: ask, drop what is dropped, say what follows.

A release lifts a rail (a rule's pause, the kill switch, a promotion's
wait); the held pairs it concerns are shown first (:mod:`tagger.cli.held`),
then the operator confirms (``--yes`` skips the question) and ``--from-now``
drops the backlog instead of applying it with the next cycle.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from tagger import exitcodes
from tagger.cli.held import FROM_NOW, Backlog, confirm, counted, drop, drop_stale
from tagger.rules.accountsets import AccountRuleSets
from tagger.state import StateStore
from tagger.state.held import HeldRow

__all__ = ["add_release_options", "applied_note", "refused", "release_held", "rule_backlog"]


def add_release_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--yes`` and ``--from-now`` to a releasing command's ``parser``."""
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--from-now",
        action="store_true",
        help="release without applying the held backlog (its pairs are dropped)",
    )


def _now() -> datetime:
    return datetime.now(UTC)


def release_held(
    store: StateStore,
    backlog: Backlog,
    args: argparse.Namespace,
    audit: Path | None,
    question: str,
) -> bool | None:
    """Ask, then drop what the release drops; True when confirmed (None: no terminal)."""
    if args.from_now:
        question += f"; drop its {counted(backlog.rows + backlog.expired)} held"
    elif backlog.rows:
        question += f"; apply its {counted(backlog.rows)} held with the next cycle"
    answer = confirm(question, args.yes or not (backlog.rows or backlog.expired or backlog.stale))
    if answer is not True:
        return answer
    at = _now()
    drop_stale(store, backlog, at, audit)
    if args.from_now:
        drop(store, backlog.rows + backlog.expired, FROM_NOW, at, audit)
    return True


def refused(answer: bool | None, what: str) -> int:
    """Say why ``what`` (``resume``, ``promote``) was not done; returns FAILURE.

    ``answer`` is the prompt's: None when there was no terminal to ask on,
    False when the operator said no.
    """
    if answer is None:
        print(
            f"refusing to {what} without confirmation: no terminal to ask on; run again with"
            " --yes (or --from-now --yes to drop the held backlog)",
            file=sys.stderr,
        )
    else:
        print(f"not {what}d")
    return exitcodes.FAILURE


def applied_note(backlog: Backlog, from_now: bool) -> str:
    """Return what becomes of the released ``backlog`` (dropped with ``from_now``), for people."""
    if from_now:
        return f"{counted(backlog.rows + backlog.expired)} dropped (the audit report says so)"
    if not backlog.rows:
        return "nothing held to apply"
    return f"{counted(backlog.rows)} applied by the next cycle, paced by the quota, each once"


def rule_backlog(
    rows: list[HeldRow], now: datetime, sets: AccountRuleSets | None, rule_id: str
) -> Backlog:
    """Sort held ``rows`` of ``rule_id`` by what a release does, each against its account's rule.

    A pair of a definition other than its account's current one is stale;
    when the rules do not load, any definition is current.
    """
    by_account: dict[str, list[HeldRow]] = {}
    for row in rows:
        by_account.setdefault(row.account, []).append(row)
    live: list[HeldRow] = []
    expired: list[HeldRow] = []
    stale: list[HeldRow] = []
    for account, mine in by_account.items():
        rule = None if sets is None else sets.of(account).get(rule_id)
        part = Backlog.of(mine, now, None if rule is None else rule.content_hash)
        live += part.rows
        expired += part.expired
        stale += part.stale
    return Backlog(tuple(live), tuple(expired), tuple(stale))
