"""The asynchronous Mimecast API client the daemon talks through.

``MimecastClient`` turns the endpoints tagger uses into typed calls returning
the parsed models of :mod:`tagger.mimecast.models`. Authentication, rate
limits, retries and error mapping are shared by every call (see
:mod:`tagger.mimecast.requester`). TLS certificates are always verified;
``AccountSettings.ca_bundle`` adds a custom CA file, nothing turns it off.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx

from tagger import __version__
from tagger.mimecast.clearance import Clearance
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.envelope import check_items
from tagger.mimecast.errors import ConfigurationError, FailItem, MalformedResponse
from tagger.mimecast.models import MessageInfo, SmartTag, TrackedEmail
from tagger.mimecast.requester import Requester
from tagger.mimecast.retry import default_uniform
from tagger.mimecast.settings import AccountSettings
from tagger.mimecast.sharedgate import GateRegistry
from tagger.mimecast.stats import ClientStats, EndpointQuota
from tagger.mimecast.tls import tls_context

# A server that keeps handing out pages past this is broken; stop rather than spin.
MAX_PAGES = 10_000
DEFAULT_PAGE_SIZE = 100
# Pages allowed beyond what totalCount / pageSize implies (items added while listing).
PAGE_MARGIN = 2
PAGE_MARGIN_SHARE = 0.1

# fail[] codes meaning "this message already has this tag": applying is idempotent.
ALREADY_APPLIED_MARKERS = ("already_applied", "already_tagged", "already_exists")


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The tracked emails of one search window; ``skipped`` items had no usable id."""

    emails: tuple[TrackedEmail, ...]
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a paginated call: its ``data[]`` items and the reported total."""

    items: tuple[Any, ...]
    number: int
    total_count: int | None = None


def page_bound(total: int, asked: int, served: int | None) -> int:
    """Return how many pages a listing of ``total`` items may take.

    Given the page size asked for and the one the service reports (it may
    serve smaller pages); allows :data:`PAGE_MARGIN` pages plus a tenth more
    for items added while listing. Pure.
    """
    size = max(1, min(asked, served) if served else asked)
    pages = max(1, math.ceil(max(total, 0) / size))
    return min(MAX_PAGES, pages + PAGE_MARGIN + int(pages * PAGE_MARGIN_SHARE))


def is_already_applied(item: FailItem) -> bool:
    """Return True if a ``fail[]`` item only says the tag is already on the message."""
    codes = [e.code.lower() for e in item.errors]
    return bool(codes) and all(any(m in c for m in ALREADY_APPLIED_MARKERS) for c in codes)


def _verify(settings: AccountSettings) -> ssl.SSLContext | bool:
    """Return httpx's ``verify``; raises :class:`ConfigurationError` for an unusable bundle."""
    if settings.ca_bundle is None:
        return True
    try:
        return tls_context(settings.ca_bundle, only=settings.ca_bundle_only)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"account {settings.name!r}: cannot load ca_bundle {settings.ca_bundle!r}: {exc}"
        ) from None


class MimecastClient:
    """Typed calls to one Mimecast account; use as ``async with MimecastClient(...)``.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable for tests;
    ``utcnow`` gives the wall-clock time signed into API 1.0 requests;
    ``uniform`` is the jitter source; ``transport`` replaces httpx's network
    transport. ``gates`` is the registry of rate-limit gates the account shares
    with the other accounts of its quota group (see
    :mod:`tagger.mimecast.sharedgate`; None: gates of its own). Raises
    :class:`ConfigurationError` if ``ca_bundle`` cannot be loaded.
    """

    def __init__(
        self,
        settings: AccountSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        utcnow: Callable[[], datetime] = lambda: datetime.now(UTC),
        uniform: Callable[[], float] = default_uniform,
        transport: httpx.AsyncBaseTransport | None = None,
        gates: GateRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.endpoints = settings.endpoints
        self.stats = ClientStats()
        self._clock = clock
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            verify=_verify(settings),
            timeout=httpx.Timeout(settings.timeout_s),
            limits=httpx.Limits(
                max_connections=settings.concurrency + 1,
                max_keepalive_connections=settings.concurrency + 1,
            ),
            headers={"User-Agent": f"tagger/{__version__}"},
            follow_redirects=False,
            transport=transport,
        )
        self._requester = Requester(
            settings,
            self._http,
            clock=clock,
            sleep=sleep,
            utcnow=utcnow,
            uniform=uniform,
            stats=self.stats,
            gates=gates,
        )

    def __repr__(self) -> str:
        return (
            f"MimecastClient(account={self.settings.name!r}, base_url={self.settings.base_url!r})"
        )

    async def __aenter__(self) -> MimecastClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def quota_seconds(self, info_calls: int) -> float:
        """Return about how long ``info_calls`` message-info reads take at the learned quota.

        0 while no refill interval is known (an endpoint that never said it was limited).
        """
        gate = self._requester.gate(self.endpoints.message_info)
        return info_calls * (gate.interval or 0.0)

    def quota_use(self) -> list[EndpointQuota]:
        """Return each endpoint's use of its quota so far (answers, 429s, refill), by path."""
        return [
            EndpointQuota(
                path,
                stats.requests - stats.throttled,
                stats.throttled,
                self._requester.gate(path).refill_per_s(),
            )
            for path, stats in sorted(self.stats.endpoints.items())
            if stats.requests
        ]

    @property
    def server_date(self) -> str | None:
        """Return the last ``Date`` header the server sent (None before any answer)."""
        return self._requester.last_date

    async def call(self, path: str, item: Mapping[str, Any] | None = None) -> list[Any]:
        """POST ``{"data": [item]}`` to ``path``; returns the response ``data[]``.

        Raises a :class:`~tagger.mimecast.errors.MimecastError` subclass on failure.
        """
        body: dict[str, Any] = {"data": [dict(item)] if item is not None else []}
        envelope = await self._requester.call(path, body)
        return envelope.data

    async def pages(
        self,
        path: str,
        item: Mapping[str, Any] | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Page]:
        """Yield every page of a paginated call, following ``meta.pagination.next``.

        Each iterator starts without a token and only ever sends tokens this
        same query returned. Raises :class:`MalformedResponse` if the service
        repeats a token, hands out more pages than the first page's
        ``totalCount`` allows (at its page size, plus a margin) or than
        :data:`MAX_PAGES`, or is still paginating after the account's
        ``max_pagination_s``; and any
        :class:`~tagger.mimecast.errors.MimecastError` a page raises.
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        data = [dict(item)] if item is not None else []
        token: str | None = None
        seen: set[str] = set()
        started = self._clock()
        budget = self.settings.max_pagination_s
        bound = MAX_PAGES
        for number in range(1, MAX_PAGES + 1):
            if number > bound:
                raise MalformedResponse(
                    f"pagination does not end: the service offers page {number}, more than"
                    f" its totalCount allows at {page_size} per page (with a margin): stopping",
                    endpoint=path,
                )
            if number > 1 and self._clock() - started > budget:
                raise MalformedResponse(
                    f"pagination still going after {budget:g} s ({number - 1} pages): stopping"
                    " (the account's max_pagination_s)",
                    endpoint=path,
                )
            pagination: dict[str, Any] = {"pageSize": page_size}
            if token is not None:
                pagination["pageToken"] = token
            envelope = await self._requester.call(
                path, {"meta": {"pagination": pagination}, "data": data}
            )
            if number == 1 and envelope.total_count is not None:
                bound = page_bound(envelope.total_count, page_size, envelope.page_size)
            yield Page(tuple(envelope.data), number, envelope.total_count)
            token = envelope.next_token
            if token is None:
                return
            if token in seen:
                raise MalformedResponse(
                    f"pagination loop: page {number} returned a page token already used",
                    endpoint=path,
                    request_id=envelope.request_id,
                )
            seen.add(token)
        raise MalformedResponse(f"more than {MAX_PAGES} pages: stopping", endpoint=path)

    async def search(
        self, criteria: SearchCriteria, start: datetime, end: datetime
    ) -> SearchResult:
        """Search message-finder for one window; returns the parsed tracked emails.

        Items without an id are skipped and counted (``SearchResult.skipped``
        and ``stats``). Raises :class:`MalformedResponse` if ``data[0]`` or
        ``trackedEmails`` is not the expected shape.
        """
        path = self.endpoints.search
        envelope = await self._requester.call(path, {"data": [criteria.to_request(start, end)]})
        data = envelope.data
        if not data:
            return SearchResult(emails=())
        first = data[0]
        if not isinstance(first, Mapping):
            raise MalformedResponse("search response data[0] is not an object", endpoint=path)
        tracked = first.get("trackedEmails")
        if tracked is None:
            tracked = []
        if not isinstance(tracked, list):
            raise MalformedResponse(
                "search response data[0].trackedEmails is not an array", endpoint=path
            )
        context = {"endpoint": path, "status": None, "request_id": envelope.request_id}
        check_items(len(tracked), self.settings.max_items, "data[0].trackedEmails", context)
        emails = []
        for raw in tracked:
            email = TrackedEmail.parse(raw)
            if email is not None:
                emails.append(email)
        skipped = len(tracked) - len(emails)
        self.stats.endpoint(path).skipped_items += skipped
        return SearchResult(emails=tuple(emails), skipped=skipped)

    async def get_message_info(self, message_id: str) -> MessageInfo:
        """Return get-message-info for ``message_id``.

        Raises :class:`MalformedResponse` when the response holds no item with an
        id, or (retryable) when the item is for another message than ``message_id``.
        """
        path = self.endpoints.message_info
        data = await self.call(path, {"id": message_id})
        info = MessageInfo.parse(data[0]) if data else None
        if info is None:
            raise MalformedResponse(
                "get-message-info returned no message item with an id", endpoint=path
            )
        if info.id != message_id:
            # Planning from another message's info would apply (permanent) tags to
            # the wrong mail or skip them as "already present": retry instead.
            raise MalformedResponse(
                f"get-message-info answered for message {info.id[:80]!r}, not the one asked"
                f" for ({message_id[:80]!r}): nothing is planned from this answer",
                endpoint=path,
                retryable=True,
            )
        return info

    async def list_smart_tags(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[SmartTag]:
        """Return every Smart Tag of the account (all pages); items without id are skipped."""
        path = self.endpoints.list_smart_tags
        tags: list[SmartTag] = []
        async for page in self.pages(path, None, page_size=page_size):
            for raw in page.items:
                tag = SmartTag.parse(raw)
                if tag is None:
                    self.stats.endpoint(path).skipped_items += 1
                else:
                    tags.append(tag)
        return tags

    async def apply_smart_tag(
        self, message_id: str, tag_id: str, clearance: Clearance | None = None
    ) -> None:
        """Apply Smart Tag ``tag_id`` to ``message_id``; "already applied" is success.

        ``clearance`` is entered right before the request (and each retry) is
        sent (:mod:`tagger.mimecast.clearance`). Raises
        :class:`~tagger.mimecast.errors.ApiFailure` when ``fail[]`` reports
        anything else, another :class:`~tagger.mimecast.errors.MimecastError`,
        or :class:`~tagger.mimecast.clearance.Withheld` (nothing sent).
        """
        body = {"data": [{"id": message_id, "smartTagId": tag_id}]}
        await self._requester.call(
            self.endpoints.apply_smart_tag, body, is_already_applied, clearance
        )

    async def search_smart_tag(
        self, tag_id: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[str]:
        """Yield the id of every message carrying Smart Tag ``tag_id`` (all pages)."""
        path = self.endpoints.search_smart_tag
        async for page in self.pages(path, {"smartTagId": tag_id}, page_size=page_size):
            for raw in page.items:
                ident = raw.get("id") if isinstance(raw, Mapping) else None
                if isinstance(ident, str) and ident:
                    yield ident
                else:
                    self.stats.endpoint(path).skipped_items += 1
