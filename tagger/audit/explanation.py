"""Explanations stored in audit entries, rendered back to text.

An entry's ``explanation`` is the JSON form of a rule trace
(:meth:`tagger.rules.explain.RuleTrace.to_dict`); these functions accept any
JSON value and never fail on a shape they do not know (older files).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tagger.words import seen_text

MARKS = {True: "✓", False: "✗", None: "?"}


def _seen(value: Any) -> str:
    """Render a seen value as ``tagger explain`` does (one way everywhere)."""
    return seen_text(value)


def _walk(node: Any, depth: int, out: list[str]) -> None:
    if not isinstance(node, Mapping):
        return
    mark = MARKS.get(node.get("result"), "?")
    line = f"{'  ' * depth}{mark} {node.get('condition', '')}"
    if "field" in node:
        line += f"    (seen: {_seen(node.get('seen'))})"
    if isinstance(node.get("matched"), str):
        line += f"    (matched: {node['matched']})"
    out.append(line)
    children = node.get("children")
    if isinstance(children, list):
        for child in children:
            _walk(child, depth + 1, out)


def explanation_lines(explanation: Any) -> list[str]:
    """Return the explanation as indented lines (✓ held, ✗ failed, ? unknown)."""
    if not isinstance(explanation, Mapping):
        return [] if explanation is None else [_seen(explanation)]
    out: list[str] = []
    for part in ("search", "match", "unless"):
        node = explanation.get(part)
        if isinstance(node, Mapping):
            out.append(f"{part}:")
            _walk(node, 1, out)
    return out


def _held_leaves(node: Any, out: list[str]) -> None:
    if not isinstance(node, Mapping):
        return
    children = node.get("children")
    if isinstance(children, list) and children:
        for child in children:
            _held_leaves(child, out)
    elif node.get("result") is True and "field" in node:
        line = f"{node.get('condition', '')} (seen: {_seen(node.get('seen'))})"
        if isinstance(node.get("matched"), str):
            line += f" (matched: {node['matched']})"
        out.append(line)


def why(explanation: Any) -> str:
    """Return the conditions of ``match`` that held, on one line (empty when unknown)."""
    if not isinstance(explanation, Mapping):
        return ""
    out: list[str] = []
    _held_leaves(explanation.get("match"), out)
    return "; ".join(out)
