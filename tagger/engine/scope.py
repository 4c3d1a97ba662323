"""Searches scoped by the organisation's own domains, for a service that refuses bare windows.

Whether message-finder accepts a search by time window alone (none of from,
to, subject, senderIP or messageId) is not documented; public integrations
refuse to send one. So a query without such criteria is sent as it is until
the service refuses it with a validation error (``search_scope: auto``, which
is then remembered for the account), or always (``search_scope: domains``),
scoped by the account's ``domains``: inbound mail by ``to: domain``, outbound
and internal mail by ``from: domain``, any other route by both. Each scoped
search is one ordinary :func:`~tagger.engine.search.search_window` (split when
capped); their results are merged and de-duplicated by message id. Mail
neither from nor to one of the domains is out of reach of scoped searches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from tagger.engine.search import SearchOutcome, gather_or_cancel
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.errors import ApiFailure, MimecastError

__all__ = [
    "DomainsRequired",
    "SearchScope",
    "has_criteria",
    "merge_outcomes",
    "refuses_bare",
    "scoped_criteria",
    "scoped_search",
]

log = structlog.get_logger("tagger.engine")

ScopeMode = Literal["auto", "domains"]
SearchFn = Callable[[SearchCriteria], Awaitable[SearchOutcome]]

# Error codes of a refused request item start with this (err_validation_blank, ..._null).
VALIDATION_PREFIX = "err_validation"


class DomainsRequired(MimecastError):
    """The service refuses searches by time window alone and the account sets no ``domains``."""


@dataclass
class SearchScope:
    """How one account's criteria-less searches are sent, and what was learned about them.

    ``mode`` and ``domains`` come from the account's configuration;
    ``refusal`` holds the service's answer once it refused a bare window
    (kept for the life of the process, so later cycles scope straight away).
    Mutable: the cycle updates it.
    """

    account: str = ""
    domains: tuple[str, ...] = ()
    mode: ScopeMode = "auto"
    refusal: str | None = None
    refusal_code: str | None = None

    @property
    def scoped(self) -> bool:
        """Return True when criteria-less searches are scoped by domain."""
        return self.mode == "domains" or self.refusal is not None

    def learn_refusal(self, error: ApiFailure) -> None:
        """Remember that the service refused a bare window (logged the first time only)."""
        if self.refusal is not None:
            return
        self.refusal = error.message
        self.refusal_code = error.code or next(iter(error.codes), None)
        log.warning(
            "search_bare_window_refused",
            account=self.account,
            code=self.refusal_code,
            error=error.message,
            domains=list(self.domains),
            action="searching by domain from now on" if self.domains else "set domains:",
        )

    def missing_domains(self) -> DomainsRequired:
        """Return the error telling the operator to set ``domains:``."""
        why = (
            f"Mimecast refuses a search by time window alone ({self.refusal})"
            if self.refusal is not None
            else "search_scope is domains"
        )
        return DomainsRequired(
            f"{why}: set domains: on account {self.account!r} to the organisation's own"
            " mail domains (e.g. domains: [example.com]) so that tagger searches by domain;"
            " nothing was lost, the window is searched again once it is set",
            code=self.refusal_code,
        )


def has_criteria(criteria: SearchCriteria) -> bool:
    """Return True when ``criteria`` sets from, to, subject, senderIP or messageId."""
    return any(
        (criteria.from_, criteria.to, criteria.subject, criteria.sender_ip, criteria.message_id)
    )


def refuses_bare(error: MimecastError) -> bool:
    """Return True when ``error`` is the service refusing a request item as invalid."""
    if not isinstance(error, ApiFailure):
        return False
    codes = error.codes or ((error.code,) if error.code else ())
    return any(code.startswith(VALIDATION_PREFIX) for code in codes)


def _directions(routes: Sequence[str]) -> tuple[str, ...]:
    """Return which of ``to``/``from`` scope mail of ``routes`` to the own domains."""
    wanted: set[str] = set()
    for route in routes or ("all",):
        if route == "inbound":
            wanted.add("to")
        elif route in ("outbound", "internal"):
            wanted.add("from")
        else:  # all, external (inbound and outbound), anything else: both
            wanted.update(("to", "from"))
    return tuple(d for d in ("to", "from") if d in wanted)


def scoped_criteria(criteria: SearchCriteria, domains: Sequence[str]) -> list[SearchCriteria]:
    """Return one criteria per domain and direction that together cover ``criteria``.

    Given criteria without from/to/subject/senderIP/messageId and the own
    domains; inbound mail is scoped by ``to``, outbound and internal mail by
    ``from``, any other route (or none) by both. Pure.
    """
    out = []
    directions = _directions(criteria.routes)
    for domain in domains:
        if "to" in directions:
            out.append(dataclasses.replace(criteria, to=domain))
        if "from" in directions:
            out.append(dataclasses.replace(criteria, from_=domain))
    return out


def merge_outcomes(outcomes: Sequence[SearchOutcome]) -> SearchOutcome:
    """Merge the outcomes of several searches of one window into one (pure).

    Emails are de-duplicated by message id (the first found is kept); every
    other field is merged by kind: numbers summed, flags or-ed, lists
    concatenated, sets joined, and any other value taken from the first
    outcome that has one.
    """
    merged = SearchOutcome()
    for field in dataclasses.fields(SearchOutcome):
        values = [getattr(o, field.name) for o in outcomes]
        setattr(merged, field.name, _merge(values, getattr(merged, field.name)))
    return merged


def _merge(values: list[Any], empty: Any) -> Any:
    """Merge one field's values (see :func:`merge_outcomes`); ``empty`` when there are none."""
    present = [v for v in values if v is not None]
    if not present:
        return empty
    first = present[0]
    if isinstance(first, dict):
        out: dict[Any, Any] = {}
        for value in present:
            for key, item in value.items():
                out.setdefault(key, item)
        return out
    if isinstance(first, bool):
        return any(present)
    if isinstance(first, int | float):
        return sum(present)
    if isinstance(first, list):
        return [item for value in present for item in value]
    if isinstance(first, set | frozenset):
        return type(first)().union(*present)
    return first


async def scoped_search(
    search: SearchFn, criteria: SearchCriteria, scope: SearchScope | None
) -> SearchOutcome:
    """Search one query's window, scoped by the account's domains when needed.

    Given ``search`` (one capped-window search of the window for the given
    criteria, i.e. :func:`~tagger.engine.search.search_window` bound to the
    client and window), the query's criteria and the account's scope (None:
    never scope). A query with its own from/to/subject/senderIP/messageId is
    searched unchanged. A criteria-less one is searched as it is unless the
    scope says to scope it; when the service refuses it with a validation
    error, the refusal is remembered and the search is repeated scoped by
    domain. Returns the merged outcome (the refused call counted). Raises
    :class:`DomainsRequired` when scoping is needed and no domains are set,
    and whatever ``search`` raises.
    """
    if scope is None or has_criteria(criteria):
        return await search(criteria)
    refused_calls = 0
    if not scope.scoped:
        try:
            return await search(criteria)
        except ApiFailure as exc:
            if not refuses_bare(exc):
                raise
            scope.learn_refusal(exc)
            refused_calls = 1
    if not scope.domains:
        raise scope.missing_domains()
    parts = scoped_criteria(criteria, scope.domains)
    merged = merge_outcomes(await gather_or_cancel(search(c) for c in parts))
    merged.calls += refused_calls
    return merged
