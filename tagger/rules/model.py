"""The compiled, immutable forms of rules, rule sets and decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from tagger.errors import Problem
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.models import Message
from tagger.rules.context import Context
from tagger.rules.meta import RuleMeta
from tagger.rules.nodes import Node

if TYPE_CHECKING:
    from tagger.rules.explain import RuleTrace

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
    schedule: str | None
    search: Node
    match: Node
    unless: Node | None
    needs_info: bool
    content_hash: str
    source: tuple[str, int]
    tag_sources: tuple[tuple[str, int, int, str], ...] = ()
    examples: tuple[Example, ...] = field(default=(), compare=False)
    meta: RuleMeta = field(default=RuleMeta(), compare=False)

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
class RuleSet:
    """Every loaded rule: enabled ones in evaluation order, disabled ones kept aside.

    ``rules`` is sorted by priority, highest first; rules of equal priority are
    ordered by id (their order never changes the result: ``stop`` only skips
    rules of strictly lower priority).
    """

    rules: tuple[CompiledRule, ...]
    disabled: tuple[CompiledRule, ...] = ()
    warnings: tuple[Problem, ...] = ()
    content_hash: str = ""
    files: tuple[str, ...] = ()

    def all_rules(self) -> tuple[CompiledRule, ...]:
        """Return enabled and disabled rules, enabled first."""
        return self.rules + self.disabled

    def get(self, rule_id: str) -> CompiledRule | None:
        """Return the rule (enabled or not) with ``rule_id``, or None."""
        return next((r for r in self.all_rules() if r.id == rule_id), None)


@dataclass(frozen=True, slots=True)
class Decision:
    """A rule that matched a message: the tags to apply, the mode, and why.

    ``explanation`` renders to text with :func:`tagger.rules.explain.render`
    and to JSON with its ``to_dict()``.
    """

    rule_id: str
    tags: tuple[str, ...]
    mode: Mode
    explanation: RuleTrace

    def explanation_json(self) -> dict[str, Any]:
        """Return the explanation as JSON-able data (for the audit report)."""
        return self.explanation.to_dict()
