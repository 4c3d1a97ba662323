"""``tagger explain``: show how every rule evaluates one message.

Given ``--message FILE.json`` (get-message-info JSON, envelope or
``data[0]``, or ``{"info": ..., "summary": ...}``) and optionally
``--summary FILE.json`` (the message-finder search item) — or ``--id
MESSAGE_ID``, read from the configured account — prints each rule's
evaluation tree with ✓ (held), ✗ (failed) or ? (unknown without message
info) and the values seen, in evaluation order, then the decisions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.cli.common import (
    add_rule_paths,
    print_problems,
    rule_sources_from_args,
)
from tagger.errors import Problem, UserError
from tagger.mimecast.models import Message
from tagger.rules import CompiledRule, check_rule_files, evaluate, explain_message, render
from tagger.rules.messages import load_message, summary_from_info
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
        "--account", metavar="NAME", help="account to ask with --id (default: the first)"
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


def _with_meta(trace: dict[str, Any], rule: CompiledRule | None) -> dict[str, Any]:
    """Return a rule's trace with its metadata (owner, references, dates) when it has any."""
    meta = rule.meta.to_json() if rule is not None else {}
    return {**trace, "meta": meta} if meta else trace


def handle(args: argparse.Namespace) -> int:
    """Print the evaluation of every rule for the message; 0, or 2 on invalid input."""
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
    if args.json:
        out = {
            "message": message.id,
            "info": message.info is not None,
            "decisions": [
                {"rule": d.rule_id, "tags": list(d.tags), "mode": d.mode} for d in decisions
            ],
            "rules": [_with_meta(t.to_dict(), ruleset.get(t.rule_id)) for t in traces],
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return exitcodes.OK
    source = "search summary and message info" if message.info else "search summary only"
    print(f"message {message.id} ({source})\n")
    for trace in traces:
        rule = ruleset.get(trace.rule_id)
        about = [f"  {line}" for line in rule.meta.lines()] if rule is not None else []
        head, _, tree = render(trace).partition("\n")
        print("\n".join([head, *about, tree]) + "\n")
    if not decisions:
        print("decisions: none")
    for decision in decisions:
        print(f"decision: {decision.rule_id} [{decision.mode}] → {', '.join(decision.tags)}")
    return exitcodes.OK
