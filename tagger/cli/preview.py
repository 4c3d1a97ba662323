"""``--rule ID`` and ``--show N``: preview some rules on past mail (dry run only), list matches.

The previewed rules run alone (a disabled rule is previewed as if it were
enabled), through the same cycle as a live run, against a throw-away copy of
the state: nothing is applied and nothing of the live state changes. Every
previewed rule is listed in the summary, also when it matched nothing.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace

from tagger.audit.entry import Entry
from tagger.audit.writer import Batch
from tagger.engine.options import Runtime
from tagger.errors import Problem, UserError
from tagger.rules import RuleSet
from tagger.yamldoc.suggest import did_you_mean


def add_rule_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--rule ID`` (repeatable)."""
    parser.add_argument(
        "--rule",
        metavar="ID",
        action="append",
        help="preview only this rule (repeatable; disabled rules too); needs --dry-run",
    )


def add_show_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--show N``: list up to N matches per rule after the summary."""
    parser.add_argument(
        "--show",
        type=_count,
        default=0,
        metavar="N",
        help="list up to N matches of each rule (message, sender, subject, tags, outcome)",
    )


def _count(text: str) -> int:
    """Return ``--show``'s value; a clear error for anything but a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0 (e.g. --show 20)")
    return value


# What each outcome means to the reader of a preview.
_SAID = {
    "audit": "would apply once promoted",
    "would-apply": "would apply",
    "already-tagged": "already tagged",
}


def shown_matches(reports: Iterable[Batch], show: int) -> list[str]:
    """Return up to ``show`` matches per account and rule, each with what becomes of it.

    Given the cycle reports (their entries are kept when ``show`` > 0).
    """
    if show <= 0:
        return []
    lines: list[str] = []
    for report in reports:
        by_rule: dict[str, list[Entry]] = {}
        for entry in report.entries:
            by_rule.setdefault(entry.rule, []).append(entry)
        for rule_id in sorted(by_rule):
            mine = by_rule[rule_id]
            lines.append(
                f"account {report.account}, rule {rule_id}: {min(show, len(mine))} of"
                f" {len({e.message_id for e in mine})} matched messages"
            )
            for entry in mine[:show]:
                outcome = _SAID.get(entry.outcome, entry.outcome)
                lines.append(
                    f"  {entry.received or '-'} {entry.message_id} from {entry.sender or '-'}:"
                    f" {entry.subject!r} -> {', '.join(entry.tags)} [{outcome}]"
                )
    return lines


def check_preview(rule_ids: Sequence[str] | None, dry_run: bool) -> None:
    """Refuse ``--rule`` without a dry run (it would judge mail for one rule only, for good).

    Raises:
        UserError: rules were named and this is not a dry run.
    """
    if rule_ids and not dry_run:
        raise UserError.single(
            "--rule previews rules and needs --dry-run: a live run always runs every rule",
            file="<command line>",
        )


def preview_ruleset(ruleset: RuleSet, rule_ids: Sequence[str]) -> RuleSet:
    """Return a rule set holding only the rules ``rule_ids``, each enabled.

    Its content hash is its own (the copy of the state marks nothing processed
    under the live rule set's hash). Raises UserError naming each unknown id,
    with "did you mean".
    """
    known = {r.id: r for r in ruleset.all_rules()}
    problems = [
        Problem(
            f"no rule with id {rule_id!r}",
            file="<command line>",
            hint=did_you_mean(rule_id, known) or "rules: " + ", ".join(sorted(known)),
        )
        for rule_id in rule_ids
        if rule_id not in known
    ]
    if problems:
        raise UserError(problems)
    chosen = sorted(
        (replace(known[r], enabled=True) for r in dict.fromkeys(rule_ids)),
        key=lambda r: (-r.priority, r.id),
    )
    digest = hashlib.sha256(
        ("preview:" + ",".join(r.content_hash for r in chosen)).encode("utf-8")
    ).hexdigest()
    return RuleSet(
        rules=tuple(chosen),
        warnings=ruleset.warnings,
        content_hash=digest,
        files=ruleset.files,
    )


def preview_runtime(runtime: Runtime, rule_ids: Sequence[str]) -> None:
    """Keep only the rules ``rule_ids`` in every account's rule set (see :func:`preview_ruleset`).

    An account with a rule set of its own previews those of the rules it
    has; an id no account has is refused with "did you mean".
    """
    own = [a for a in runtime.accounts if a.ruleset is not None]
    if not own:
        runtime.ruleset = preview_ruleset(runtime.ruleset, rule_ids)
        return
    sets = [runtime.ruleset, *(a.ruleset for a in own if a.ruleset is not None)]
    known = {r.id for s in sets for r in s.all_rules()}
    unknown = [r for r in rule_ids if r not in known]
    if unknown:
        merged = RuleSet(tuple({r.id: r for s in sets for r in s.all_rules()}.values()))
        preview_ruleset(merged, unknown)
    for account in own:
        mine = runtime.ruleset_of(account)
        account.ruleset = preview_ruleset(mine, [r for r in rule_ids if mine.get(r)])
    default = runtime.ruleset
    runtime.ruleset = preview_ruleset(default, [r for r in rule_ids if default.get(r)])
