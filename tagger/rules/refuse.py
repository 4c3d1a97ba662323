"""Refuse only the rules whose tags an account lacks, instead of the whole rule set.

One rule naming a Smart Tag the account does not have (a typo, a tag not
created yet) used to stop every rule. Unless the config says
``strict_tags: true``, such rules are left out, loudly (an error event naming
each rule, its tags and what to do), and the others run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import structlog

from tagger.errors import Problem, UserError
from tagger.mimecast.models import SmartTag
from tagger.rules.model import RuleSet
from tagger.rules.tags import check_tags

log = structlog.get_logger("tagger.rules")


def unknown_tag_problems(ruleset: RuleSet, known: Iterable[SmartTag]) -> dict[str, list[Problem]]:
    """Return, per rule id, the problems of its tags that do not resolve (pure)."""
    tags = list(known)
    out: dict[str, list[Problem]] = {}
    for rule in ruleset.all_rules():
        found = [p for p in check_tags(RuleSet((rule,)), tags) if p.severity == "error"]
        if found:
            out[rule.id] = found
    return out


def without_rules(ruleset: RuleSet, rule_ids: Iterable[str]) -> RuleSet:
    """Return ``ruleset`` less ``rule_ids``, with a content hash of its own (pure).

    A hash of its own, so that mail judged without those rules is not taken
    for mail judged by the whole set once they are back.
    """
    gone = set(rule_ids)
    digest = hashlib.sha256(
        f"{ruleset.content_hash}:without:{','.join(sorted(gone))}".encode()
    ).hexdigest()
    return RuleSet(
        rules=tuple(r for r in ruleset.rules if r.id not in gone),
        disabled=tuple(r for r in ruleset.disabled if r.id not in gone),
        warnings=ruleset.warnings,
        content_hash=digest,
        files=ruleset.files,
    )


def refuse_unknown_tag_rules(ruleset: RuleSet, known: Iterable[SmartTag], account: str) -> RuleSet:
    """Return ``ruleset`` without the rules naming tags ``account`` lacks, logging each.

    Raises :class:`UserError` (every problem, located) when no enabled rule
    would be left.
    """
    refused = unknown_tag_problems(ruleset, known)
    if not refused:
        return ruleset
    kept = without_rules(ruleset, refused)
    for rule_id, problems in refused.items():
        log.error(
            "rule_refused_unknown_tags",
            account=account,
            rule=rule_id,
            problems=[str(p) for p in problems],
            action="create the Smart Tags or fix the rule, then reload; the other rules run. "
            "Mail of this period is not judged by this rule: backfill it afterwards. "
            "strict_tags: true refuses the whole rule set instead",
        )
    if not kept.rules and ruleset.rules:
        problems = [p for found in refused.values() for p in found]
        raise UserError(problems, f"every rule names Smart Tags account {account} does not have")
    return kept
