"""How long state rows are kept, and pruning the older ones.

Rows older than the longest look-back any search can make can no longer be
reached by a scheduled cycle; the daemon deletes them at most hourly.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from tagger.config import Config
from tagger.rules import RuleSet
from tagger.state import StateStore

__all__ = ["RULE_HISTORY_KEEP", "keep_for", "prune", "retention"]

log = structlog.get_logger("tagger.engine")


def keep_for(config: Config, ruleset: RuleSet, *more: RuleSet) -> timedelta:
    """Return how long state rows are kept: the longest look-back any search can make.

    That is the longest of the first-start look-back, the catch-up limit and
    every rule's own look-back (of ``ruleset`` and of the accounts' own sets
    in ``more``), plus the overlap and a day (see :func:`retention`). Pure.
    """
    w = config.window
    own = [s.longest_lookback or timedelta(0) for s in (ruleset, *more)]
    longest = max(w.initial_lookback, w.max_catchup, *own)
    return retention(longest, w.overlap)


def retention(longest_lookback: timedelta, overlap: timedelta) -> timedelta:
    """Return how long state rows are kept: the longest look-back plus the overlap and a day.

    Rows older than that can no longer be reached by a scheduled cycle (the
    day covers clock changes). Pure.
    """
    return longest_lookback + overlap + timedelta(days=1)


# The rails read 7 days of per-rule cycle figures (tagger.engine.guard.HISTORY_SPAN);
# a day more so that a short retention never shortens their averages.
RULE_HISTORY_KEEP = timedelta(days=8)


def prune(state: StateStore, now: datetime, keep: timedelta) -> dict[str, int]:
    """Delete state rows older than ``now - keep``; return the counts per table.

    The per-cycle rule figures (``rule_cycles``) go too, but never those of
    the last :data:`RULE_HISTORY_KEEP`, which the rails' trailing averages and
    24-hour limits read whatever the retention.
    """
    counts = state.prune(now - keep)
    counts["rule_cycles"] = state.prune_rule_cycles(now - max(keep, RULE_HISTORY_KEEP))
    # Held pairs still held stay whatever their age (a cycle expires them, said in
    # the audit report); those resolved (applied, dropped, expired) go with the rest.
    counts["held"] = state.prune_held(now - keep)
    log.info("state_pruned", older_than=(now - keep).isoformat(), **counts)
    return counts
