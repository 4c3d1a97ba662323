"""``tagger rules``: the rule set at a glance, as reviewers list Sigma rules.

One line per rule: id, mode, state (enforcing, awaiting promotion, paused,
audit only, disabled), level, owner and tags; ``--json`` adds the rest of
the metadata and the content hash. The states come from the configuration's
rollout and the state file (read-only: safe next to a running daemon), so a
listing without a configuration shows the rule files' view only, and says so.
When accounts run rule sets of their own (``accounts[].rules``), each
account's rules are listed under its name with the promotions and pauses
that hold on it (``--account NAME``: that account's alone).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.cli.common import add_rule_paths, print_problems
from tagger.cli.ruletargets import check_account
from tagger.config import DEFAULT_CONFIG_PATH, Config, load_config
from tagger.errors import UserError
from tagger.rails.rollout import Rollout, RuleIdentity, awaiting_promotion
from tagger.rules import CompiledRule, RuleSet, check_rule_files
from tagger.rules.accountsets import check_account_rule_sets
from tagger.state import StateError
from tagger.state.errors import LedgerMissing
from tagger.state.opener import may_hold_a_ledger, open_state

DEFAULT_RULES_DIR = Path("rules")


@dataclass(frozen=True, slots=True)
class Standing:
    """What the configuration and the state say about the rules (empty: nothing known)."""

    rollout: Rollout | None = None
    promoted: Set[tuple[str, str]] = frozenset()
    paused: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kill_switch: bool = False


@dataclass(frozen=True, slots=True)
class RuleLine:
    """One rule as the listing shows it."""

    rule: CompiledRule
    state: str
    paused_on: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the line as JSON-ready data."""
        rule = self.rule
        return {
            "id": rule.id,
            "mode": rule.mode,
            "state": self.state,
            "paused_accounts": list(self.paused_on),
            "enabled": rule.enabled,
            "priority": rule.priority,
            "tags": list(rule.tags),
            "description": rule.description,
            "content_hash": rule.content_hash,
            **rule.meta.to_json(),
        }


def rule_lines(ruleset: RuleSet, standing: Standing) -> list[RuleLine]:
    """Return each rule's line, in evaluation order, disabled rules last (pure)."""
    identities = [RuleIdentity(r.id, r.content_hash, r.mode) for r in ruleset.rules]
    waiting = (
        set(awaiting_promotion(identities, standing.rollout, standing.promoted))
        if standing.rollout is not None
        else set()
    )
    out = []
    for rule in ruleset.all_rules():
        paused = standing.paused.get(rule.id, ())
        if not rule.enabled:
            state = "disabled"
        elif rule.mode == "audit":
            state = "audit only"
        elif paused:
            state = "paused"
        elif rule.id in waiting:
            state = "awaiting promotion"
        elif standing.rollout is None:
            state = "unknown"  # no configuration: the rollout and the pauses are not known
        else:
            state = "enforcing"
        out.append(RuleLine(rule, state, paused))
    return out


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``rules`` sub-command."""
    parser = sub.add_parser(
        "rules",
        parents=[parent],
        help="list the rule set: id, mode, state, level, owner, tags",
        description="List every rule with its mode, its state (enforcing, awaiting promotion, "
        "paused, audit only, disabled), its level, owner and tags. States come from the "
        "configuration's rollout and the state file, read without the lock.",
    )
    parser.add_argument("--json", action="store_true", help="print the rules as JSON")
    parser.add_argument(
        "--account",
        metavar="NAME",
        help="list the rules this account runs, with its promotions and pauses"
        " (default: every account's, one listing per account, when accounts differ)",
    )
    add_rule_paths(parser)
    parser.set_defaults(handler=handle)


def find_config(
    given: str | None, env: Mapping[str, str], default: Path = DEFAULT_CONFIG_PATH
) -> Config | None:
    """Return the configuration when one is named or at ``default``, else None.

    A named one (``-c``, ``$TAGGER_CONFIG``) must load (UserError otherwise);
    the default one is only a help: when it does not load, the listing goes
    on from the rule files and says why on standard error.
    """
    named = given or env.get("TAGGER_CONFIG")
    if named:
        return load_config(Path(named))
    if not default.is_file():
        return None
    try:
        return load_config(default)
    except UserError as exc:
        first = exc.problems[0] if exc.problems else exc.summary
        print(f"tagger: not using {default}: {first}", file=sys.stderr)
        return None


def _paths(args: argparse.Namespace, config: Config | None) -> list[Path]:
    if args.paths:
        return [Path(p) for p in args.paths]
    if config is not None:
        return list(config.rule_paths)
    return [DEFAULT_RULES_DIR]


def _standing(config: Config | None, account: str | None = None) -> Standing:
    """Read the rollout, promotions, pauses and kill switch (nothing known without a config).

    ``account``: the promotions holding on it and its pauses only (None: all).
    """
    if config is None:
        return Standing()
    if not may_hold_a_ledger(config):
        return Standing(rollout=config.rollout)
    try:
        opened = open_state(config, lock=False, readonly=True)
    except LedgerMissing:  # a PostgreSQL database tagger has not run against yet
        return Standing(rollout=config.rollout)
    with opened as store:
        try:
            pauses = store.pauses()
        except StateError:  # a state file older than rule pauses
            pauses = []
        paused: dict[str, list[str]] = {}
        for pause in pauses:
            if account is not None and pause.account != account:
                continue
            paused.setdefault(pause.rule_id, []).append(pause.account)
        return Standing(
            rollout=config.rollout,
            promoted=frozenset(store.promotions(account)),
            paused={rule: tuple(accounts) for rule, accounts in paused.items()},
            kill_switch=store.kill_switch(),
        )


def _table(lines: Sequence[RuleLine]) -> Iterable[str]:
    rows = [("RULE", "MODE", "STATE", "LEVEL", "OWNER", "TAGS")]
    for line in lines:
        state = line.state
        if line.paused_on:
            state += f" ({', '.join(line.paused_on)})"
        meta = line.rule.meta
        rows.append(
            (line.rule.id, line.rule.mode, state, meta.level or "-", meta.owner or "-",
             ", ".join(line.rule.tags))
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        yield "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5]


def handle(args: argparse.Namespace) -> int:
    """List the rules; 0, or 2 when the rule files are invalid."""
    config = find_config(getattr(args, "config", None), os.environ)
    account = getattr(args, "account", None)
    if config is not None and not args.paths:
        if account is not None:
            check_account(config, account)
        elif config.per_account_rules:
            return _per_account(args, config)
    if config is not None and account is not None and not args.paths:
        paths = list(config.account_rule_paths(account))
    else:
        paths = _paths(args, config)
    ruleset, problems = check_rule_files(paths)
    if ruleset is None:
        errors, _ = print_problems(problems)
        print(f"invalid: {errors} error(s)")
        return exitcodes.USER_ERROR
    standing = _standing(config, account)
    lines = rule_lines(ruleset, standing)
    if args.json:
        out = {
            "rollout": standing.rollout,
            "kill_switch": standing.kill_switch,
            "rules": [line.as_dict() for line in lines],
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return exitcodes.OK
    print("\n".join(_table(lines)))
    if config is None:
        print("\nno configuration: states from the rule files only (-c for promotions and pauses)")
    if standing.kill_switch:
        print("\nkill switch on: nothing is applied (tagger resume --all)")
    return exitcodes.OK


def _per_account(args: argparse.Namespace, config: Config) -> int:
    """List each account's rules (its promotions and pauses) when some have their own."""
    sets, problems = check_account_rule_sets(config)
    if sets is None:
        errors, _ = print_problems(problems)
        print(f"invalid: {errors} error(s)")
        return exitcodes.USER_ERROR
    listings = []
    for acct in config.accounts:
        standing = _standing(config, acct.name)
        lines = rule_lines(sets.of(acct.name), standing)
        listings.append((acct, [str(f) for f in sets.files[acct.name]], standing, lines))
    kill_switch = any(standing.kill_switch for _, _, standing, _ in listings)
    if args.json:
        out = {
            "rollout": config.rollout,
            "kill_switch": kill_switch,
            "rules": [line.as_dict() for line in rule_lines(sets.default, _standing(config))],
            "accounts": {
                acct.name: {
                    "files": files,
                    "own": acct.rules_mode if acct.rule_paths else None,
                    "rules": [line.as_dict() for line in lines],
                }
                for acct, files, _, lines in listings
            },
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return exitcodes.OK
    for index, (acct, files, _, lines) in enumerate(listings):
        how = f"own rules, {acct.rules_mode}" if acct.rule_paths else "top-level rules"
        print(("\n" if index else "") + f"account {acct.name} ({how}: {', '.join(files)}):")
        print("\n".join(_table(lines)))
    if kill_switch:
        print("\nkill switch on: nothing is applied (tagger resume --all)")
    return exitcodes.OK
