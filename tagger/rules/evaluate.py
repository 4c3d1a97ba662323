"""Evaluate a rule set against a message: a pure function returning decisions.

Order and ``stop``: rules run by priority, highest first. When an enforce
rule with ``stop: true`` matches, rules of strictly lower priority are not
evaluated for that message (rules of the same priority still are, so their
order never matters). An audit rule's ``stop`` has no effect: audit rules
never change what is applied.

Without message info (``message.info is None``) a rule whose outcome
depends on an info-level field is unknown and yields no decision; callers
first ask :func:`prefilter` and fetch the info when any rule says None.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from tagger.mimecast.models import Message, TrackedEmail
from tagger.rules.context import Context
from tagger.rules.explain import RuleTrace, trace_node
from tagger.rules.model import CompiledRule, Decision, RuleSet


def trace_rule(rule: CompiledRule, ctx: Context, note: str = "") -> RuleTrace:
    """Evaluate ``rule`` for the message in ``ctx`` with a full trace (on demand only)."""
    return RuleTrace(
        rule_id=rule.id,
        mode=rule.mode,
        priority=rule.priority,
        tags=rule.tags,
        result=None if note else rule.test(ctx),
        search=trace_node(rule.search, ctx),
        match=trace_node(rule.match, ctx),
        unless=trace_node(rule.unless, ctx) if rule.unless is not None else None,
        note=note,
    )


def _walk(ruleset: RuleSet, ctx: Context) -> Iterator[tuple[CompiledRule, bool | None, str]]:
    """Yield (rule, outcome, note) in evaluation order; skipped rules carry a note."""
    stop_at: int | None = None
    stopper = ""
    for rule in ruleset.rules:
        if stop_at is not None and rule.priority < stop_at:
            yield rule, False, f"not evaluated: {stopper} (priority {stop_at}) matched with stop"
            continue
        outcome = rule.test(ctx)
        yield rule, outcome, ""
        if outcome is True and rule.stop and rule.mode == "enforce" and stop_at is None:
            stop_at, stopper = rule.priority, rule.id


def evaluate(ruleset: RuleSet, message: Message) -> tuple[Decision, ...]:
    """Return the decisions of every enabled rule that matches ``message``.

    Given the compiled rules and a message (summary plus info when fetched).
    Honours priority, ``stop``, ``unless`` and mode: audit decisions are
    included, marked by ``mode``. Each decision can explain itself: its trace
    is built only when :attr:`Decision.explanation` is read (the audit
    report, ``tagger explain``), never for a decision nobody looks at.
    Pure: no I/O, no clock; never raises on missing or null fields.
    """
    ctx = Context(message)
    return tuple(
        Decision(rule.id, rule.tags, rule.mode, partial(trace_rule, rule, ctx))
        for rule, outcome, _ in _walk(ruleset, ctx)
        if outcome is True
    )


def explain_message(
    ruleset: RuleSet, message: Message, *, include_disabled: bool = True
) -> list[RuleTrace]:
    """Return a trace for every rule, in evaluation order, as :func:`evaluate` sees it.

    Rules skipped because of ``stop`` carry a note; disabled rules (when
    included) come last, noted as disabled, with their conditions traced.
    """
    ctx = Context(message)
    traces = [trace_rule(rule, ctx, note) for rule, _, note in _walk(ruleset, ctx)]
    if include_disabled:
        traces += [trace_rule(rule, ctx, "disabled (enabled: false)") for rule in ruleset.disabled]
    return traces


def rule_outcome(rule: CompiledRule, message: Message) -> bool | None:
    """Return whether ``rule`` alone matches ``message`` (None: needs message info)."""
    return rule.test(Context(message))


def prefilter(rule: CompiledRule, summary: TrackedEmail) -> bool | None:
    """Evaluate ``rule`` with search-level fields only.

    Returns False when the rule cannot match whatever the message info says
    (skip the info call), True when it matches without info, and None when the
    outcome depends on info-level fields.
    """
    return rule.test(Context(Message(summary, None)))
