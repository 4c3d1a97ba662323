"""Message-finder search criteria: parsing a request item and matching a message.

Semantics (documented for users of the simulator):
- ``start`` and ``end`` bound the received time, both inclusive, to the
  second; a missing ``start`` means no lower bound, a missing ``end`` "now".
- ``route`` / ``status`` take a list (or a single string); ``all`` matches
  every route, ``external`` matches inbound and outbound.
- ``from`` / ``to`` take an address (exact, case-insensitive) or a domain
  (exact domain, case-insensitive; subdomains do not match). ``from``
  matches the envelope or header sender, ``to`` any to/cc recipient.
- ``subject`` and ``url`` are case-insensitive substrings; ``senderIP`` is exact.
- ``messageId`` is the internet message-id, angle brackets optional.

Results are capped (:func:`cap_results`) at ``search_cap`` messages, silently,
as the real service does; which ones are kept depends on ``search_cap_mode``:
the ``oldest``, the ``newest``, or an arbitrary (seeded, per request) subset.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tagger.simulator.records import Party, SimMessage

T = TypeVar("T")

ROUTES = frozenset({"all", "internal", "outbound", "inbound", "external"})
STATUSES = frozenset(
    {
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
    }
)


class QueryError(Exception):
    """A search item that cannot be run: an error ``code`` and a message about ``field``."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Parsed search criteria; None means "not filtered on"."""

    start: float | None = None
    end: float | None = None
    message_id: str | None = None
    routes: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    attachments: bool | None = None
    from_: str | None = None
    to: str | None = None
    subject: str | None = None
    sender_ip: str | None = None
    url: str | None = None


def parse_date(value: Any, field: str) -> float:
    """Parse ``yyyy-MM-dd'T'HH:mm:ssZ`` into epoch seconds; raises :class:`QueryError`."""
    if not isinstance(value, str):
        raise QueryError("err_validation_invalid_date", f"{field} must be a date string", field)
    try:
        parsed = datetime.strptime(value.strip(), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        raise QueryError(
            "err_validation_invalid_date",
            f"{field} must look like 2026-11-23T10:00:00+0000",
            field,
        ) from None
    return parsed.timestamp()


def _values(value: Any, field: str, allowed: frozenset[str]) -> frozenset[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise QueryError("err_validation_invalid_value", f"{field} must be strings", field)
    out = frozenset(i.strip().lower() for i in items if i.strip())
    bad = sorted(out - allowed)
    if bad:
        raise QueryError(
            "err_validation_invalid_value",
            f"{field} value {bad[0]!r} is not one of {', '.join(sorted(allowed))}",
            field,
        )
    return out or None


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise QueryError("err_validation_invalid_value", f"{field} must be a string", field)
    return value.strip().lower() or None


def parse_query(item: Mapping[str, Any]) -> SearchQuery:
    """Parse a search request ``data[0]``; raises :class:`QueryError` on invalid criteria."""
    advanced = item.get("advancedTrackAndTraceOptions") or {}
    if not isinstance(advanced, Mapping):
        raise QueryError(
            "err_validation_invalid_value",
            "advancedTrackAndTraceOptions must be an object",
            "advancedTrackAndTraceOptions",
        )
    start = None if item.get("start") is None else parse_date(item["start"], "start")
    end = None if item.get("end") is None else parse_date(item["end"], "end")
    if start is not None and end is not None and start > end:
        raise QueryError("err_validation_invalid_date_range", "start is after end", "start")
    attachments = item.get("attachments")
    if attachments is not None and not isinstance(attachments, bool):
        raise QueryError(
            "err_validation_invalid_value", "attachments must be a boolean", "attachments"
        )
    # The documentation shows route both at the top level and among the advanced options.
    route = item.get("route", advanced.get("route"))
    message_id = _text(item.get("messageId"), "messageId")
    return SearchQuery(
        start=start,
        end=end,
        message_id=message_id.strip("<>") if message_id else None,
        routes=_values(route, "route", ROUTES),
        statuses=_values(item.get("status"), "status", STATUSES),
        attachments=attachments,
        from_=_text(advanced.get("from"), "from"),
        to=_text(advanced.get("to"), "to"),
        subject=_text(advanced.get("subject"), "subject"),
        sender_ip=_text(advanced.get("senderIP"), "senderIP"),
        url=_text(advanced.get("url"), "url"),
    )


def _address_match(wanted: str, parties: tuple[Party, ...]) -> bool:
    if "@" in wanted:
        return any(p.email.lower() == wanted for p in parties)
    return any(p.domain == wanted for p in parties)


def _route_match(routes: frozenset[str], route: str) -> bool:
    if "all" in routes or route in routes:
        return True
    return "external" in routes and route in ("inbound", "outbound")


def matches(q: SearchQuery, m: SimMessage) -> bool:
    """Return True when message ``m`` meets every criterion of ``q`` except the time window."""
    if q.routes is not None and not _route_match(q.routes, m.route):
        return False
    if q.statuses is not None and m.status not in q.statuses:
        return False
    if q.attachments is not None and m.has_attachments != q.attachments:
        return False
    if q.message_id is not None and m.message_id.strip("<>").lower() != q.message_id:
        return False
    if q.from_ is not None and not _address_match(q.from_, (m.from_env, m.from_hdr)):
        return False
    if q.to is not None and not _address_match(q.to, m.recipients):
        return False
    if q.subject is not None and q.subject not in m.subject.lower():
        return False
    if q.sender_ip is not None and m.sender_ip.lower() != q.sender_ip:
        return False
    return q.url is None or any(q.url in u.lower() for u in m.urls)


def cap_results(
    found: Sequence[T], cap: int, mode: str, seed: int, item: Mapping[str, Any]
) -> list[T]:
    """Return what a search answers from ``found`` (oldest first): at most ``cap`` of them.

    ``cap`` 0 means no cap. ``mode`` picks the kept results: ``oldest``,
    ``newest``, or ``random``, an arbitrary subset drawn from a generator
    seeded by ``seed`` and the request ``item``, so the same request always
    gets the same answer. The kept results stay in received order.
    """
    if cap <= 0 or len(found) <= cap:
        return list(found)
    if mode == "newest":
        return list(found[-cap:])
    if mode == "random":
        key = json.dumps(item, sort_keys=True, default=str)
        keep = sorted(random.Random(f"tagger-sim:{seed}:cap:{key}").sample(range(len(found)), cap))
        return [found[i] for i in keep]
    return list(found[:cap])
