"""The client against hostile answers from a real HTTP server on 127.0.0.1.

Deeply nested JSON, a body dripped a byte at a time, gzip bombs, answers with
too many items and pagination that never ends: each is a typed, located
:class:`MimecastError` (endpoint, request id, the limit and how to change it),
retried when retrying could help, and never a RecursionError, a hang or a
MemoryError. Nothing here asserts on elapsed time.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from tagger.mimecast.client import MimecastClient
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.endpoints import LIST_SMART_TAGS_PATH, SEARCH_PATH, TOKEN_PATH
from tagger.mimecast.errors import MalformedResponse, MimecastError, TransportError
from tagger.mimecast.settings import AccountSettings, OAuthCredentials, RetryPolicy
from tests.support.client import SecretWatch, run, watch
from tests.support.hostile import (
    TOKEN_ANSWER,
    Answer,
    HostileServer,
    Script,
    Seen,
    deep_json,
    envelope,
    gzip_bomb,
)

__all__ = ["watch"]
INFO = "/api/message-finder/get-message-info"
REQUEST_ID = "req-7f3e-hostile"
WINDOW = ("2026-01-01T00:00:00+00:00", "2026-01-01T01:00:00+00:00")


def settings(url: str, **kw: Any) -> AccountSettings:
    kw.setdefault("retry", RetryPolicy(max_attempts=2, max_total_s=30, base_delay_s=0.01))
    return AccountSettings(
        name="hostile",
        api_version="2.0",
        base_url=url,
        credentials=OAuthCredentials("hostile-client", "hostile-secret-value-1"),
        **kw,
    )


def with_token(answer: Script) -> Script:
    """Answer the token endpoint normally and everything else with ``answer``."""
    return lambda seen: TOKEN_ANSWER if seen.path == TOKEN_PATH else answer(seen)


def fails(script: Script, call: str = "info", **kw: Any) -> tuple[MimecastError, HostileServer]:
    """Run one client call against ``script``; return the error it raised and the server."""
    with HostileServer(script) as server:

        async def scenario() -> None:
            async with MimecastClient(settings(server.url, **kw)) as client:
                if call == "info":
                    await client.get_message_info("m-1")
                elif call == "search":
                    await client.search(SearchCriteria(), *_window())
                else:
                    await client.list_smart_tags(page_size=10)

        with pytest.raises(MimecastError) as info:
            run(asyncio.wait_for(scenario(), timeout=60))
    return info.value, server


def _window() -> tuple[Any, Any]:
    from datetime import datetime

    return tuple(datetime.fromisoformat(t) for t in WINDOW)


# -- 1. deeply nested JSON -------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [deep_json(), b'{"meta": {}, "data": ' + deep_json() + b', "fail": []}'],
    ids=["bare", "inside-envelope"],
)
def test_deeply_nested_json_is_a_retryable_located_malformed_response(body: bytes) -> None:
    answer = Answer(200, body, {"Content-Type": "application/json", "x-mc-req-id": REQUEST_ID})
    err, server = fails(with_token(lambda _: answer))
    assert isinstance(err, MalformedResponse) and err.retryable
    assert err.endpoint == INFO and err.request_id == REQUEST_ID
    assert "nested too deeply" in str(err)
    assert len(server.requests(INFO)) == 2  # retried, then given up: max_attempts=2


def test_deeply_nested_token_response_is_retryable_too() -> None:
    answer = Answer(200, deep_json(), {"x-mc-req-id": REQUEST_ID})
    err, server = fails(lambda _: answer)
    assert isinstance(err, MalformedResponse) and err.retryable
    assert err.endpoint == TOKEN_PATH and "nested too deeply" in str(err)
    assert len(server.requests(TOKEN_PATH)) == 2


def test_deeply_nested_error_body_still_maps_the_status() -> None:
    err, _ = fails(with_token(lambda _: Answer(503, deep_json())))
    assert err.status == 503 and err.retryable and err.endpoint == INFO


# -- 2. a body dripped slowly ------------------------------------------------------------

DRIP = Answer(
    200,
    b'{"meta": {}, "data": [], "fail": []}' + b" " * 4000,
    {"Content-Type": "application/json"},
    drip_s=0.2,
)


@pytest.mark.timeout(60)
def test_a_slow_drip_is_cut_off_at_timeout_s_and_retried() -> None:
    err, server = fails(with_token(lambda _: DRIP), timeout_s=1.0)
    assert isinstance(err, TransportError) and err.retryable
    assert err.endpoint == INFO and "no complete response within 1 s" in str(err)
    assert len(server.requests(INFO)) == 2  # each attempt was cut off, then the call gave up


@pytest.mark.timeout(60)
def test_a_slow_drip_never_outlasts_the_calls_max_total_s() -> None:
    retry = RetryPolicy(max_attempts=5, max_total_s=1.0, base_delay_s=0.01)
    err, server = fails(with_token(lambda _: DRIP), timeout_s=30.0, retry=retry)
    assert isinstance(err, TransportError) and "no complete response" in str(err)
    # One attempt used the whole budget: no time was left for another.
    assert len(server.requests(INFO)) == 1


# -- 4. unbounded answers ----------------------------------------------------------------


def test_a_gzip_bomb_stops_at_the_size_cap() -> None:
    bomb = Answer(200, gzip_bomb(8 * 1024 * 1024), {"Content-Encoding": "gzip"})
    err, server = fails(with_token(lambda _: bomb), max_response_bytes=1024 * 1024)
    assert type(err).__name__ == "ResponseTooLarge" and not err.retryable
    assert err.endpoint == INFO
    assert "larger than 1 MB" in str(err) and "max_response_mb" in str(err)
    assert len(server.requests(INFO)) == 1


def test_an_error_body_over_the_cap_is_refused_as_well() -> None:
    big = Answer(500, b"x" * (2 * 1024 * 1024))
    err, _ = fails(with_token(lambda _: big), max_response_bytes=1024 * 1024)
    assert "max_response_mb" in str(err)


def test_a_search_answering_too_many_items_is_refused_naming_the_limit() -> None:
    tracked = [{"id": f"m-{i}", "received": "2026-01-01T00:00:00+0000"} for i in range(11)]
    answer = Answer.of_json(envelope([{"trackedEmails": tracked}]), **{"x-mc-req-id": REQUEST_ID})
    err, server = fails(with_token(lambda _: answer), "search", max_items=10)
    assert not err.retryable and err.endpoint == SEARCH_PATH and err.request_id == REQUEST_ID
    assert "11 items" in str(err) and "max_items_per_response" in str(err)
    assert len(server.requests(SEARCH_PATH)) == 1


def test_any_answer_with_too_many_data_items_is_refused() -> None:
    answer = Answer.of_json(envelope([{"id": f"t{i}", "name": f"T{i}"} for i in range(11)]))
    err, _ = fails(with_token(lambda _: answer), "tags", max_items=10)
    assert err.endpoint == LIST_SMART_TAGS_PATH and "max_items_per_response" in str(err)


# -- 8. endless pagination -----------------------------------------------------------------


def endless(total: int | None) -> Script:
    """Answer every page with one tag and a fresh next token (and ``totalCount``)."""
    counter = itertools.count()

    def answer(_: Seen) -> Answer:
        n = next(counter)
        pagination: dict[str, Any] = {"pageSize": 10, "next": f"token-{n}"}
        if total is not None:
            pagination["totalCount"] = total
        return Answer.of_json(envelope([{"id": f"t{n}", "name": f"T{n}"}], pagination=pagination))

    return with_token(answer)


def test_pagination_past_total_count_stops_with_a_clear_error() -> None:
    err, server = fails(endless(total=30), "tags")
    assert isinstance(err, MalformedResponse) and err.endpoint == LIST_SMART_TAGS_PATH
    assert "pagination does not end" in str(err) and "totalCount" in str(err)
    # 30 items at 10 a page: 3 pages, plus the margin of 2.
    assert len(server.requests(LIST_SMART_TAGS_PATH)) == 5


@pytest.mark.timeout(60)
def test_pagination_without_a_total_stops_at_its_time_budget() -> None:
    err, server = fails(endless(total=None), "tags", max_pagination_s=0.5)
    assert isinstance(err, MalformedResponse) and "max_pagination_s" in str(err)
    assert 1 < len(server.requests(LIST_SMART_TAGS_PATH)) < 10_000


def test_pagination_that_ends_within_its_total_lists_everything() -> None:
    pages = iter(range(3))

    def answer(_: Seen) -> Answer:
        n = next(pages)
        pagination: dict[str, Any] = {"pageSize": 10, "totalCount": 3}
        if n < 2:
            pagination["next"] = f"token-{n}"
        return Answer.of_json(envelope([{"id": f"t{n}", "name": f"T{n}"}], pagination=pagination))

    with HostileServer(with_token(answer)) as server:

        async def scenario() -> list[str]:
            async with MimecastClient(settings(server.url)) as client:
                return [t.id for t in await client.list_smart_tags(page_size=1)]

        assert run(scenario()) == ["t0", "t1", "t2"]


# -- 7. credentials echoed back ------------------------------------------------------------


def echo(seen: Seen) -> Answer:
    """Answer with the request's Authorization header in every place an error text comes from."""
    auth = seen.headers.get("authorization", "")
    body = {
        "meta": {"status": 400},
        "data": [],
        "fail": [{"errors": [{"code": f"bad {auth}", "message": f"header was {auth}"}]}],
        "detail": f"Authorization: {auth} rejected",
    }
    return Answer.of_json(body, status=400, **{"x-mc-req-id": f"echo {auth}"})


@pytest.mark.parametrize("status", [400, 500, 200])
def test_an_echoed_authorization_header_is_masked_in_every_error(
    status: int, watch: SecretWatch
) -> None:
    def script(seen: Seen) -> Answer:
        answer = echo(seen)
        return Answer(status, answer.body, answer.headers)

    err, server = fails(with_token(script))
    watch.raised(err)
    secrets = server.authorizations()
    assert secrets and "hostile-token-0042-abcdef" in secrets
    text = f"{err} {err!r} {err.code} {err.request_id}"
    assert not [s for s in secrets if s in text], text
    assert "***" in text
