"""Operands: what a condition writes after its operator, read into the form it compares.

Each ``parse_*`` function takes the operand as written in YAML, the field
and the condition's :class:`Options`, and returns the normalised operand
(text folded unless case-sensitive, numbers as floats, times in UTC,
patterns compiled) or raises :class:`OperandError` with a plain message and
a hint (each ``parse_*`` raises it). :mod:`tagger.rules.operators` pairs
them with their predicates.
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tagger.mimecast.models import parse_time
from tagger.rules.field_model import TEXTUAL, Field
from tagger.rules.matchers import PatternError, compile_glob, compile_regex


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


def parse_scalar(value: Any, field: Field, options: Options) -> Any:
    """Return an equality operand of the field's kind (text folded unless case-sensitive)."""
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


def parse_in(value: Any, field: Field, options: Options) -> frozenset[Any]:
    """Return the set of equality operands of a non-empty list (``in``)."""
    if not isinstance(value, list):
        raise OperandError(
            f"'in' needs a list, got {_describe(value)}", "use 'equals' for one value"
        )
    if not value:
        raise OperandError("an empty list never matches")
    return frozenset(parse_scalar(v, field, options) for v in value)


def parse_texts(value: Any, field: Field, options: Options) -> tuple[str, ...]:
    """Return the text, or list of texts, as a tuple (folded unless case-sensitive)."""
    texts = _texts(value, field)
    return texts if options.case_sensitive else tuple(t.casefold() for t in texts)


def parse_regex(value: Any, field: Field, options: Options) -> tuple[Any, ...]:
    """Return the compiled RE2 pattern of each text (with the condition's flags)."""
    try:
        return tuple(
            compile_regex(p, case_sensitive=options.case_sensitive, flags=options.flags)
            for p in _texts(value, field)
        )
    except PatternError as exc:
        raise OperandError(str(exc)) from None


def parse_glob(value: Any, field: Field, options: Options) -> tuple[Any, ...]:
    """Return the compiled shell pattern of each text."""
    try:
        return tuple(
            compile_glob(p, case_sensitive=options.case_sensitive) for p in _texts(value, field)
        )
    except PatternError as exc:
        raise OperandError(str(exc)) from None


def parse_domain(value: Any, field: Field, options: Options) -> tuple[str, ...]:
    """Return each domain, lower case without a trailing dot (an address is refused)."""
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


def parse_cidr(value: Any, field: Field, options: Options) -> tuple[Any, ...]:
    """Return each network (strict: host bits set are refused, with the network as hint)."""
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


def parse_ordered(value: Any, field: Field, options: Options) -> Any:
    """Return a UTC datetime for a time field, a float for a number field."""
    return _time(value, field) if field.kind == "time" else _number(value, field)


def parse_exists(value: Any, field: Field, options: Options) -> bool:
    """Return the boolean ``exists`` takes."""
    if isinstance(value, bool):
        return value
    raise OperandError(f"'exists' takes true or false, got {_describe(value)}")


def parse_list_name(value: Any, field: Field, options: Options) -> str:
    """Return the name of the shared list an ``in_list`` test names (resolved by the compiler)."""
    if isinstance(value, str) and value:
        return value
    raise OperandError(
        f"'in_list' takes the name of one list, got {_describe(value)}",
        "write in_list: NAME; for several lists use 'any' with one test each",
    )
