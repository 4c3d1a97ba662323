"""Run the inline ``examples`` of rules: the engine behind ``tagger test``.

Each example is evaluated against its own rule alone (priority and ``stop``
between rules play no part), so an example's result never depends on which
other rule files are loaded. Disabled rules' examples run too.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagger.rules.evaluate import rule_outcome
from tagger.rules.model import CompiledRule, Example, RuleSet


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """The outcome of one example: what was expected, what the rule gave, and why."""

    rule: CompiledRule
    example: Example
    passed: bool
    got: tuple[str, ...]
    reason: str = ""

    @property
    def label(self) -> str:
        """Return ``rule-id example#n`` (with the example's name when it has one)."""
        name = f" ({self.example.name})" if self.example.name else ""
        return f"{self.rule.id} example#{self.example.index}{name}"


def run_example(rule: CompiledRule, example: Example) -> ExampleResult:
    """Evaluate one example of ``rule`` and compare with its expected tags."""
    if example.message is None:
        return ExampleResult(rule, example, False, (), "the example's message did not load")
    outcome = rule_outcome(rule, example.message)
    if outcome is None:
        reason = "the rule needs message info and the example gives only a search summary"
        return ExampleResult(rule, example, False, (), reason)
    got = rule.tags if outcome else ()
    return ExampleResult(rule, example, sorted(got) == sorted(example.expect), got)


def run_examples(ruleset: RuleSet) -> list[ExampleResult]:
    """Run every example of every rule (enabled or not), in evaluation order."""
    return [run_example(rule, ex) for rule in ruleset.all_rules() for ex in rule.examples]
