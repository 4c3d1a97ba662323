"""Each account's rule set: the top-level rules, plus or instead of its own (``accounts[].rules``).

An account without rule files of its own runs the top-level rule set. One
with its own runs a set loaded from the top-level files and its own
(``rules_mode: add``; a rule id defined in both is a duplicate, located at
both places) or from its own alone (``replace``). Every distinct list of
files is loaded once, through the one loader (:func:`check_rule_files`), so
``validate``, the commands and the daemon agree on each account's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tagger.config.model import Config
from tagger.errors import Problem, UserError
from tagger.rules.loader import check_rule_files
from tagger.rules.model import RuleSet

__all__ = ["AccountRuleSets", "check_account_rule_sets", "load_account_rule_sets"]


@dataclass(frozen=True)
class AccountRuleSets:
    """The top-level rule set and, per account with rule files of its own, that account's set.

    ``files`` maps every account to the rule files it runs (load order).
    """

    default: RuleSet
    own: Mapping[str, RuleSet]
    files: Mapping[str, tuple[Path, ...]]

    def of(self, account: str) -> RuleSet:
        """Return the rule set ``account`` runs (the top-level one unless it has its own)."""
        return self.own.get(account, self.default)

    def holding(self, rule_id: str) -> list[str]:
        """Return the accounts whose rule set holds ``rule_id`` (enabled or not), in order."""
        return [name for name in self.files if self.of(name).get(rule_id) is not None]

    def all_ids(self) -> set[str]:
        """Return every rule id of every account's set."""
        sets = [self.default, *self.own.values()]
        return {r.id for ruleset in sets for r in ruleset.all_rules()}


def _own_files(config: Config, name: str) -> set[str]:
    """Return the account's own rule files as the loader names them in its problems."""
    return {str(p) for p in config.account(name).rule_paths}


def _about(problem: Problem, accounts: list[str]) -> Problem:
    """Return ``problem`` saying which accounts' rule sets it is found in."""
    which = ", ".join(accounts)
    noun = "account" if len(accounts) == 1 else "accounts"
    return replace(problem, message=f"{problem.message} (rules of {noun} {which})")


def check_account_rule_sets(config: Config) -> tuple[AccountRuleSets | None, list[Problem]]:
    """Load the top-level rule set and every account's own; never raises for bad input.

    Returns the sets (None when any has an error) and every problem: those
    of the top-level files first, then those of the accounts' own files,
    each saying which accounts' sets it was found in.
    """
    default, problems = check_rule_files(list(config.rule_paths), config.lists)
    loaded: dict[tuple[Path, ...], tuple[RuleSet | None, list[Problem]]] = {}
    users: dict[tuple[Path, ...], list[str]] = {}
    files: dict[str, tuple[Path, ...]] = {}
    for account in config.accounts:
        paths = config.account_rule_paths(account.name)
        files[account.name] = paths
        if not account.rule_paths:
            continue
        users.setdefault(paths, []).append(account.name)
        if paths not in loaded:
            loaded[paths] = check_rule_files(list(paths), config.lists)
    own: dict[str, RuleSet] = {}
    failed = default is None
    for paths, (ruleset, found) in loaded.items():
        names = users[paths]
        mine = set().union(*(_own_files(config, n) for n in names))
        problems.extend(_about(p, names) for p in found if p.file in mine)
        if ruleset is None:
            failed = True
            continue
        own.update(dict.fromkeys(names, ruleset))
    if failed or default is None:
        return None, problems
    return AccountRuleSets(default, own, files), problems


def load_account_rule_sets(config: Config) -> AccountRuleSets:
    """Load every account's rule set; raises :class:`UserError` with every problem on an error."""
    sets, problems = check_account_rule_sets(config)
    if sets is None:
        errors = sum(1 for p in problems if p.severity == "error")
        raise UserError(problems, f"invalid rules: {errors} error(s)")
    return sets
