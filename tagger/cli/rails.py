"""``tagger pause``, ``resume`` and ``promote``: the operator's side of the safety rails.

Each writes one small record to the state file, next to a running daemon:
the file is opened without the single-writer lock (SQLite serialises the
write itself). The daemon reads the kill switch and the pauses again at the
moment each apply is sent, and ``pause`` returns only once the running
process has confirmed that no apply of it reaches Mimecast any more
(:mod:`tagger.cli.stopwait`); promotions count from its next cycle.
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
from tagger.cli.stopwait import DEFAULT_WAIT_S, confirm_stop
from tagger.errors import UserError
from tagger.rules import load_rules
from tagger.state import StateStore
from tagger.state.railstore import PAUSE_ALL


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``pause``, ``resume`` and ``promote`` sub-commands."""
    pause = sub.add_parser("pause", parents=[parent], help="stop every apply at once (--all)")
    pause.add_argument("--all", action="store_true", required=True, help="every rule, account")
    pause.add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=f"how long to wait for a running tagger to confirm (default {DEFAULT_WAIT_S:g})",
    )
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
    """Turn the kill switch on, then wait for a running tagger to confirm it stopped applying.

    Exits 0 once confirmed (or when no tagger process has the state open), 1
    when the process holding the state did not confirm within ``--wait``
    seconds (the switch is stored all the same).
    """
    config = load(args)
    with StateStore.open(config.state_path, lock=False) as store:
        store.set_switch(PAUSE_ALL, True, _now())
        confirmed = confirm_stop(store, config.state_path, args.wait)
    if not confirmed.confirmed:
        print(f"the kill switch is on, but {confirmed.text}", file=sys.stderr)
        return exitcodes.FAILURE
    print(
        "every apply is paused (cycles still search and audit): "
        f"{confirmed.text}; 'tagger resume --all' lifts it"
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
            lifted = store.lift_pause(args.rule)
            if not lifted:
                print(f"rule {args.rule!r} is not paused", file=sys.stderr)
                return exitcodes.FAILURE
            print(f"rule {args.rule!r} resumed on {lifted} account(s)")
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
    print(f"its latest {len(sample)} audit-only matches (from {path}):")
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
        raise UserError.single(f"no rule {args.rule!r} in the rule files")
    with StateStore.open(config.state_path, lock=False) as store:
        if (rule.id, rule.content_hash) in store.promotions():
            print(f"rule {rule.id!r} is already promoted in its current definition")
            return exitcodes.OK
        cycles, matches = store.audited_since(rule.id)
        print(
            f"rule {rule.id!r} (hash {rule.content_hash[:12]}): {matches} audit-only matches"
            f" over {cycles} cycles since it appeared; see 'tagger report' on the audit file"
            " for each match with its explanation"
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
