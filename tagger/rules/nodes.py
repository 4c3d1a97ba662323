"""Compiled condition trees: nodes holding closures built once at load time.

A node's ``test(ctx)`` returns ``True``, ``False`` or ``None`` (unknown: a
field needs message info that is absent). Groups combine children with
Kleene logic: ``all`` is False as soon as one child is False, ``any`` True
as soon as one is True, ``not unknown`` is unknown. With message info
present nothing is unknown, so the logic is plain boolean logic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tagger.rules.context import FOLDED_PREFIX, UNKNOWN, Context
from tagger.rules.field_model import TEXTUAL, Field
from tagger.rules.operands import Options
from tagger.rules.operators import Operator
from tagger.yamldoc.source import format_path

Test = Callable[[Context], bool | None]
Detail = Callable[[Context], str | None]
NodeKind = Literal["all", "any", "not", "leaf", "true"]
Elements = Literal["any", "all"]
Path = tuple[str | int, ...]
_DEFAULT_OPTIONS = Options()
_MISS = object()


@dataclass(frozen=True, slots=True)
class Leaf:
    """A field test: ``field``, operator, operand as written and modifiers.

    ``absent_passes`` is set for the implicit re-checks of a rule's search
    criteria: a value the message does not carry cannot contradict the
    search that found it.
    """

    field: Field
    operator: Operator
    operand: Any
    raw: Any
    options: Options = _DEFAULT_OPTIONS
    elements: Elements = "any"
    absent_passes: bool = False


@dataclass(frozen=True, eq=False, slots=True)
class Node:
    """A compiled condition: its kind, where it was written, and its test.

    ``detail``, when set, says for explanations what made the test hold
    (an ``in_list`` test: which list entry matched).
    """

    kind: NodeKind
    path: Path
    test: Test
    children: tuple[Node, ...] = ()
    leaf: Leaf | None = None
    label: str = ""
    where: str = ""
    detail: Detail | None = None

    def fields(self) -> frozenset[str]:
        """Return the names of every field this node (and its children) reads."""
        if self.leaf is not None:
            field = self.leaf.field
            return frozenset({field.name, field.base} - {None})  # type: ignore[arg-type]
        return frozenset().union(*(c.fields() for c in self.children))

    def canonical(self) -> Any:
        """Return a JSON-able form that is equal exactly when the conditions are."""
        if self.leaf is not None:
            leaf = self.leaf
            return {
                "field": leaf.field.name,
                "op": leaf.operator.name,
                "value": _jsonable(leaf.raw),
                "case_sensitive": leaf.options.case_sensitive,
                "flags": sorted(leaf.options.flags),
                "elements": leaf.elements,
                "absent_passes": leaf.absent_passes,
            }
        if self.kind == "true":
            return True
        return {self.kind: [c.canonical() for c in self.children]}


def _jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def always_true(path: Path) -> Node:
    """Return a node that always holds (a rule without ``match``)."""
    return Node("true", path, lambda ctx: True, label="(no conditions)", where=format_path(path))


def group(kind: Literal["all", "any"], children: Sequence[Node], path: Path) -> Node:
    """Return an ``all``/``any`` node over ``children`` (at least one)."""
    tests = tuple(c.test for c in children)
    test = _all(tests) if kind == "all" else _any(tests)
    return Node(kind, path, test, tuple(children), label=kind, where=format_path(path))


def negate(child: Node, path: Path) -> Node:
    """Return a ``not`` node over ``child``."""
    inner = child.test

    def test(ctx: Context) -> bool | None:
        result = inner(ctx)
        return None if result is None else not result

    return Node("not", path, test, (child,), label="not", where=format_path(path))


def _all(tests: tuple[Test, ...]) -> Test:
    if len(tests) == 1:
        return tests[0]

    def test(ctx: Context) -> bool | None:
        unknown = False
        for t in tests:
            result = t(ctx)
            if result is False:
                return False
            if result is None:
                unknown = True
        return None if unknown else True

    return test


def _any(tests: tuple[Test, ...]) -> Test:
    if len(tests) == 1:
        return tests[0]

    def test(ctx: Context) -> bool | None:
        unknown = False
        for t in tests:
            result = t(ctx)
            if result is True:
                return True
            if result is None:
                unknown = True
        return None if unknown else False

    return test


def reads_folded(leaf: Leaf) -> bool:
    """Whether the leaf's predicate expects case-folded text values."""
    op = leaf.operator
    if op.name == "domain":
        return True
    # A shared list knows how its entries were normalised.
    folds = getattr(leaf.operand, "reads_folded", None)
    if isinstance(folds, bool):
        return folds
    return op.folds and leaf.field.kind in TEXTUAL and not leaf.options.case_sensitive


def leaf_node(leaf: Leaf, path: Path, label: str) -> Node:
    """Return the node testing ``leaf`` (the predicate is built here, once)."""
    name = leaf.field.name
    if leaf.operator.name == "exists":
        test = _exists_test(name, bool(leaf.operand))
        return Node("leaf", path, test, leaf=leaf, label=label, where=format_path(path))
    # The hot path reads the per-message cache directly and loads on a miss.
    key = FOLDED_PREFIX + name if reads_folded(leaf) else name
    pred = leaf.operator.build(leaf.operand, leaf.field, leaf.options)
    absent: bool = leaf.absent_passes
    if not leaf.field.is_list:

        def test(ctx: Context) -> bool | None:
            value = ctx.cache.get(key, _MISS)
            if value is _MISS:
                value = ctx.load(key)
            if value is None:
                return absent
            if value is UNKNOWN:
                return None
            return pred(value)

    elif leaf.elements == "all":

        def test(ctx: Context) -> bool | None:
            values = ctx.cache.get(key, _MISS)
            if values is _MISS:
                values = ctx.load(key)
            if values is UNKNOWN:
                return None
            # "All elements" needs at least one: an empty list is not evidence.
            if not values:
                return absent
            return all(pred(v) for v in values)

    else:

        def test(ctx: Context) -> bool | None:
            values = ctx.cache.get(key, _MISS)
            if values is _MISS:
                values = ctx.load(key)
            if values is UNKNOWN:
                return None
            if not values:
                return absent
            return any(pred(v) for v in values)

    describe = getattr(leaf.operand, "matched_entry", None)
    detail = _detail(key, describe) if describe is not None else None
    return Node("leaf", path, test, leaf=leaf, label=label, where=format_path(path), detail=detail)


def _detail(key: str, describe: Callable[[Any], str | None]) -> Detail:
    """Return what says which values of the field ``key`` made a test hold (explanations only)."""

    def detail(ctx: Context) -> str | None:
        value = ctx.value(key)
        if value is UNKNOWN or value is None:
            return None
        if not isinstance(value, tuple):
            return describe(value)
        # A list field: say which of its values matched.
        found = [(v, describe(v)) for v in value]
        return "; ".join(f"'{v}': {d}" for v, d in found if d) or None

    return detail


def _exists_test(name: str, want: bool) -> Test:
    def test(ctx: Context) -> bool | None:
        value = ctx.value(name)
        if value is UNKNOWN:
            return None
        present = not (value is None or value == ())
        return present is want

    return test
