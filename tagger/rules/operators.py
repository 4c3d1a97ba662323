"""Leaf operators: which field kinds each applies to, its operand, its test.

An operator turns the operand written in YAML into a normalised operand
(or raises :class:`OperandError` with a plain message), and builds a
predicate over one field value. For list fields the caller applies the
predicate to each element (``elements: any`` or ``all``).

Text comparison folds case (``str.casefold``) unless the condition sets
``case_sensitive: true``; regexes then use RE2's case-insensitive mode.
Domains are always compared case-insensitively.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tagger.mimecast.models import parse_time
from tagger.rules.field_model import Field, Kind
from tagger.rules.matchers import (
    PatternError,
    compile_glob,
    compile_regex,
    glob_predicate,
    regex_predicate,
)

Predicate = Callable[[Any], bool]

TEXTUAL: frozenset[Kind] = frozenset({"text", "address", "domain"})
ORDERED: frozenset[Kind] = frozenset({"number", "time"})
EQUATABLE: frozenset[Kind] = frozenset({"text", "address", "domain", "ip", "number", "bool"})
ALL_KINDS: frozenset[Kind] = frozenset(
    {"text", "address", "domain", "ip", "number", "bool", "time"}
)


class OperandError(ValueError):
    """The operand does not fit the operator or the field; ``hint`` suggests a fix."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Options:
    """Per-condition modifiers that change how an operator compares."""

    case_sensitive: bool = False
    flags: tuple[str, ...] = ()


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


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if value is None:
        return "null"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a mapping"
    return repr(value)


def _text(value: Any, field: Field) -> str:
    if isinstance(value, str):
        return value
    hint = "quote the value in YAML" if isinstance(value, (bool, int, float)) else ""
    raise OperandError(
        f"{field.name} is {field.type_name}: expected text, got {_describe(value)}", hint
    )


def _texts(value: Any, field: Field) -> tuple[str, ...]:
    """A string or a non-empty list of non-empty strings."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise OperandError("an empty list never matches")
    out = tuple(_text(v, field) for v in items)
    if any(not v for v in out):
        raise OperandError("empty text matches every value", "remove it, or use 'exists: true'")
    return out


def _number(value: Any, field: Field) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    hint = "remove the quotes" if isinstance(value, str) and _is_number(value) else ""
    raise OperandError(f"{field.name} is a number: expected a number, got {_describe(value)}", hint)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _time(value: Any, field: Field) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    parsed = parse_time(value) if isinstance(value, str) else None
    if parsed is None:
        raise OperandError(
            f"{field.name} is a time: expected a timestamp, got {_describe(value)}",
            "write e.g. 2026-01-31T09:00:00Z",
        )
    return parsed


def _ip(value: Any, field: Field) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    text = _text(value, field)
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        hint = "use 'cidr' for a network" if "/" in text else ""
        raise OperandError(f"{text!r} is not an IP address", hint) from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _scalar(value: Any, field: Field, options: Options) -> Any:
    """An equality operand of the field's kind (text is folded unless case-sensitive)."""
    if field.kind in TEXTUAL:
        text = _text(value, field)
        return text if options.case_sensitive else text.casefold()
    if field.kind == "number":
        return _number(value, field)
    if field.kind == "ip":
        return _ip(value, field)
    if isinstance(value, bool):
        return value
    raise OperandError(
        f"{field.name} is a boolean: expected true or false, got {_describe(value)}",
        "write true or false without quotes",
    )


def _parse_in(value: Any, field: Field, options: Options) -> frozenset[Any]:
    if not isinstance(value, list):
        raise OperandError(
            f"'in' needs a list, got {_describe(value)}", "use 'equals' for one value"
        )
    if not value:
        raise OperandError("an empty list never matches")
    return frozenset(_scalar(v, field, options) for v in value)


def _parse_texts(value: Any, field: Field, options: Options) -> tuple[str, ...]:
    texts = _texts(value, field)
    return texts if options.case_sensitive else tuple(t.casefold() for t in texts)


def _parse_regex(value: Any, field: Field, options: Options) -> tuple[Any, ...]:
    try:
        return tuple(
            compile_regex(p, case_sensitive=options.case_sensitive, flags=options.flags)
            for p in _texts(value, field)
        )
    except PatternError as exc:
        raise OperandError(str(exc)) from None


def _parse_glob(value: Any, field: Field, options: Options) -> tuple[Any, ...]:
    try:
        return tuple(
            compile_glob(p, case_sensitive=options.case_sensitive) for p in _texts(value, field)
        )
    except PatternError as exc:
        raise OperandError(str(exc)) from None


def _parse_domain(value: Any, field: Field, options: Options) -> tuple[str, ...]:
    out = []
    for text in _texts(value, field):
        domain = text.strip().rstrip(".").casefold()
        if "@" in domain:
            raise OperandError(
                f"{text!r} is an address, not a domain", f"use '{domain.rpartition('@')[2]}'"
            )
        if domain.startswith(("*.", ".")):
            raise OperandError(
                f"{text!r} is not a domain",
                f"write '{domain.lstrip('*.')}': subdomains always match",
            )
        if not domain or any(c.isspace() or c in "*?/[]" for c in domain):
            raise OperandError(f"{text!r} is not a domain")
        out.append(domain)
    return tuple(out)


def _parse_cidr(value: Any, field: Field, options: Options) -> tuple[Any, ...]:
    out = []
    for text in _texts(value, field):
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=True))
        except ValueError as exc:
            hint = ""
            with contextlib.suppress(ValueError):
                hint = f"did you mean '{ipaddress.ip_network(text.strip(), strict=False)}'?"
            raise OperandError(f"{text!r} is not a network: {exc}", hint) from None
    return tuple(out)


def _parse_ordered(value: Any, field: Field, options: Options) -> Any:
    return _time(value, field) if field.kind == "time" else _number(value, field)


def _parse_exists(value: Any, field: Field, options: Options) -> bool:
    if isinstance(value, bool):
        return value
    raise OperandError(f"'exists' takes true or false, got {_describe(value)}")


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
            _scalar,
            lambda o, f, x: lambda v: v == o,
        ),
        _op(
            "in",
            EQUATABLE,
            "The value equals one of the listed operands.",
            "in: [inbound, outbound]",
            True,
            _parse_in,
            lambda o, f, x: lambda v: v in o,
        ),
        _op(
            "contains",
            TEXTUAL,
            "The value contains the text (or any of a list).",
            "contains: invoice",
            True,
            _parse_texts,
            lambda o, f, x: lambda v: any(t in v for t in o),
        ),
        _op(
            "startswith",
            TEXTUAL,
            "The value starts with the text (or any of a list).",
            "startswith: '[EXTERNAL]'",
            True,
            _parse_texts,
            lambda o, f, x: lambda v: v.startswith(o),
        ),
        _op(
            "endswith",
            TEXTUAL,
            "The value ends with the text (or any of a list).",
            "endswith: [.exe, .js]",
            True,
            _parse_texts,
            lambda o, f, x: lambda v: v.endswith(o),
        ),
        _op(
            "glob",
            TEXTUAL,
            "The whole value matches a shell pattern (* ? [abc] [!abc]).",
            "glob: 'invoice_*.pdf'",
            False,
            _parse_glob,
            lambda o, f, x: glob_predicate(o),
        ),
        _op(
            "regex",
            TEXTUAL,
            "An RE2 regular expression matches somewhere in the value.",
            "regex: 'wire\\s+transfer'",
            False,
            _parse_regex,
            lambda o, f, x: regex_predicate(o),
        ),
        _op(
            "domain",
            frozenset({"address", "domain"}),
            "The address or domain is in the domain or one of its subdomains.",
            "domain: example.com",
            True,
            _parse_domain,
            _build_domain,
        ),
        _op(
            "cidr",
            frozenset({"ip"}),
            "The IP address is in the network (IPv4 or IPv6).",
            "cidr: [10.0.0.0/8, '2001:db8::/32']",
            False,
            _parse_cidr,
            _build_cidr,
        ),
        _op(
            "gt",
            ORDERED,
            "Greater than.",
            "gt: 5",
            False,
            _parse_ordered,
            lambda o, f, x: lambda v: v > o,
        ),
        _op(
            "gte",
            ORDERED,
            "Greater than or equal.",
            "gte: 5",
            False,
            _parse_ordered,
            lambda o, f, x: lambda v: v >= o,
        ),
        _op(
            "lt",
            ORDERED,
            "Less than.",
            "lt: 1000",
            False,
            _parse_ordered,
            lambda o, f, x: lambda v: v < o,
        ),
        _op(
            "lte",
            ORDERED,
            "Less than or equal.",
            "lte: 1000",
            False,
            _parse_ordered,
            lambda o, f, x: lambda v: v <= o,
        ),
        _op(
            "exists",
            ALL_KINDS,
            "The field has a value (a list: at least one element); "
            "'exists: false' holds when it has none.",
            "exists: true",
            False,
            _parse_exists,
            lambda o, f, x: lambda v: True,
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
