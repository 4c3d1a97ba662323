"""Explanations: which conditions held or failed for a message, with the values seen.

A trace is built by walking the same compiled nodes the evaluator runs
(:func:`tagger.rules.evaluate.trace_rule`, only when an explanation is
asked for: the audit report, ``tagger explain``, a failing example), and
each node's result is the node's own ``test`` (never recomputed another way),
so an explanation cannot disagree with a decision. Traces render to text
(:func:`render`, ✓ held, ✗ failed, ? unknown without message info) and to
JSON-able dicts (``to_dict``) for the audit report.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tagger.rules.context import UNKNOWN, Context
from tagger.rules.nodes import Node
from tagger.words import UNKNOWN_SEEN, seen_text

MARKS = {True: "✓", False: "✗", None: "?"}
_UNKNOWN_TEXT = UNKNOWN_SEEN


def _plain(value: Any) -> Any:
    """Return a JSON-able rendering of a field value."""
    if value is UNKNOWN:
        return _UNKNOWN_TEXT
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True, slots=True)
class Trace:
    """One evaluated node: its label, result and (for field tests) the value seen."""

    label: str
    result: bool | None
    path: str
    children: tuple[Trace, ...] = ()
    field: str | None = None
    seen: Any = None
    # What made a held test hold, when the test can say (the list entry an in_list matched).
    matched: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the trace as JSON-able data."""
        out: dict[str, Any] = {"condition": self.label, "result": self.result, "path": self.path}
        if self.field is not None:
            out["field"] = self.field
            out["seen"] = self.seen
        if self.matched is not None:
            out["matched"] = self.matched
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """The evaluation of one rule for one message.

    ``result`` is the rule's outcome (None: unknown without message info);
    ``note`` says why a rule was not evaluated (stopped by a higher rule).
    """

    rule_id: str
    mode: str
    priority: int
    tags: tuple[str, ...]
    result: bool | None
    search: Trace
    match: Trace
    unless: Trace | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the trace as JSON-able data."""
        return {
            "rule": self.rule_id,
            "mode": self.mode,
            "priority": self.priority,
            "tags": list(self.tags),
            "result": self.result,
            "note": self.note,
            "search": self.search.to_dict(),
            "match": self.match.to_dict(),
            "unless": self.unless.to_dict() if self.unless is not None else None,
        }


def trace_node(node: Node, ctx: Context) -> Trace:
    """Evaluate ``node`` for the message in ``ctx`` and record every child's outcome."""
    children = tuple(trace_node(c, ctx) for c in node.children)
    result = node.test(ctx)
    if node.leaf is None:
        return Trace(node.label, result, node.where, children)
    name = node.leaf.field.name
    matched = node.detail(ctx) if node.detail is not None and result else None
    return Trace(node.label, result, node.where, (), name, _plain(ctx.value(name)), matched)


def _render_trace(trace: Trace, depth: int, lines: list[str]) -> None:
    text = f"{'  ' * depth}{MARKS[trace.result]} {trace.label}"
    if trace.field is not None:
        seen = trace.seen
        text += f"    (seen: {seen_text(seen)})"
    if trace.matched is not None:
        text += f"    (matched: {trace.matched})"
    lines.append(text)
    for child in trace.children:
        _render_trace(child, depth + 1, lines)


def render(trace: RuleTrace | Trace) -> str:
    """Render a rule trace (or a condition trace) as indented text."""
    lines: list[str] = []
    if isinstance(trace, Trace):
        _render_trace(trace, 0, lines)
        return "\n".join(lines)
    outcome = {True: "MATCH", False: "no match", None: "unknown without message info"}
    head = f"{MARKS[trace.result]} {trace.rule_id} [{trace.mode}, priority {trace.priority}]"
    head += f": {outcome[trace.result]}"
    if trace.result:
        head += " → " + ", ".join(trace.tags)
    if trace.note:
        head = f"- {trace.rule_id} [{trace.mode}, priority {trace.priority}]: {trace.note}"
    lines.append(head)
    for title, part in (("search", trace.search), ("match", trace.match), ("unless", trace.unless)):
        if part is None:
            continue
        lines.append(f"  {title}:")
        _render_trace(part, 2, lines)
    return "\n".join(lines)
