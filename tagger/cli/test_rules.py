"""``tagger test``: run every rule's inline ``examples``.

Prints ``PASS``/``FAIL`` per example (a failure shows the expected and the
actual tags and the evaluation tree), then a summary. Exit 0 when all pass,
1 when any fails, 2 when the rules are invalid.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from tagger import exitcodes
from tagger.cli.common import (
    add_rule_paths,
    config_with_account_rules,
    print_problems,
    rule_sources_from_args,
)
from tagger.errors import Problem
from tagger.rules import RuleSet, check_rule_files, render
from tagger.rules.accountsets import check_account_rule_sets
from tagger.rules.context import Context
from tagger.rules.evaluate import trace_rule
from tagger.rules.examples import ExampleResult, run_examples


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``test`` sub-command."""
    parser = sub.add_parser("test", parents=[parent], help="run the rules' inline examples")
    add_rule_paths(parser)
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print failures and the summary only"
    )
    parser.add_argument(
        "--account",
        metavar="NAME",
        help="run the examples of this account's rules (default: every account's)",
    )
    parser.set_defaults(handler=handle)


def _show(tags: tuple[str, ...]) -> str:
    return "[" + ", ".join(tags) + "]"


def _failure(result: ExampleResult) -> str:
    line = f"FAIL {result.label}: expected {_show(result.example.expect)} got {_show(result.got)}"
    if result.reason:
        line += f" ({result.reason})"
    source = f"{result.example.source[0]}:{result.example.source[1]}"
    if result.example.message is None:
        return f"{line}\n    at {source}"
    trace = trace_rule(result.rule, Context(result.example.message))
    return f"{line}\n    at {source}\n" + textwrap.indent(render(trace), "    ")


def _every_account(args: argparse.Namespace) -> tuple[RuleSet | None, list[Problem]]:
    """Return every account's rules as one set (each definition once) when accounts differ.

    (None, []) when the command names rule paths or an account, or reads no
    configuration in which an account names rule files of its own.
    """
    config = None if getattr(args, "account", None) else config_with_account_rules(args)
    if config is None:
        return None, []
    sets, problems = check_account_rule_sets(config)
    if sets is None:
        return None, problems
    rules = {
        (r.id, r.content_hash): r
        for ruleset in (sets.default, *sets.own.values())
        for r in ruleset.all_rules()
    }
    return RuleSet(tuple(rules.values())), problems


def handle(args: argparse.Namespace) -> int:
    """Run the examples; return 0 if all pass, 1 if any fails, 2 if rules are invalid."""
    ruleset, problems = _every_account(args)
    if ruleset is None and not problems:
        ruleset, problems = check_rule_files(*rule_sources_from_args(args))
    errors, _ = print_problems(problems)
    if ruleset is None:
        print(f"invalid: {errors} error(s); no example was run")
        return exitcodes.USER_ERROR
    results = run_examples(ruleset)
    for result in results:
        if not result.passed:
            print(_failure(result))
        elif not args.quiet:
            print(f"PASS {result.label}")
    failed = sum(1 for r in results if not r.passed)
    untested = [r.id for r in ruleset.all_rules() if not r.examples]
    summary = f"{len(results) - failed} passed, {failed} failed"
    if untested:
        summary += f"; rules without examples: {', '.join(untested)}"
    print(summary)
    return exitcodes.FAILURE if failed else exitcodes.OK
