"""The compiled, immutable forms of rules, rule sets and decisions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from tagger.errors import Problem
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.models import Message
from tagger.rules.context import Context
from tagger.rules.explain import RuleTrace
from tagger.rules.meta import RuleMeta
from tagger.rules.nodes import Node

Mode = Literal["enforce", "audit"]


@dataclass(frozen=True, slots=True)
class Example:
    """One inline test case of a rule: a message and the tags the rule should give it.

    ``message`` is None when the example could not be loaded (the loader has
    reported why). ``source`` is ``(file, line)`` of the example.
    """

    index: int
    name: str
    message: Message | None
    expect: tuple[str, ...]
    source: tuple[str, int]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule, compiled once: conditions are closures, criteria are data.

    ``search`` holds the implicit re-checks of the search criteria (a message
    found by another rule's search cannot match this rule); ``match`` holds
    when the rule applies and ``unless`` holds for its exceptions.
    """

    id: str
    description: str
    enabled: bool
    mode: Mode
    priority: int
    stop: bool
    tags: tuple[str, ...]
    criteria: SearchCriteria
    lookback: timedelta | None
    schedule: timedelta | None
    search: Node
    match: Node
    unless: Node | None
    needs_info: bool
    content_hash: str
    tag_sources: tuple[tuple[str, int, int, str], ...] = ()
    examples: tuple[Example, ...] = field(default=(), compare=False)
    meta: RuleMeta = field(default=RuleMeta(), compare=False)
    # Own (per_cycle, per_day) apply limits over the configured ones; None: not set.
    max_applies: tuple[int | None, int | None] = (None, None)

    def test(self, ctx: Context) -> bool | None:
        """Return whether the rule matches: search ∧ match ∧ ¬unless, three-valued."""
        found = self.search.test(ctx)
        if found is False:
            return False
        matched = self.match.test(ctx)
        if matched is False:
            return False
        excepted = self.unless.test(ctx) if self.unless is not None else False
        if excepted is True:
            return False
        if found is None or matched is None or excepted is None:
            return None
        return True


@dataclass(frozen=True, slots=True)
class Query:
    """One distinct search: the criteria shared by a group of rules, compiled once.

    ``lookback`` is the furthest look-back of its rules (None when none sets
    one). ``schedule`` is the query's own poll interval, or None to follow the
    configured one: only when every rule of the query sets ``schedule`` does
    the query have its own interval, the shortest of them (one rule without
    an override needs the search at every cycle). ``key`` names its watermark.
    """

    criteria: SearchCriteria
    rules: tuple[CompiledRule, ...]
    key: str
    lookback: timedelta | None
    schedule: timedelta | None
    rule_ids: frozenset[str]

    @classmethod
    def of(cls, criteria: SearchCriteria, rules: tuple[CompiledRule, ...]) -> Query:
        """Return the query of ``rules``, which share ``criteria``."""
        lookbacks = [r.lookback for r in rules if r.lookback is not None]
        schedules = [r.schedule for r in rules]
        every = [s for s in schedules if s is not None]
        own = min(every) if every and len(every) == len(schedules) else None
        return cls(
            criteria,
            rules,
            criteria.key(),
            max(lookbacks) if lookbacks else None,
            own,
            frozenset(r.id for r in rules),
        )


def group_queries(rules: tuple[CompiledRule, ...]) -> tuple[Query, ...]:
    """Group rules by their search criteria: rules with equal criteria share one search."""
    groups: dict[SearchCriteria, list[CompiledRule]] = {}
    for rule in rules:
        groups.setdefault(rule.criteria, []).append(rule)
    return tuple(Query.of(criteria, tuple(members)) for criteria, members in groups.items())


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every loaded rule: enabled ones in evaluation order, disabled ones kept aside.

    ``rules`` is sorted by priority, highest first; rules of equal priority are
    ordered by id (their order never changes the result: ``stop`` only skips
    rules of strictly lower priority). ``queries`` are the distinct searches of
    the enabled rules, compiled once with the rules.
    """

    rules: tuple[CompiledRule, ...]
    disabled: tuple[CompiledRule, ...] = ()
    warnings: tuple[Problem, ...] = ()
    content_hash: str = ""
    files: tuple[str, ...] = ()
    queries: tuple[Query, ...] = field(init=False, compare=False, repr=False)
    by_id: dict[str, CompiledRule] = field(init=False, compare=False, repr=False)
    longest_lookback: timedelta | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "queries", group_queries(self.rules))
        object.__setattr__(self, "by_id", {r.id: r for r in self.rules})
        lookbacks = [r.lookback for r in self.rules if r.lookback is not None]
        object.__setattr__(self, "longest_lookback", max(lookbacks) if lookbacks else None)

    def query_mark(self, query_key: str) -> str:
        """Return the key under which messages are marked processed for one query.

        The rule set's content hash (a changed rule set judges everything
        again) plus a digest of the query key.
        """
        digest = hashlib.sha256(query_key.encode("utf-8")).hexdigest()[:16]
        return f"{self.content_hash}:{digest}"

    def all_rules(self) -> tuple[CompiledRule, ...]:
        """Return enabled and disabled rules, enabled first."""
        return self.rules + self.disabled

    def get(self, rule_id: str) -> CompiledRule | None:
        """Return the rule (enabled or not) with ``rule_id``, or None."""
        return next((r for r in self.all_rules() if r.id == rule_id), None)


@dataclass(frozen=True, slots=True)
class Decision:
    """A rule that matched a message: the tags to apply, the mode, and why.

    ``explain`` builds the explanation when asked (:attr:`explanation`); it
    renders to text with :func:`tagger.rules.explain.render` and to JSON with
    its ``to_dict()``. Building it walks every condition again, so it is
    done only for the audit report and ``tagger explain``.
    """

    rule_id: str
    tags: tuple[str, ...]
    mode: Mode
    explain: Callable[[], RuleTrace] = field(compare=False, repr=False)

    @property
    def explanation(self) -> RuleTrace:
        """Return the trace of the rule for the message (built on each call)."""
        return self.explain()

    def explanation_json(self) -> dict[str, Any]:
        """Return the explanation as JSON-able data (for the audit report)."""
        return self.explanation.to_dict()
