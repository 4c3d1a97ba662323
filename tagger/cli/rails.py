"""``tagger pause``, ``resume`` and ``promote``: the operator's side of the safety rails.

``pause RULE`` writes the same pause record a blast-radius limit writes (on
every account); ``resume RULE`` lifts either. A mistyped rule id is refused
with a did-you-mean.

Each writes one small record to the state file, next to a running daemon:
the file is opened without the single-writer lock (SQLite serialises the
write itself), and the daemon reads the records before its next apply
(kill switch) or its next cycle (pauses, promotions).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.audit.explanation import explanation_lines
from tagger.audit.sample import audit_sample
from tagger.cli.context import load
from tagger.errors import UserError
from tagger.rules import load_rules
from tagger.state import StateStore
from tagger.state.railstore import PAUSE_ALL, PauseRow
from tagger.words import plural
from tagger.yamldoc.suggest import did_you_mean

# The kind of a pause an operator asked for (no limit to raise lifts it).
MANUAL = "manual"
# How many rule ids an unknown-rule error lists when none is close.
SHOWN_IDS = 12


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``pause``, ``resume`` and ``promote`` sub-commands."""
    pause = sub.add_parser(
        "pause", parents=[parent], help="pause a rule on every account (or --all: every apply)"
    )
    pause.add_argument("rule", nargs="?", help="the rule's id")
    pause.add_argument("--reason", metavar="TEXT", help="why (shown by status and in the logs)")
    pause.add_argument("--all", action="store_true", help="the kill switch: every rule, account")
    pause.set_defaults(handler=handle_pause)
    resume = sub.add_parser("resume", parents=[parent], help="lift a rule's pause (or --all)")
    resume.add_argument("rule", nargs="?", help="the paused rule's id")
    resume.add_argument("--all", action="store_true", help="lift the kill switch")
    resume.set_defaults(handler=handle_resume)
    promote = sub.add_parser(
        "promote", parents=[parent], help="let a rule awaiting promotion apply its tags"
    )
    promote.add_argument("rule", help="the rule's id")
    promote.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    promote.set_defaults(handler=handle_promote)


def _now() -> datetime:
    return datetime.now(UTC)


def unknown_rule(rule_id: str, known: Iterable[str], files: Iterable[Path]) -> UserError:
    """Return the error for a rule id the rule files do not hold, with a did-you-mean."""
    ids = sorted(set(known))
    close = did_you_mean(rule_id, ids)
    listed = ", ".join(ids[:SHOWN_IDS]) + (", ..." if len(ids) > SHOWN_IDS else "")
    where = ", ".join(str(f) for f in files) or "the configured rule files"
    return UserError.single(
        f"unknown rule {rule_id!r}: no rule has this id in {where}",
        hint=close or (f"the rules are: {listed}" if ids else "the rule files hold no rule"),
    )


def _rule_ids(paths: Iterable[Path]) -> set[str] | None:
    """Return every rule id in the rule files (disabled ones too); None when they do not load."""
    try:
        ruleset = load_rules(list(paths))
    except UserError:
        return None
    return {r.id for r in ruleset.all_rules()}


def handle_pause(args: argparse.Namespace) -> int:
    """Pause one rule on every account, or turn the kill switch on (``--all``).

    A rule's pause is the record a blast-radius limit writes (kind ``manual``,
    no limit): the daemon reads it before its next cycle, and ``tagger resume
    RULE`` lifts it.
    """
    config = load(args)
    if args.all == bool(args.rule):
        raise UserError.single(
            "name one rule to pause, or --all to stop every apply (the kill switch)",
            hint="tagger pause RULE [--reason TEXT], or tagger pause --all",
        )
    if args.rule:
        known = _rule_ids(config.rule_paths)
        if known is not None and args.rule not in known:
            raise unknown_rule(args.rule, known, config.rule_paths)
    with StateStore.open(config.state_path, lock=False) as store:
        if args.all:
            store.set_switch(PAUSE_ALL, True, _now())
            print(
                "every apply is paused (cycles still search and audit);"
                " 'tagger resume --all' lifts it"
            )
            return exitcodes.OK
        reason = args.reason or "paused by an operator (tagger pause)"
        at = _now()
        for account in config.accounts:
            store.add_pause(PauseRow(account.name, args.rule, reason, 0, 0, MANUAL, at))
    names = ", ".join(a.name for a in config.accounts)
    print(
        f"rule {args.rule!r} paused on {plural(len(config.accounts), 'account')} ({names}):"
        " it applies"
        f" nothing from the next cycle; 'tagger resume {args.rule}' lifts it"
    )
    return exitcodes.OK


def handle_resume(args: argparse.Namespace) -> int:
    """Lift the kill switch (``--all``) or a rule's pause on every account."""
    config = load(args)
    if not args.all and not args.rule:
        raise UserError.single("name the rule to resume, or --all to lift the kill switch")
    with StateStore.open(config.state_path, lock=False) as store:
        if args.all:
            store.set_switch(PAUSE_ALL, False, _now())
            print("the kill switch is off: applies resume with the next cycle")
        if args.rule:
            paused = {p.rule_id for p in store.pauses()}
            known = _rule_ids(config.rule_paths)
            if args.rule not in paused and known is not None and args.rule not in known:
                raise unknown_rule(args.rule, known | paused, config.rule_paths)
            lifted = store.lift_pause(args.rule)
            if not lifted:
                others = ", ".join(sorted(paused)) or "none"
                print(f"rule {args.rule!r} is not paused (paused rules: {others})", file=sys.stderr)
                return exitcodes.FAILURE
            print(f"rule {args.rule!r} resumed on {plural(lifted, 'account')}")
    return exitcodes.OK


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
    latest = plural(len(sample), "audit-only match", "audit-only matches")
    print(f"its latest {latest} (from {path}):")
    for entry in sample:
        tags = ", ".join(str(t) for t in entry.get("tags") or [])
        print(
            f"  {entry.get('received') or entry.get('timestamp')} {entry.get('message_id')}"
            f" from {entry.get('sender')}: {entry.get('subject')!r} -> {tags}"
        )
        for line in explanation_lines(entry.get("explanation")):
            print(f"      {line}")


def handle_promote(args: argparse.Namespace) -> int:
    """Show the rule's audit results, confirm, then record its id and content hash."""
    config = load(args)
    ruleset = load_rules(list(config.rule_paths))
    rule = ruleset.by_id.get(args.rule)
    if rule is None:
        known = {r.id for r in ruleset.all_rules()}
        if args.rule in known:
            raise UserError.single(
                f"rule {args.rule!r} is disabled (enabled: false): nothing to promote",
                hint="enable it and reload; it then audits until promoted",
            )
        raise unknown_rule(args.rule, known, config.rule_paths)
    with StateStore.open(config.state_path, lock=False) as store:
        if (rule.id, rule.content_hash) in store.promotions():
            print(f"rule {rule.id!r} is already promoted in its current definition")
            return exitcodes.OK
        cycles, matches = store.audited_since(rule.id)
        found = plural(matches, "audit-only match", "audit-only matches")
        print(
            f"rule {rule.id!r} (hash {rule.content_hash[:12]}): {found} over"
            f" {plural(cycles, 'cycle')} since it appeared; see 'tagger report' on the audit"
            " file for each match with its explanation"
        )
        if config.audit_path is not None:
            _print_sample(config.audit_path, rule.id, rule.content_hash)
        if not args.yes:
            if not sys.stdin.isatty():
                print(
                    "refusing to promote without confirmation: no terminal to ask on;"
                    " run again with --yes",
                    file=sys.stderr,
                )
                return exitcodes.FAILURE
            answer = input(f"promote {rule.id!r}: it will apply its tags from now on [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("not promoted")
                return exitcodes.FAILURE
        store.promote(rule.id, rule.content_hash, _now())
    print(f"rule {rule.id!r} promoted: it applies its tags from the next cycle")
    return exitcodes.OK
