"""``tagger explain``: show how every rule evaluates one message.

Given ``--message FILE.json`` (get-message-info JSON, envelope or
``data[0]``, or ``{"info": ..., "summary": ...}``) and optionally
``--summary FILE.json`` (the message-finder search item) — or ``--id
MESSAGE_ID``, read from the configured account — prints each rule's
evaluation tree with ✓ (held), ✗ (failed) or ? (unknown without message
info) and the values seen, in evaluation order, then the decisions. The
message is named by its sender, subject and received time; with a
configuration, a rule that awaits ``tagger promote`` is marked audit-only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.cli.common import (
    add_rule_paths,
    default_account,
    print_problems,
    rule_sources_from_args,
)
from tagger.errors import Problem, UserError
from tagger.mimecast.models import Message
from tagger.monitor.snapshot import awaiting_rules
from tagger.rules import CompiledRule, RuleSet, check_rule_files, evaluate, explain_message, render
from tagger.rules.messages import load_message, summary_from_info
from tagger.words import show
from tagger.yamldoc.suggest import did_you_mean


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``explain`` sub-command."""
    parser = sub.add_parser(
        "explain", parents=[parent], help="show how the rules evaluate one message"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--message", metavar="FILE", help="message info JSON")
    source.add_argument(
        "--id",
        dest="message_id",
        metavar="MESSAGE_ID",
        help="read the message's info from the account (needs -c)",
    )
    parser.add_argument(
        "--account",
        metavar="NAME",
        help="account whose rules explain the message, and which --id asks (default: the first)",
    )
    parser.add_argument("--summary", metavar="FILE", help="search result item JSON")
    parser.add_argument("--rule", metavar="ID", action="append", help="only show these rules")
    parser.add_argument("--json", action="store_true", help="print the traces as JSON")
    add_rule_paths(parser)
    parser.set_defaults(handler=handle)


def _message(args: argparse.Namespace) -> Message:
    """Return the message to explain: from ``--message`` (and ``--summary``) or the account."""
    if args.message_id is None:
        return load_message(Path(args.message), Path(args.summary) if args.summary else None)
    if args.summary:
        raise UserError.single("--summary goes with --message, not --id", file="<command line>")
    # Imported here: only --id needs the configuration and the HTTP client.
    from tagger.cli.context import load
    from tagger.cli.fetch import fetch_info, pick_account

    config = load(args)
    info = asyncio.run(fetch_info(pick_account(config, args.account), args.message_id))
    return Message(summary_from_info(info), info)


def _awaiting(args: argparse.Namespace, ruleset: RuleSet) -> set[str] | None:
    """Return the rules awaiting ``tagger promote`` per the config's state, or None.

    Only with a configuration (``-c``, ``$TAGGER_CONFIG`` or ``--id``): its
    rollout and the promotions in its state file decide (a missing state file
    has none). None when there is no configuration to ask.
    """
    if not (getattr(args, "config", None) or os.environ.get("TAGGER_CONFIG") or args.message_id):
        return None
    from tagger.cli.context import config_path
    from tagger.config import load_config
    from tagger.state import StateError
    from tagger.state.opener import may_hold_a_ledger, open_state

    config = load_config(config_path(args))
    promoted: set[tuple[str, str]] = set()
    if may_hold_a_ledger(config):
        try:
            with open_state(config, lock=False, readonly=True) as store:
                promoted = store.promotions(getattr(args, "account", None))
        except StateError:
            return None
    return set(awaiting_rules(ruleset, config.rollout, promoted))


def _about(message: Message) -> list[str]:
    """Return the lines naming the message: sender, subject, when it was received."""
    summary = message.summary
    sender = summary.from_hdr.email or summary.from_env.email
    received = summary.received.isoformat() if summary.received else None
    return [
        f"  from:     {show(sender)}",
        f"  subject:  {show(summary.subject)}",
        f"  received: {received or 'absent'}",
    ]


def _mode(rule_id: str, mode: str, awaiting: set[str] | None) -> str:
    """Return a rule's mode as it runs now: audit-only while awaiting promotion."""
    if mode == "audit":
        return "audit-only: mode audit"
    if awaiting is not None and rule_id in awaiting:
        return "audit-only: awaiting promotion"
    return mode


def _with_meta(trace: dict[str, Any], rule: CompiledRule | None) -> dict[str, Any]:
    """Return a rule's trace with its metadata (owner, references, dates) when it has any."""
    meta = rule.meta.to_json() if rule is not None else {}
    return {**trace, "meta": meta} if meta else trace


def handle(args: argparse.Namespace) -> int:
    """Print the evaluation of every rule for the message; 0, or 2 on invalid input."""
    if args.account is None:
        args.account = default_account(args)
        if args.account is not None:
            print(
                f"accounts run rule sets of their own: explaining with those of account"
                f" {args.account} (--account NAME for another)",
                file=sys.stderr,
            )
    message = _message(args)
    ruleset, problems = check_rule_files(*rule_sources_from_args(args))
    errors, _ = print_problems(problems)
    if ruleset is None:
        print(f"invalid: {errors} error(s)")
        return exitcodes.USER_ERROR
    traces = explain_message(ruleset, message)
    known = [r.id for r in ruleset.all_rules()]
    for wanted in args.rule or ():
        if wanted not in known:
            raise UserError(
                [Problem(f"no rule with id {wanted!r}", hint=did_you_mean(wanted, known))]
            )
    if args.rule:
        traces = [t for t in traces if t.rule_id in set(args.rule)]
    decisions = evaluate(ruleset, message)
    awaiting = _awaiting(args, ruleset)
    if args.json:
        summary = message.summary
        out = {
            "message": message.id,
            "info": message.info is not None,
            "sender": summary.from_hdr.email or summary.from_env.email,
            "subject": summary.subject,
            "received": summary.received.isoformat() if summary.received else None,
            "awaiting_promotion": None if awaiting is None else sorted(awaiting),
            "decisions": [
                {
                    "rule": d.rule_id,
                    "tags": list(d.tags),
                    "mode": d.mode,
                    "awaiting_promotion": awaiting is not None and d.rule_id in awaiting,
                }
                for d in decisions
            ],
            "rules": [_with_meta(t.to_dict(), ruleset.get(t.rule_id)) for t in traces],
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return exitcodes.OK
    source = "search summary and message info" if message.info else "search summary only"
    print("\n".join([f"message {message.id} ({source})", *_about(message)]) + "\n")
    for trace in traces:
        rule = ruleset.get(trace.rule_id)
        about = [f"  {line}" for line in rule.meta.lines()] if rule is not None else []
        if awaiting is not None and trace.rule_id in awaiting:
            about.insert(0, f"  audit-only: awaits `tagger promote {trace.rule_id}`")
        head, _, tree = render(trace).partition("\n")
        print("\n".join([head, *about, tree]) + "\n")
    if not decisions:
        print("decisions: none")
    for decision in decisions:
        mode = _mode(decision.rule_id, decision.mode, awaiting)
        print(f"decision: {decision.rule_id} [{mode}] → {', '.join(decision.tags)}")
    return exitcodes.OK
