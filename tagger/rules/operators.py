"""Leaf operators: which field kinds each applies to, its operand, its test.

An operator turns the operand written in YAML into a normalised operand
(or raises :class:`~tagger.rules.operands.OperandError` with a plain
message; the parsers are in :mod:`tagger.rules.operands`), and builds a
predicate over one field value. For list fields the caller applies the
predicate to each element (``elements: any`` or ``all``).

Text comparison folds case (``str.casefold``) unless the condition sets
``case_sensitive: true``; regexes then use RE2's case-insensitive mode.
Domains are always compared case-insensitively.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tagger.rules.field_model import ALL_KINDS, EQUATABLE, ORDERED, TEXTUAL, Field, Kind
from tagger.rules.matchers import glob_predicate, regex_predicate
from tagger.rules.operands import (
    Options,
    parse_cidr,
    parse_domain,
    parse_exists,
    parse_glob,
    parse_in,
    parse_list_name,
    parse_ordered,
    parse_regex,
    parse_scalar,
    parse_texts,
)

Predicate = Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class Operator:
    """One leaf operator.

    ``folds`` says whether it reads case-folded text (when not case-sensitive).
    ``parse(operand, field, options)`` returns the normalised operand;
    ``build(operand, field, options)`` returns the predicate over one value.
    """

    name: str
    kinds: frozenset[Kind]
    description: str
    example: str
    folds: bool
    parse: Callable[[Any, Field, Options], Any]
    build: Callable[[Any, Field, Options], Predicate]


def _domain_of(value: str) -> str:
    return value.rpartition("@")[2].rstrip(".")


def _build_domain(domains: tuple[str, ...], field: Field, options: Options) -> Predicate:
    exact = frozenset(domains)
    suffixes = tuple("." + d for d in domains)

    def test(value: str) -> bool:
        dom = _domain_of(value)
        return dom in exact or dom.endswith(suffixes)

    return test


def _build_cidr(networks: tuple[Any, ...], field: Field, options: Options) -> Predicate:
    # An address is never "in" a network of the other IP version.
    return lambda value: any(value.version == net.version and value in net for net in networks)


def _op(
    name: str,
    kinds: frozenset[Kind],
    description: str,
    example: str,
    folds: bool,
    parse: Callable[[Any, Field, Options], Any],
    build: Callable[[Any, Field, Options], Predicate],
) -> Operator:
    return Operator(name, kinds, description, example, folds, parse, build)


OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        _op(
            "equals",
            EQUATABLE,
            "The value equals the operand.",
            "equals: inbound",
            True,
            parse_scalar,
            lambda o, f, x: lambda v: v == o,
        ),
        _op(
            "in",
            EQUATABLE,
            "The value equals one of the listed operands.",
            "in: [inbound, outbound]",
            True,
            parse_in,
            lambda o, f, x: lambda v: v in o,
        ),
        _op(
            "contains",
            TEXTUAL,
            "The value contains the text (or any of a list).",
            "contains: invoice",
            True,
            parse_texts,
            lambda o, f, x: lambda v: any(t in v for t in o),
        ),
        _op(
            "startswith",
            TEXTUAL,
            "The value starts with the text (or any of a list).",
            "startswith: '[EXTERNAL]'",
            True,
            parse_texts,
            lambda o, f, x: lambda v: v.startswith(o),
        ),
        _op(
            "endswith",
            TEXTUAL,
            "The value ends with the text (or any of a list).",
            "endswith: [.exe, .js]",
            True,
            parse_texts,
            lambda o, f, x: lambda v: v.endswith(o),
        ),
        _op(
            "glob",
            TEXTUAL,
            "The whole value matches a shell pattern (* ? [abc] [!abc]).",
            "glob: 'invoice_*.pdf'",
            False,
            parse_glob,
            lambda o, f, x: glob_predicate(o),
        ),
        _op(
            "regex",
            TEXTUAL,
            "An RE2 regular expression matches somewhere in the value.",
            "regex: 'wire\\s+transfer'",
            False,
            parse_regex,
            lambda o, f, x: regex_predicate(o),
        ),
        _op(
            "domain",
            frozenset({"address", "domain"}),
            "The address or domain is in the domain or one of its subdomains.",
            "domain: example.com",
            True,
            parse_domain,
            _build_domain,
        ),
        _op(
            "cidr",
            frozenset({"ip"}),
            "The IP address is in the network (IPv4 or IPv6).",
            "cidr: [10.0.0.0/8, '2001:db8::/32']",
            False,
            parse_cidr,
            _build_cidr,
        ),
        _op(
            "gt",
            ORDERED,
            "Greater than.",
            "gt: 5",
            False,
            parse_ordered,
            lambda o, f, x: lambda v: v > o,
        ),
        _op(
            "gte",
            ORDERED,
            "Greater than or equal.",
            "gte: 5",
            False,
            parse_ordered,
            lambda o, f, x: lambda v: v >= o,
        ),
        _op(
            "lt",
            ORDERED,
            "Less than.",
            "lt: 1000",
            False,
            parse_ordered,
            lambda o, f, x: lambda v: v < o,
        ),
        _op(
            "lte",
            ORDERED,
            "Less than or equal.",
            "lte: 1000",
            False,
            parse_ordered,
            lambda o, f, x: lambda v: v <= o,
        ),
        _op(
            "exists",
            ALL_KINDS,
            "The field has a value (a list: at least one element); "
            "'exists: false' holds when it has none.",
            "exists: true",
            False,
            parse_exists,
            lambda o, f, x: lambda v: True,
        ),
        _op(
            "in_list",
            TEXTUAL,
            "The value is in the shared list of that name (declared under 'lists:' in the "
            "config): a domains list matches subdomains too.",
            "in_list: newsletters",
            True,
            parse_list_name,
            # The compiler resolves the name to the list (tagger.rules.lists_ref.ListRef).
            lambda o, f, x: o.test,
        ),
    )
}


def operators_for(kind: Kind) -> tuple[str, ...]:
    """Return the names of the operators that apply to fields of ``kind``."""
    return tuple(name for name, op in OPERATORS.items() if kind in op.kinds)


def operand_values(operand: Any) -> Sequence[Any]:
    """Return the operand as a sequence of plain values (for messages and hashing)."""
    if isinstance(operand, frozenset):
        return sorted(operand, key=repr)
    if isinstance(operand, tuple):
        return [getattr(o, "pattern", o) for o in operand]
    return [operand]
