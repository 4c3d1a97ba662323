"""Queries: the distinct searches a rule set needs, and when each one is due (pure).

Rules with equal search criteria share one search (a query). A query whose
rules all carry their own ``schedule`` longer than the configured interval is
searched only when that schedule is due; skipping it in between is safe
because its window runs from its own watermark, so the next search covers the
time skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from tagger.mimecast.criteria import SearchCriteria
from tagger.rules import CompiledRule, RuleSet
from tagger.rules.durations import parse_duration


@dataclass(frozen=True, slots=True)
class Query:
    """One distinct search: the criteria shared by a group of rules."""

    criteria: SearchCriteria
    lookback: timedelta | None
    rules: tuple[CompiledRule, ...]

    @property
    def key(self) -> str:
        """Return the watermark key of this query."""
        return self.criteria.key()

    @property
    def schedule(self) -> timedelta | None:
        """Return the query's own poll interval, or None to follow the configured one.

        Only when every rule of the query sets ``schedule`` does the query have
        its own interval: the shortest of them (one rule without an override
        needs the search at every cycle).
        """
        every: list[timedelta] = []
        for rule in self.rules:
            value = _duration(rule.schedule)
            if value is None:
                return None
            every.append(value)
        return min(every) if every else None


def _duration(text: str | None) -> timedelta | None:
    """Return the parsed rule duration, None when absent (compiled rules are valid)."""
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError:
        return None


def group_queries(ruleset: RuleSet) -> list[Query]:
    """Group the rule set's rules by their search criteria.

    Rules with equal criteria share one search; the group looks back as far as
    its furthest-looking rule (None when no rule sets a look-back).
    """
    groups: dict[SearchCriteria, list[CompiledRule]] = {}
    for rule in ruleset.rules:
        groups.setdefault(rule.criteria, []).append(rule)
    out = []
    for criteria, rules in groups.items():
        lookbacks = [r.lookback for r in rules if r.lookback is not None]
        out.append(Query(criteria, max(lookbacks) if lookbacks else None, tuple(rules)))
    return out


def not_due(
    queries: Iterable[Query],
    last_searched: Mapping[str, datetime],
    now: datetime,
    interval: timedelta,
) -> frozenset[str]:
    """Return the keys of the queries whose own schedule is not due at ``now``.

    Given the queries, when each was last searched, the current time and the
    configured interval. A query is skipped only when its schedule is longer
    than ``interval`` and less than that schedule has passed since its last
    search; half an interval of slack keeps a 15m rule on a 5m interval from
    slipping to 20m because a cycle started a moment early.
    """
    skip: set[str] = set()
    for query in queries:
        every = query.schedule
        last = last_searched.get(query.key)
        if every is None or every <= interval or last is None:
            continue
        if now - last + interval / 2 < every:
            skip.add(query.key)
    return frozenset(skip)
