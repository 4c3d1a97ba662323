"""A window's search stays bounded whatever the service answers.

A hostile service that answers every window with a full page of fresh
messages would make the splitter keep every answer (2.9 GB before a
MemoryError); one that answers every window alike would make it split until
``split_min`` (millions of calls). Both now end with a located error naming
the endpoint, the query's window and the limit, and a search that answers
more items than ``max_items_per_response`` is refused at once. The client is
the real one, the service a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from tagger.engine.search import MAX_OVERSIZED_HALVINGS, SearchOutcome, search_window
from tagger.engine.window import Window
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.endpoints import SEARCH_PATH, TOKEN_PATH
from tagger.mimecast.errors import MimecastError
from tagger.mimecast.settings import AccountSettings, OAuthCredentials, RetryPolicy
from tests.support.client import run
from tests.support.hostile import TOKEN_ANSWER, Answer, HostileServer, Seen, envelope

WINDOW = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


def tracked(ids: list[str]) -> Answer:
    items = [{"id": i, "received": "2026-01-01T12:00:00+0000", "status": "archived"} for i in ids]
    return Answer.of_json(envelope([{"trackedEmails": items}]))


def fresh(per_answer: int) -> Any:
    """Every search answers ``per_answer`` messages never seen before."""
    counter = itertools.count()

    def answer(seen: Seen) -> Answer:
        if seen.path == TOKEN_PATH:
            return TOKEN_ANSWER
        return tracked([f"m-{next(counter)}" for _ in range(per_answer)])

    return answer


def alike(seen: Seen) -> Answer:
    """Every search answers the same messages, whatever its window."""
    return TOKEN_ANSWER if seen.path == TOKEN_PATH else tracked([f"m-{i}" for i in range(40)])


def search(script: Any, **kw: Any) -> tuple[MimecastError, HostileServer]:
    with HostileServer(script) as server:
        settings = AccountSettings(
            name="bounds",
            api_version="2.0",
            base_url=server.url,
            credentials=OAuthCredentials("bounds-client", "bounds-secret-value-1"),
            retry=RetryPolicy(max_attempts=2, max_total_s=30),
            max_items=kw.pop("max_items", 10_000),
        )

        async def scenario() -> None:
            async with MimecastClient(settings) as client:
                await search_window(
                    client, SearchCriteria(), WINDOW, cap=500, split_min_s=1.0, **kw
                )

        with pytest.raises(MimecastError) as info:
            run(asyncio.wait_for(scenario(), timeout=120))
    return info.value, server


def test_fresh_messages_for_every_window_stop_at_the_message_bound() -> None:
    err, server = search(fresh(1000), max_messages=5000)
    assert type(err).__name__ == "ResponseTooLarge" and not err.retryable
    assert err.endpoint == SEARCH_PATH
    assert "holds more than 5000 messages" in str(err)
    assert "2026-01-01T00:00:00+00:00..2026-01-02T00:00:00+00:00" in str(err)
    assert "window.max_catchup" in str(err)
    assert len(server.requests(SEARCH_PATH)) < 16


def test_answers_that_never_shrink_stop_at_the_search_bound() -> None:
    err, server = search(alike, max_searches=64)
    assert type(err).__name__ == "ResponseTooLarge" and err.endpoint == SEARCH_PATH
    assert "still in doubt" in str(err) and "limit of 64 searches" in str(err)
    assert "window.split_min" in str(err)
    assert len(server.requests(SEARCH_PATH)) <= 64


def test_an_answer_too_large_at_every_size_ends_with_the_located_error() -> None:
    err, server = search(fresh(200), max_items=100)
    assert type(err).__name__ == "ResponseTooLarge" and err.endpoint == SEARCH_PATH
    assert "200 items" in str(err) and "max_items_per_response" in str(err)
    assert f"still too large after {MAX_OVERSIZED_HALVINGS} halvings" in str(err)
    # Each level halves every part: 1 + 2 + ... + 64 searches, then it stops.
    assert len(server.requests(SEARCH_PATH)) == 2 ** (MAX_OVERSIZED_HALVINGS + 1) - 1


def per_minute(seen: Seen) -> Answer:
    """One message per minute of the searched window (ids from the minute), any size."""
    if seen.path == TOKEN_PATH:
        return TOKEN_ANSWER
    query = seen.json()["data"][0]
    start = datetime.fromisoformat(query["start"].replace("+0000", "+00:00"))
    end = datetime.fromisoformat(query["end"].replace("+0000", "+00:00"))
    minutes = int((end - start).total_seconds() // 60)
    first = int((start - WINDOW.start).total_seconds() // 60)
    return tracked([f"m-{first + i}" for i in range(minutes)])


def test_an_answer_over_max_items_splits_its_window_and_finds_everything() -> None:
    with HostileServer(per_minute) as server:
        settings = AccountSettings(
            name="bounds",
            api_version="2.0",
            base_url=server.url,
            credentials=OAuthCredentials("bounds-client", "bounds-secret-value-1"),
            retry=RetryPolicy(max_attempts=2, max_total_s=30),
            max_items=500,
        )

        async def scenario() -> SearchOutcome:
            async with MimecastClient(settings) as client:
                return await search_window(
                    client, SearchCriteria(), WINDOW, cap=10_000, split_min_s=1.0
                )

        outcome = run(asyncio.wait_for(scenario(), timeout=120))
    # 1440 messages in the day: refused whole (over 500), refused in halves (720),
    # answered in quarters (360 each).
    assert len(outcome.emails) == 24 * 60
    assert outcome.oversized == 3
    assert len(server.requests(SEARCH_PATH)) == 1 + 2 + 4
