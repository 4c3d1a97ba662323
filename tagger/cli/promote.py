"""``tagger promote``: let a rule awaiting promotion apply its tags.

Shows the rule's held pairs and its latest audit-only matches with their
explanations, asks, then records the promotion (its id and content hash)
on every account or on each account whose rule set holds it (``--account``:
that one). The next cycle applies the held pairs of this definition
(:mod:`tagger.cli.releaseprompt`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.audit.explanation import explanation_lines
from tagger.audit.sample import audit_sample
from tagger.cli.context import load
from tagger.cli.held import describe, drop_stale
from tagger.cli.releaseprompt import (
    add_release_options,
    applied_note,
    refused,
    release_held,
    rule_backlog,
)
from tagger.cli.ruletargets import add_account_option, rule_targets
from tagger.errors import UserError
from tagger.rules import CompiledRule
from tagger.rules.accountsets import load_account_rule_sets
from tagger.state.held import AWAITING
from tagger.state.opener import open_state
from tagger.state.railstore import EVERY_ACCOUNT
from tagger.words import plural

__all__ = ["handle_promote", "register"]


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``promote`` sub-command."""
    promote = sub.add_parser(
        "promote", parents=[parent], help="let a rule awaiting promotion apply its tags"
    )
    promote.add_argument("rule", help="the rule's id")
    add_account_option(promote, "promote the rule")
    add_release_options(promote)
    promote.set_defaults(handler=handle_promote)


def _now() -> datetime:
    return datetime.now(UTC)


def handle_promote(args: argparse.Namespace) -> int:
    """Show the rule's held pairs and audit sample, confirm, then record its id and hash.

    The promotion holds on every account when every account runs the
    top-level rules (no ``accounts[].rules``); else on each account whose
    rule set holds the rule (``--account``: that one), for its definition
    there. The next cycle applies the held pairs of this definition (or none
    with ``--from-now``); those of earlier definitions are dropped.
    """
    config = load(args)
    sets = load_account_rule_sets(config)
    targets = rule_targets(config, sets, args.rule, args.account)
    disabled = [name for name, rule in targets if not rule.enabled]
    if disabled:
        where = "" if not config.per_account_rules else f" on {', '.join(disabled)}"
        raise UserError.single(
            f"rule {args.rule!r} is disabled (enabled: false){where}: nothing to promote",
            hint="enable it and reload; it then audits until promoted",
        )
    shared = args.account is None and not config.per_account_rules
    with open_state(config, lock=False) as store:
        now = _now()
        names = [name for name, _ in targets]
        held = store.held_rows(rule_ids=[args.rule])
        rows = [r for r in held if r.reason == AWAITING and (shared or r.account in names)]
        backlog = rule_backlog(rows, now, sets, args.rule)
        todo = [(n, r) for n, r in targets if (r.id, r.content_hash) not in store.promotions(n)]
        if not todo:
            where = "" if shared else _on(names)
            print(f"rule {args.rule!r} is already promoted in its current definition{where}")
            if backlog.stale:
                drop_stale(store, backlog, now, config.audit_path)
            return exitcodes.OK
        for rule in _definitions(todo):
            print(f"rule {rule.id!r} (hash {rule.content_hash[:12]}) awaits promotion")
        for line in describe(backlog, "held until promoted"):
            print(line)
        print("see 'tagger report' on the audit file for each match with its explanation")
        if config.audit_path is not None:
            for rule in _definitions(todo):
                _print_sample(config.audit_path, rule.id, rule.content_hash)
        where = "" if shared else _on([n for n, _ in todo])
        question = f"promote {args.rule!r}{where}: it applies its tags"
        answer = release_held(store, backlog, args, config.audit_path, question)
        if answer is not True:
            return refused(answer, "promote")
        at = _now()
        for name, rule in todo:
            store.promote(rule.id, rule.content_hash, at, EVERY_ACCOUNT if shared else name)
    print(
        f"rule {args.rule!r} promoted{where}: it applies its tags from the"
        f" next cycle; held: {applied_note(backlog, args.from_now)}"
    )
    return exitcodes.OK


def _on(accounts: list[str]) -> str:
    """Return `` on account a, b`` for a message (empty for the single-rule-set case)."""
    if not accounts:
        return ""
    return f" on {plural(len(accounts), 'account')} ({', '.join(accounts)})"


def _definitions(targets: list[tuple[str, CompiledRule]]) -> list[CompiledRule]:
    """Return the distinct definitions (content hashes) of the rule among ``targets``."""
    return list({r.content_hash: r for _, r in targets}.values())


def _print_sample(path: Path, rule_id: str, content_hash: str) -> None:
    """Print up to five of the rule's latest audit-only matches with their explanations."""
    try:
        sample = audit_sample(path, rule_id, content_hash)
    except OSError as exc:
        print(f"cannot read the audit file {path}: {exc.strerror or exc}", file=sys.stderr)
        return
    if not sample:
        print(f"no audit-only match of this definition in {path} yet")
        return
    print(f"its latest {len(sample)} audit-only matches (from {path}):")
    for entry in sample:
        tags = ", ".join(str(t) for t in entry.get("tags") or [])
        print(
            f"  {entry.get('received') or entry.get('timestamp')} {entry.get('message_id')}"
            f" from {entry.get('sender')}: {entry.get('subject')!r} -> {tags}"
        )
        for line in explanation_lines(entry.get("explanation")):
            print(f"      {line}")
