"""``tagger resume``: lift a rule's pause, or the kill switch (``--all``), with what they held.

``resume RULE`` lifts a manual pause or a blast-radius limit's (on every
account, or the one ``--account`` names); a mistyped rule id is refused
with a did-you-mean (:func:`tagger.cli.ruletargets.unknown_rule`). The held
pairs are shown and, on confirmation, applied by the next cycle
(:mod:`tagger.cli.releaseprompt`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from tagger import exitcodes
from tagger.cli.context import load
from tagger.cli.held import Backlog, describe
from tagger.cli.releaseprompt import (
    add_release_options,
    applied_note,
    refused,
    release_held,
    rule_backlog,
)
from tagger.cli.ruletargets import add_account_option, check_account, unknown_rule
from tagger.config import Config
from tagger.errors import UserError
from tagger.rules.accountsets import AccountRuleSets, load_account_rule_sets
from tagger.state import StateStore
from tagger.state.held import DISABLED, KILL_SWITCH, LIMIT, PAUSED
from tagger.state.opener import open_state
from tagger.state.pausefile import set_pause_file
from tagger.state.railstore import PAUSE_ALL
from tagger.words import plural

__all__ = ["handle_resume", "register"]


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``resume`` sub-command."""
    resume = sub.add_parser(
        "resume", parents=[parent], help="lift a rule's pause (or --all), applying what it held"
    )
    resume.add_argument("rule", nargs="?", help="the paused rule's id")
    resume.add_argument("--all", action="store_true", help="lift the kill switch")
    add_account_option(resume, "lift the rule's pause")
    add_release_options(resume)
    resume.set_defaults(handler=handle_resume)


def _now() -> datetime:
    return datetime.now(UTC)


def handle_resume(args: argparse.Namespace) -> int:
    """Lift the kill switch (``--all``: its file and row) or a rule's pause, with held pairs."""
    config = load(args)
    if not args.all and not args.rule:
        raise UserError.single("name the rule to resume, or --all to lift the kill switch")
    if args.account is not None and not args.rule:
        raise UserError.single(
            "--account narrows a rule's resume: give the rule",
            hint="tagger resume RULE --account NAME; tagger resume --all lifts the kill switch",
        )
    with open_state(config, lock=False) as store:
        now = _now()
        if args.all:
            code = _lift_kill_switch(store, config, args, now)
            if code != exitcodes.OK:
                return code
        if args.rule:
            return _resume_rule(store, config, args, now)
    return exitcodes.OK


def _lift_kill_switch(
    store: StateStore, config: Config, args: argparse.Namespace, now: datetime
) -> int:
    """Show what the kill switch held, ask, then lift its file and row; returns the exit code."""
    # A disabled account's pairs wait for the account, not for the switch.
    enabled = {a.name for a in config.accounts if a.enabled}
    rows = [
        r
        for r in store.held_rows()
        if r.reason == KILL_SWITCH or (r.reason == DISABLED and r.account in enabled)
    ]
    backlog = Backlog.of(rows, now)
    for line in describe(backlog, "held by the kill switch (or an account since enabled)"):
        print(line)
    answer = release_held(store, backlog, args, config.audit_path, "lift the kill switch")
    if answer is not True:
        return refused(answer, "resume")
    set_pause_file(config.state_path, False, _now())
    store.set_switch(PAUSE_ALL, False, _now())
    print(
        "the kill switch is off: applies resume with the next cycle;"
        f" held: {applied_note(backlog, args.from_now)}"
    )
    return exitcodes.OK


def _resume_rule(store: StateStore, config: Config, args: argparse.Namespace, now: datetime) -> int:
    """Show the rule's pause and what it held, ask, then lift it; returns the exit code."""
    if args.account is not None:
        check_account(config, args.account)
    mine = [p for p in store.pauses(args.account)]
    paused = [p for p in mine if p.rule_id == args.rule]
    sets = _rule_sets(config)
    if not paused:
        return _not_paused(config, sets, args.rule, args.account, {p.rule_id for p in mine})
    held = store.held_rows(account=args.account, rule_ids=[args.rule])
    rows = [r for r in held if r.reason in (PAUSED, LIMIT)]
    backlog = rule_backlog(rows, now, sets, args.rule)
    why = "; ".join(sorted({f"{p.account}: {p.reason}" for p in paused}))
    since = min(p.paused_at for p in paused)
    print(f"rule {args.rule!r} paused since {since:%Y-%m-%d %H:%M}Z ({why})")
    for line in describe(backlog, "held while paused"):
        print(line)
    answer = release_held(store, backlog, args, config.audit_path, f"resume {args.rule!r}")
    if answer is not True:
        return refused(answer, "resume")
    lifted = store.lift_pause(args.rule, args.account)
    print(
        f"rule {args.rule!r} resumed on {plural(lifted, 'account')};"
        f" held: {applied_note(backlog, args.from_now)}"
    )
    return exitcodes.OK


def _not_paused(
    config: Config,
    sets: AccountRuleSets | None,
    rule_id: str,
    account: str | None,
    pauses: set[str],
) -> int:
    """Refuse an unknown rule with a did-you-mean, else say it is not paused; returns FAILURE.

    ``pauses`` are the rules paused (on ``account``, or on any).
    """
    ids = _rule_ids(sets, account)
    if ids is not None and rule_id not in ids:
        files = config.every_rule_path
        if sets is not None and account is not None:
            files = sets.files.get(account, files)
        raise unknown_rule(rule_id, ids | pauses, files, account)
    others = ", ".join(sorted(pauses)) or "none"
    where = "" if account is None else f" on account {account}"
    print(f"rule {rule_id!r} is not paused{where} (paused rules: {others})", file=sys.stderr)
    return exitcodes.FAILURE


def _rule_sets(config: Config) -> AccountRuleSets | None:
    """Return every account's rule set; None: the rule files do not load."""
    try:
        return load_account_rule_sets(config)
    except UserError:
        return None


def _rule_ids(sets: AccountRuleSets | None, account: str | None) -> set[str] | None:
    """Return every rule id of ``account``'s set (None: of every set), disabled too.

    None when the rule files do not load.
    """
    if sets is None:
        return None
    if account is None:
        return sets.all_ids()
    return {r.id for r in sets.of(account).all_rules()}
