"""Audit-first rollout: a new or changed rule only audits until it is promoted (pure).

Under ``rollout: audit-first`` a rule runs in audit mode (it is evaluated and
reported, nothing is applied) until ``tagger promote RULE`` records its id and
content hash. A change to the rule's definition changes its hash, so the
changed rule audits again until it is promoted again; a reload keeps the
promotions of unchanged rules. ``rollout: enforce`` turns this off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Literal

Rollout = Literal["audit-first", "enforce"]
ROLLOUTS: tuple[Rollout, ...] = ("audit-first", "enforce")


@dataclass(frozen=True, slots=True)
class RuleIdentity:
    """What a promotion is recorded against: the rule's id, hash and configured mode."""

    id: str
    content_hash: str
    mode: str


def awaiting_promotion(
    rules: Iterable[RuleIdentity], rollout: Rollout, promoted: Set[tuple[str, str]]
) -> list[str]:
    """Return the ids of enforce-mode rules that must audit until promoted, in order.

    Given the rules, the rollout policy and the promoted (rule id, content
    hash) pairs; a rule configured as ``audit`` never awaits promotion.
    """
    if rollout == "enforce":
        return []
    return [r.id for r in rules if r.mode == "enforce" and (r.id, r.content_hash) not in promoted]


def effective_modes(
    rules: Iterable[RuleIdentity], rollout: Rollout, promoted: Set[tuple[str, str]]
) -> Mapping[str, str]:
    """Return each rule's mode for this run: ``audit`` while it awaits promotion."""
    rules = list(rules)
    waiting = set(awaiting_promotion(rules, rollout, promoted))
    return {r.id: "audit" if r.id in waiting else r.mode for r in rules}
