"""The building blocks of the field catalogue: the :class:`Field` type and extractors.

See :mod:`tagger.rules.fields` for what the fields mean and how their values
are resolved.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from tagger.mimecast.models import Address, MessageInfo, TrackedEmail

Kind = Literal["text", "address", "domain", "ip", "number", "bool", "time"]
Source = Literal["search", "info"]

# Kinds grouped by the comparisons that make sense for them.
TEXTUAL: frozenset[Kind] = frozenset({"text", "address", "domain"})
ORDERED: frozenset[Kind] = frozenset({"number", "time"})
EQUATABLE: frozenset[Kind] = frozenset({"text", "address", "domain", "ip", "number", "bool"})
ALL_KINDS: frozenset[Kind] = frozenset(
    {"text", "address", "domain", "ip", "number", "bool", "time"}
)

SummaryGetter = Callable[[TrackedEmail], Any]
InfoGetter = Callable[[MessageInfo], Any]

ROUTES = ("inbound", "outbound", "internal", "external")
STATUSES = (
    "processing",
    "delivery",
    "system",
    "held",
    "accepted",
    "bulk_processing",
    "bulk_delivery",
    "bounced",
    "deferred",
    "rejected",
    "archived",
)
CHECK_RESULTS = ("allow", "fail", "none", "unknown")
"""Known ``info`` values of a sender check (an empty ``info`` is read as absent)."""
RISKS = ("negligible", "low", "high")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class Field:
    """One field of the catalogue.

    ``values`` lists the values the field is known to take (empty when open);
    with ``strict`` a condition asking for any other value is an error,
    otherwise a warning (the value set is not documented by Mimecast).
    ``base``/``derive`` make a field computed from another field's value.
    ``json`` names where the value comes from in Mimecast's JSON (search
    result ``trackedEmails[]`` and/or get-message-info ``data[0]``).
    """

    name: str
    kind: Kind
    source: Source
    description: str
    example: Any
    is_list: bool = False
    summary: SummaryGetter | None = None
    info: InfoGetter | None = None
    values: tuple[str, ...] = ()
    strict: bool = False
    base: str | None = None
    derive: Callable[[Any], Any] | None = None
    json: str = ""

    @property
    def type_name(self) -> str:
        """Return the kind as shown to users, e.g. ``list of address``."""
        return f"list of {self.kind}" if self.is_list else self.kind


def email_of(addr: Address) -> str | None:
    """Return the address's email, or None when empty."""
    return addr.email.strip() or None


def domain_of(addr: Address) -> str | None:
    """Return the address's lower-cased domain, or None."""
    return addr.domain or None


def name_of(addr: Address) -> str | None:
    """Return the address's display name, or None when empty."""
    return addr.name.strip() or None


def emails_of(addrs: tuple[Address, ...]) -> tuple[str, ...]:
    """Return the distinct non-empty emails of ``addrs`` in order."""
    return unique(a.email.strip() for a in addrs)


def domains_of(addrs: tuple[Address, ...]) -> tuple[str, ...]:
    """Return the distinct domains of ``addrs`` in order."""
    return unique(a.domain for a in addrs)


def unique(items: Any) -> tuple[str, ...]:
    """Return the non-empty items in first-seen order without repeats."""
    return tuple(dict.fromkeys(i for i in items if i))


def info_recipients(info: MessageInfo) -> tuple[Address, ...]:
    """Header To and Cc plus every recipient the message was delivered to."""
    delivered = tuple(Address.parse(d.recipient) for d in info.deliveries if d.recipient)
    return info.to + info.cc + delivered


def ip_of(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parse an IP address (brackets allowed; IPv4-mapped IPv6 becomes IPv4); None if invalid."""
    if not value:
        return None
    try:
        addr = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    # An IPv4-mapped IPv6 address is the IPv4 sender; compare it as such.
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def route_of(info: MessageInfo) -> str | None:
    """Return the first delivery route in message info, or None."""
    routes = [d.route for d in info.deliveries if d.route]
    return routes[0] if routes else None


def nonzero(count: int) -> int | None:
    """Return ``count``, or None for zero (a search result without recipients)."""
    return count or None


def check_fields(name: str, attr: str, key: str) -> tuple[Field, Field]:
    """Build the ``.result`` and ``.allow`` fields of one sender check.

    ``info`` is the check's result; ``allow`` is Mimecast's policy decision,
    which may let a message through although the check failed
    (``{"allow": true, "info": "fail"}``), so it is never the result.
    """

    def result(info: MessageInfo) -> str | None:
        check = getattr(info.spam, attr)
        return check.info or None if check is not None else None

    def allow(info: MessageInfo) -> bool | None:
        check = getattr(info.spam, attr)
        return check.allow if check is not None else None

    label = name.replace("_", " ")
    return (
        Field(
            f"{name}.result",
            "text",
            "info",
            f"The {label} check's result (`info`); an empty `info` is absent.",
            "fail",
            info=result,
            values=CHECK_RESULTS,
            json=f"info: spamInfo.spamProcessingDetail.{key}.info",
        ),
        Field(
            f"{name}.allow",
            "bool",
            "info",
            f"Mimecast's policy decision on the {label} check (`allow`): true when policy "
            f"let the message through, even if the check failed. Not the check's result.",
            True,
            info=allow,
            json=f"info: spamInfo.spamProcessingDetail.{key}.allow",
        ),
    )


def risk_names(info: MessageInfo, depth: int) -> tuple[str, ...]:
    """Return verdict item names at ``depth`` (0 categories, 1 subcategories, 2 augmentations)."""
    verdict = info.spam.verdict
    if verdict is None:
        return ()
    level = list(verdict.categories)
    for _ in range(depth):
        level = [child for item in level for child in item.children]
    return unique(item.name for item in level)


def tag_paths(info: MessageInfo) -> tuple[str, ...]:
    """Return the paths (else names) of the Smart Tags already on the message."""
    return unique(t.path or t.name for t in info.smart_tags)


def hour_of(value: datetime) -> float:
    """Return the UTC hour of ``value`` as a number."""
    return float(value.hour)


def weekday_of(value: datetime) -> str:
    """Return the lower-case English weekday of ``value``."""
    return WEEKDAYS[value.weekday()]
