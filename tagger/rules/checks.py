"""Logic checks on compiled rules, beyond what the schema can see.

* conditions that can never all hold: within one conjunction (an ``all``,
  or a rule's search criteria together with its top-level ``match``), the
  same single-valued field is required to equal values with no value in
  common, to lie in an empty range, or both to exist and not exist. These
  are errors: such a rule (or branch) is certainly a mistake. The check is
  conservative — it reports only certain contradictions, never guesses;
* a ``match`` that always holds with a search that selects everything is a
  warning: the rule would tag all mail;
* an ``any`` holding a condition and its negation always holds (reported
  through the warning above when it makes the whole match trivially true).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tagger.rules.model import CompiledRule
from tagger.rules.nodes import Node, Path
from tagger.words import show
from tagger.yamldoc.problems import Problems
from tagger.yamldoc.source import format_path

_LOWER = {"gt": True, "gte": False}  # operator -> strict?
_UPPER = {"lt": True, "lte": False}


def _conjuncts(node: Node) -> list[Node]:
    if node.kind == "all":
        return [leaf for child in node.children for leaf in _conjuncts(child)]
    if node.kind == "true":
        return []
    return [node]


def _equal_values(node: Node) -> frozenset[Any] | None:
    """The values an equals/in leaf allows (text folded), or None for other leaves."""
    leaf = node.leaf
    if leaf is None or leaf.operator.name not in ("equals", "in") or leaf.options.case_sensitive:
        return None
    operand = leaf.operand
    return operand if isinstance(operand, frozenset) else frozenset({operand})


def _contradiction(nodes: list[Node]) -> tuple[str, list[Node]] | None:
    """Return (reason, the leaves involved) when the conjunction cannot hold."""
    by_field: dict[str, list[Node]] = defaultdict(list)
    for node in nodes:
        if node.leaf is not None and not node.leaf.field.is_list:
            by_field[node.leaf.field.name].append(node)
    for name, leaves in by_field.items():
        found = _field_contradiction(name, leaves)
        if found is not None:
            return found
    return None


def _field_contradiction(name: str, leaves: list[Node]) -> tuple[str, list[Node]] | None:
    exists = {n.leaf.operand: n for n in leaves if n.leaf and n.leaf.operator.name == "exists"}
    if True in exists and False in exists:
        return f"{name} cannot both exist and not exist", [exists[True], exists[False]]
    if False in exists:
        positive = [
            n
            for n in leaves
            if n.leaf and n.leaf.operator.name != "exists" and not n.leaf.absent_passes
        ]
        if positive:
            return f"{name} must be absent but is also tested", [exists[False], positive[0]]
    allowed: frozenset[Any] | None = None
    first: Node | None = None
    for node in leaves:
        values = _equal_values(node)
        if values is None:
            continue
        if allowed is not None and first is not None and not (allowed & values):
            return (
                f"{name} cannot equal both {show(sorted(map(str, allowed)))} and "
                f"{show(sorted(map(str, values)))}",
                [first, node],
            )
        allowed = values if allowed is None else allowed & values
        first = node
    return _range_contradiction(name, leaves, allowed)


def _range_contradiction(
    name: str, leaves: list[Node], allowed: frozenset[Any] | None
) -> tuple[str, list[Node]] | None:
    low: tuple[Any, bool, Node] | None = None
    high: tuple[Any, bool, Node] | None = None
    for node in leaves:
        assert node.leaf is not None
        op, value = node.leaf.operator.name, node.leaf.operand
        if op in _LOWER and (low is None or value > low[0] or (value == low[0] and _LOWER[op])):
            low = (value, _LOWER[op], node)
        if op in _UPPER and (high is None or value < high[0] or (value == high[0] and _UPPER[op])):
            high = (value, _UPPER[op], node)
    if (
        low is not None
        and high is not None
        and (low[0] > high[0] or (low[0] == high[0] and (low[1] or high[1])))
    ):
        return f"no value of {name} is {low[2].label} and {high[2].label}", [low[2], high[2]]
    if allowed is not None and (low is not None or high is not None):
        bound = low or high
        assert bound is not None

        def inside(v: Any) -> bool:
            if not isinstance(v, type(bound[0])):
                return True
            ok_low = low is None or v > low[0] or (v == low[0] and not low[1])
            ok_high = high is None or v < high[0] or (v == high[0] and not high[1])
            return ok_low and ok_high

        if not any(inside(v) for v in allowed):
            return f"no value {name} must equal is in range ({bound[2].label})", [bound[2]]
    return None


def _report(reporter: Problems, path: Path, prefix: str, found: tuple[str, list[Node]]) -> None:
    reason, nodes = found
    where = " and ".join(format_path(n.path) for n in nodes)
    reporter.add(path, f"{prefix}: {reason}", f"see {where}", at_value=False)


def _visit(node: Node, parent_is_all: bool, reporter: Problems) -> None:
    if node.kind == "all" and not parent_is_all:
        found = _contradiction(_conjuncts(node))
        if found is not None:
            _report(reporter, node.path, "these conditions can never all hold", found)
    for child in node.children:
        _visit(child, node.kind == "all", reporter)


def always_holds(node: Node) -> bool:
    """Whether ``node`` holds for every message (only certain cases are recognised)."""
    if node.kind == "true":
        return True
    if node.kind == "all":
        return all(always_holds(c) for c in node.children)
    if node.kind == "any":
        if any(always_holds(c) for c in node.children):
            return True
        seen = {repr(c.canonical()) for c in node.children if c.kind != "not"}
        return any(
            c.kind == "not" and repr(c.children[0].canonical()) in seen for c in node.children
        )
    return False


def _narrow(rule: CompiledRule) -> bool:
    c = rule.criteria
    routes = bool(c.routes) and "all" not in c.routes
    return any((routes, c.statuses, c.attachments, c.from_, c.to, c.subject, c.sender_ip, c.url))


def check_rule(rule: CompiledRule, path: Path, reporter: Problems) -> None:
    """Report contradictions and trivially-true matches of one compiled rule."""
    found = _contradiction(_conjuncts(rule.search) + _conjuncts(rule.match))
    if found is not None:
        _report(reporter, path, "this rule can never match", found)
    _visit(rule.match, True, reporter)
    if rule.unless is not None:
        _visit(rule.unless, False, reporter)
    if always_holds(rule.match) and not _narrow(rule):
        reporter.warn(
            (*path, "match") if rule.match.kind != "true" else path,
            "this rule matches every message and its search has no criteria: it would tag all mail",
            "add search criteria (route, status, ...) or match conditions",
            at_value=False,
        )
