"""Which accounts' rule a rail command (``pause``, ``resume``, ``promote``) concerns.

With per-account rule sets (``accounts[].rules``) a rule id names a rule of
some accounts only, and two accounts may define it differently. ``--account
NAME`` narrows a command to one account; without it, the command concerns
every account whose rule set holds the rule. An id no concerned account
holds is refused with a did-you-mean.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from tagger.config import Config
from tagger.errors import UserError
from tagger.rules import CompiledRule
from tagger.rules.accountsets import AccountRuleSets
from tagger.yamldoc.suggest import did_you_mean

__all__ = ["SHOWN_IDS", "add_account_option", "check_account", "rule_targets", "unknown_rule"]

# How many rule ids an unknown-rule error lists when none is close.
SHOWN_IDS = 12


def add_account_option(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--account NAME`` (``what`` says what it narrows)."""
    parser.add_argument(
        "--account",
        metavar="NAME",
        help=f"{what} on this account only (default: every account whose rules hold the rule)",
    )


def unknown_rule(
    rule_id: str, known: Iterable[str], files: Iterable[Path], account: str | None = None
) -> UserError:
    """Return the error for a rule id the rule files do not hold, with a did-you-mean."""
    ids = sorted(set(known))
    close = did_you_mean(rule_id, ids)
    listed = ", ".join(ids[:SHOWN_IDS]) + (", ..." if len(ids) > SHOWN_IDS else "")
    where = ", ".join(str(f) for f in files) or "the configured rule files"
    whose = f" (the rules of account {account})" if account is not None else ""
    return UserError.single(
        f"unknown rule {rule_id!r}: no rule has this id in {where}{whose}",
        hint=close or (f"the rules are: {listed}" if ids else "the rule files hold no rule"),
    )


def check_account(config: Config, name: str) -> None:
    """Raise a :class:`UserError` with a did-you-mean when the config has no account ``name``."""
    names = [a.name for a in config.accounts]
    if name not in names:
        raise UserError.single(
            f"unknown account {name!r} (--account)",
            hint=did_you_mean(name, names) or f"the accounts are: {', '.join(names)}",
        )


def rule_targets(
    config: Config, sets: AccountRuleSets, rule_id: str, account: str | None
) -> list[tuple[str, CompiledRule]]:
    """Return (account, its definition of the rule) for each account the command concerns.

    ``account`` (``--account``) names one; None: every account whose rule set
    holds ``rule_id``, in the config's order. Raises :class:`UserError` for an
    unknown account, or a rule id none of them holds (with a did-you-mean).
    """
    if account is not None:
        check_account(config, account)
        ruleset = sets.of(account)
        rule = ruleset.get(rule_id)
        if rule is None:
            ids = [r.id for r in ruleset.all_rules()]
            raise unknown_rule(rule_id, ids, sets.files.get(account, ()), account)
        return [(account, rule)]
    found: list[tuple[str, CompiledRule]] = []
    for name in sets.holding(rule_id):
        rule = sets.of(name).get(rule_id)
        if rule is not None:
            found.append((name, rule))
    if not found:
        raise unknown_rule(rule_id, sets.all_ids(), config.every_rule_path)
    return found
