"""``tagger completion SHELL`` and ``tagger manpage``: shell completion and the manual page.

Both are generated from the argument parser itself (``args.root_parser``, set
by :func:`tagger.cli.main.build_parser`), so they never fall behind the
commands. Completion scripts come from shtab: static scripts, so pressing Tab
never starts Python (argcomplete would run tagger, importing the HTTP client
and the rest, on every Tab). Only where a rule id is wanted (``promote``,
``resume``, ``pause``, ``--rule``) does the script ask ``tagger completion
--rule-ids`` for the ids of the configured rules (``$TAGGER_CONFIG``, else
/etc/tagger/config.yaml, else ./rules).
"""

from __future__ import annotations

import argparse
from typing import Any

from tagger import exitcodes

SHELLS = ("bash", "zsh", "tcsh", "fish")
# What the scripts run to complete a rule id (errors silenced: no ids, no noise).
RULE_IDS_COMMAND = "tagger completion --rule-ids 2>/dev/null"


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``completion`` and ``manpage`` sub-commands."""
    parser = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script for SHELL. bash: "
        "tagger completion bash > /etc/bash_completion.d/tagger; zsh: "
        'tagger completion zsh > "${fpath[1]}/_tagger"; fish: '
        "tagger completion fish > ~/.config/fish/completions/tagger.fish. Rule ids"
        " (promote, resume, pause, --rule) are completed from the configured rules.",
    )
    parser.add_argument("shell", nargs="?", choices=SHELLS, metavar="SHELL", help=", ".join(SHELLS))
    parser.add_argument(
        "--rule-ids",
        action="store_true",
        help="print the ids of the configured rules, one a line (what the scripts complete)",
    )
    parser.add_argument("-c", "--config", metavar="FILE", help=argparse.SUPPRESS)
    parser.set_defaults(handler=handle_completion)
    page = sub.add_parser(
        "manpage",
        help="print the manual page (roff): tagger manpage > /usr/local/share/man/man1/tagger.1",
    )
    page.set_defaults(handler=handle_manpage)


def handle_completion(args: argparse.Namespace) -> int:
    """Print the completion script (or, with ``--rule-ids``, the rule ids); 0, 2 without SHELL."""
    if args.rule_ids:
        print("\n".join(rule_ids(args)))
        return exitcodes.OK
    if args.shell is None:
        from tagger.errors import UserError

        raise UserError.single(
            "name the shell: tagger completion " + "|".join(SHELLS), file="<command line>"
        )
    import shtab  # imported here: only this command needs it

    _complete_rule_ids(args.root_parser, shtab.cmd(RULE_IDS_COMMAND))  # shtab >= 1.9
    print(shtab.complete(args.root_parser, shell=args.shell))
    return exitcodes.OK


def _complete_rule_ids(parser: argparse.ArgumentParser, how: Any) -> None:
    """Mark every argument that takes a rule id (``RULE``, ``--rule``) to complete with ``how``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _complete_rule_ids(sub, how)
        elif action.dest == "rule" or "--rule" in action.option_strings:
            action.complete = how  # type: ignore[attr-defined]


def rule_ids(args: argparse.Namespace) -> list[str]:
    """Return the ids of the configured rules, sorted; none when they cannot be read."""
    from tagger.cli.common import config_with_account_rules, rule_paths_from_args
    from tagger.errors import UserError
    from tagger.rules import check_rule_files
    from tagger.rules.accountsets import check_account_rule_sets

    args.paths = []
    try:
        config = None if getattr(args, "account", None) else config_with_account_rules(args)
        if config is not None:
            # Every account's rules when accounts run sets of their own.
            sets, _ = check_account_rule_sets(config)
            return sorted(sets.all_ids()) if sets is not None else []
        ruleset, _ = check_rule_files(rule_paths_from_args(args))
    except (UserError, OSError):
        return []
    return sorted(r.id for r in ruleset.all_rules()) if ruleset is not None else []


def handle_manpage(args: argparse.Namespace) -> int:
    """Print the manual page; 0."""
    from tagger.cli.manpage import render

    print(render(args.root_parser), end="")
    return exitcodes.OK
