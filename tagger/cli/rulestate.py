"""Each rule's state as the state file says it, for the report (read-only, next to a daemon).

``tagger report -c CONFIG`` shows, per rule: enforcing (with the hash
promoted, under audit-first rollout), awaiting promotion since when and how
many held pairs, paused since when and why, audit mode, disabled.
"""

from __future__ import annotations

from tagger.config import Config
from tagger.errors import UserError
from tagger.rails.rollout import RuleIdentity, awaiting_promotion
from tagger.rules import RuleSet
from tagger.rules.accountsets import load_account_rule_sets
from tagger.state import StateError
from tagger.state.held import AWAITING, HeldCount
from tagger.state.opener import may_hold_a_ledger, open_state
from tagger.state.railstore import PauseRow


def rule_states(config: Config, ruleset: RuleSet) -> dict[str, str]:
    """Return rule id -> its state in words; empty when the state file cannot be read.

    Given the loaded config (its state file and rollout) and rule set.
    """
    if not may_hold_a_ledger(config):
        return {}
    try:
        with open_state(config, lock=False, readonly=True) as store:
            promoted = store.promotions()
            per_account = {a.name: store.promotions(a.name) for a in config.accounts}
            pauses = store.pauses()
            held = store.held_counts()
    except StateError:
        return {}
    identities = [RuleIdentity(r.id, r.content_hash, r.mode) for r in ruleset.all_rules()]
    waiting = set(awaiting_promotion(identities, config.rollout, promoted))
    if config.per_account_rules:
        waiting |= _awaiting_on_some_account(config, per_account)
    out: dict[str, str] = {}
    for rule in ruleset.all_rules():
        mine = [p for p in pauses if p.rule_id == rule.id]
        if not rule.enabled:
            out[rule.id] = "disabled"
        elif mine:
            out[rule.id] = _paused(mine, held)
        elif rule.id in waiting:
            out[rule.id] = _awaiting(rule.id, held)
        elif rule.mode != "enforce":
            out[rule.id] = "audit mode (never applies)"
        elif config.rollout == "audit-first":
            out[rule.id] = f"enforcing (hash {rule.content_hash[:12]} promoted)"
        else:
            out[rule.id] = "enforcing"
    return out


def _awaiting_on_some_account(
    config: Config, promoted: dict[str, set[tuple[str, str]]]
) -> set[str]:
    """Return the ids of rules awaiting promotion on at least one account (its own set)."""
    try:
        sets = load_account_rule_sets(config)
    except UserError:
        return set()
    out: set[str] = set()
    for account, pairs in promoted.items():
        rules = sets.of(account).all_rules()
        identities = [RuleIdentity(r.id, r.content_hash, r.mode) for r in rules]
        out.update(awaiting_promotion(identities, config.rollout, pairs))
    return out


def _held(rule_id: str, held: list[HeldCount], reasons: tuple[str, ...] | None = None) -> str:
    mine = [h for h in held if h.rule_id == rule_id and (reasons is None or h.reason in reasons)]
    return f"{sum(h.messages for h in mine)} messages, {sum(h.pairs for h in mine)} tags held"


def _paused(pauses: list[PauseRow], held: list[HeldCount]) -> str:
    first = min(pauses, key=lambda p: p.paused_at)
    return (
        f"paused since {first.paused_at:%Y-%m-%d %H:%M}Z ({first.reason};"
        f" {_held(first.rule_id, held)})"
    )


def _awaiting(rule_id: str, held: list[HeldCount]) -> str:
    mine = [h for h in held if h.rule_id == rule_id and h.reason == AWAITING]
    if not mine:
        return "awaiting promotion (nothing held yet)"
    since = min(h.oldest for h in mine)
    return f"awaiting promotion since {since:%Y-%m-%d %H:%M}Z ({_held(rule_id, held, (AWAITING,))})"
