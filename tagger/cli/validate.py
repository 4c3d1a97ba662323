"""``tagger validate``: check the configuration and rule files, reporting every problem at once.

With ``-c`` (or ``$TAGGER_CONFIG`` and no rule paths) the configuration is
loaded by the same loader, with the same checks, as ``run`` and ``once``: a
file ``validate`` accepts is one they accept.

Each problem prints as ``file:line:col: error: message [path] (hint)``,
then a summary line. Exit 0 when there is no error (warnings allowed), 2
otherwise. ``--tags-from FILE`` (a saved Smart Tag list, e.g. the JSON of
get-smart-tags) or ``--tags-from-account`` (ask every configured account)
also checks that each tag the rules name exists. When accounts name rule
files of their own (``accounts[].rules``), each account's rule set is
checked, against that account's tags, and a line per account says which
files it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.cli.common import (
    add_rule_paths,
    lists_from_args,
    print_problems,
    rule_paths_from_args,
)
from tagger.config import Config, default_config_path, load_config
from tagger.errors import Problem, UserError
from tagger.mimecast.models import SmartTag
from tagger.rules import RuleSet, check_rule_files, check_tags
from tagger.rules.accountsets import AccountRuleSets, check_account_rule_sets
from tagger.rules.messages import read_json
from tagger.words import plural
from tagger.yamldoc.suggest import did_you_mean


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``validate`` sub-command."""
    parser = sub.add_parser(
        "validate", parents=[parent], help="check rule files and report every problem"
    )
    add_rule_paths(parser)
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--tags-from-account",
        action="store_true",
        help="check that every tag exists in each configured account (needs -c)",
    )
    source.add_argument(
        "--tags-from",
        metavar="FILE",
        help="check tags against a saved Smart Tag list (JSON list or get-smart-tags response)",
    )
    parser.set_defaults(handler=handle)


def _parse_tags(items: Any, path: Path) -> list[SmartTag]:
    if not isinstance(items, list):
        raise UserError.single(
            "expected a JSON list of Smart Tags, a get-smart-tags response or the output of "
            "`tagger tags --json`",
            file=str(path),
        )
    return [tag for tag in (SmartTag.parse(item) for item in items) if tag is not None]


def tags_from_file(path: Path) -> list[tuple[str, list[SmartTag]]]:
    """Read Smart Tags saved in ``path``; returns (account name, tags) pairs.

    Accepts the output of ``tagger tags --json`` (``{"accounts": {NAME: [...]}}``,
    one pair per account), a get-smart-tags response envelope or a JSON list
    of tag objects (one pair, named ``""``).

    Raises:
        UserError: the file is unreadable, not JSON, or holds no tag list.
    """
    if not path.exists():
        siblings = [p.name for p in path.parent.glob("*.json")] if path.parent.is_dir() else []
        hint = did_you_mean(path.name, siblings) or "save one with `tagger tags --json > FILE`"
        raise UserError([Problem("no such file (--tags-from)", file=str(path), hint=hint)])
    data = read_json(path)
    if isinstance(data, dict) and isinstance(data.get("accounts"), dict):
        return [(str(name), _parse_tags(items, path)) for name, items in data["accounts"].items()]
    items = data.get("data") if isinstance(data, dict) else data
    return [("", _parse_tags(items, path))]


async def _account_tags(args: argparse.Namespace) -> list[tuple[str, list[SmartTag]]]:
    # Imported here: only this option needs the configuration and the HTTP client.
    from tagger.cli.context import load
    from tagger.mimecast.client import MimecastClient

    out = []
    for account in load(args).accounts:
        async with MimecastClient(account.settings) as client:
            out.append((account.name, await client.list_smart_tags()))
    return out


def _tag_problems(
    args: argparse.Namespace, ruleset: RuleSet, sets: AccountRuleSets | None = None
) -> list[Problem]:
    """Return the problems of the rules' tags against the Smart Tags asked for (none: not asked).

    With per-account rule sets (``sets``), each account's tags are checked
    against that account's rules; a list not named after an account is
    checked against every account's rules.
    """
    if args.tags_from:
        found = tags_from_file(Path(args.tags_from))
    elif args.tags_from_account:
        found = asyncio.run(_account_tags(args))
    else:
        return []
    problems: list[Problem] = []
    for name, tags in found:
        if sets is None:
            checked = [ruleset]
        elif name in sets.files:
            checked = [sets.of(name)]
        else:
            checked = list({id(s): s for s in (sets.default, *sets.own.values())}.values())
        for each in checked:
            for problem in check_tags(each, tags):
                message = f"account {name}: {problem.message}" if name else problem.message
                located = dataclasses.replace(problem, message=message)
                if located not in problems:
                    problems.append(located)
    return problems


def _account_lines(config: Config, sets: AccountRuleSets) -> list[str]:
    """Return one line per account: which rule files it runs and how many rules."""
    base = config.source.parent
    lines = []
    for account in config.accounts:
        files = ", ".join(_shown(p, base) for p in sets.files[account.name])
        ruleset = sets.of(account.name)
        how = f"own rules {account.rules_mode}" if account.rule_paths else "top-level rules"
        lines.append(
            f"account {account.name}: {plural(len(ruleset.all_rules()), 'rule')}"
            f" ({how}) from {files}"
        )
    return lines


def _shown(path: Path, base: Path) -> str:
    """Return ``path`` relative to ``base`` when it lies below it (as the config names it)."""
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _handle_accounts(args: argparse.Namespace, config: Config, problems: list[Problem]) -> int:
    """Validate every account's rule set, each against that account's tags when asked."""
    sets, rule_problems = check_account_rule_sets(config)
    problems = problems + rule_problems
    if sets is not None and not any(p.severity == "error" for p in problems):
        problems = problems + _tag_problems(args, sets.default, sets)
    errors, warnings = print_problems(problems)
    if errors or sets is None:
        print(f"invalid: {errors} error(s), {warnings} warning(s)")
        return exitcodes.USER_ERROR
    for line in _account_lines(config, sets):
        print(line)
    rules = len(sets.all_ids())
    files = len(config.every_rule_path)
    print(f"ok: {rules} rule(s) in {files} file(s), {warnings} warning(s)")
    return exitcodes.OK


def _check_config(args: argparse.Namespace) -> tuple[Config | None, list[Problem]]:
    """Load the configuration the way every other command does, when there is one to check.

    That is when ``-c`` names one, or when no rule paths are given and
    ``$TAGGER_CONFIG`` does (its rules are then the ones validated). Returns
    the config (None when invalid or not asked for) and its problems:
    warnings, or every error, each located in the file.
    """
    explicit = getattr(args, "config", None)
    if not explicit and (args.paths or not os.environ.get("TAGGER_CONFIG")):
        return None, []
    try:
        config = load_config(default_config_path(given=explicit))
    except UserError as exc:
        return None, list(exc.problems)
    return config, list(config.warnings)


def handle(args: argparse.Namespace) -> int:
    """Validate the configuration (when given) and the rules; 0 when valid, 2 otherwise."""
    config, problems = _check_config(args)
    if args.paths:
        paths = [Path(p) for p in args.paths]
    elif config is not None:
        if config.per_account_rules:
            return _handle_accounts(args, config, problems)
        paths = list(config.rule_paths)
    elif problems:
        errors, warnings = print_problems(problems)
        print(f"invalid: {errors} error(s), {warnings} warning(s)")
        return exitcodes.USER_ERROR
    else:
        paths = rule_paths_from_args(args)
    # An invalid configuration has reported its problems already: no second load.
    lists = config.lists if config is not None else () if problems else lists_from_args(args)
    ruleset, rule_problems = check_rule_files(paths, lists)
    problems = problems + rule_problems
    if ruleset is not None and not any(p.severity == "error" for p in problems):
        problems = problems + _tag_problems(args, ruleset)
    errors, warnings = print_problems(problems)
    rules = len(ruleset.all_rules()) if ruleset is not None else 0
    files = len(ruleset.files) if ruleset is not None else len(paths)
    if errors:
        print(f"invalid: {errors} error(s), {warnings} warning(s)")
        return exitcodes.USER_ERROR
    print(f"ok: {rules} rule(s) in {files} file(s), {warnings} warning(s)")
    return exitcodes.OK
