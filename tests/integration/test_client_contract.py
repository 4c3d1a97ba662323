"""Contract of the Mimecast client against the simulator, in both authentication modes."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tagger.mimecast.client import MimecastClient
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.errors import ApiFailure
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.client import SecretWatch, run, settings_for, watch

__all__ = ["watch"]

MODES = ("2.0", "1.0")
LIST = "/api/data-retention/get-smart-tags"
SEARCH_TAG = "/api/data-retention/search-smart-tag"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=11, messages=40, history_hours=4.0)) as s:
        yield s


def _client(sim: Simulator, mode: str, watch: SecretWatch, **kw: Any) -> MimecastClient:
    return MimecastClient(settings_for(sim.url, mode, **kw), transport=watch.recorder())


def _window(sim: Simulator) -> tuple[datetime, datetime]:
    now = datetime.fromtimestamp(sim.now(), UTC)
    return now - timedelta(hours=5), now


@pytest.mark.parametrize("mode", MODES)
def test_search_returns_every_message_of_the_window(
    sim: Simulator, mode: str, watch: SecretWatch
) -> None:
    start, end = _window(sim)

    async def scenario() -> Any:
        async with _client(sim, mode, watch) as client:
            return await client.search(SearchCriteria(), start, end)

    result = run(scenario())
    expected = [m for m in sim.messages() if start.timestamp() <= m.received <= end.timestamp()]
    assert [e.id for e in result.emails] == [m.id for m in expected]
    assert len(expected) == 40 and result.skipped == 0
    first, truth = result.emails[0], expected[0]
    assert first.subject == truth.subject and first.route == truth.route
    assert first.from_env.email == truth.from_env.email


@pytest.mark.parametrize("mode", MODES)
def test_search_criteria_are_sent_to_the_service(
    sim: Simulator, mode: str, watch: SecretWatch
) -> None:
    start, end = _window(sim)
    inbound = [m for m in sim.messages() if m.route == "inbound"]
    assert inbound, "the seeded mailbox should hold inbound mail"

    async def scenario() -> Any:
        async with _client(sim, mode, watch) as client:
            return await client.search(SearchCriteria(routes=("inbound",)), start, end)

    result = run(scenario())
    assert [e.id for e in result.emails] == [m.id for m in inbound]


@pytest.mark.parametrize("mode", MODES)
def test_get_message_info_parses_the_message(sim: Simulator, mode: str, watch: SecretWatch) -> None:
    target = sim.messages()[3]

    async def scenario() -> Any:
        async with _client(sim, mode, watch) as client:
            return await client.get_message_info(target.id)

    info = run(scenario())
    assert info.id == target.id
    assert info.subject == target.subject
    assert info.raw == sim.message_info_json(target.id)


@pytest.mark.parametrize("mode", MODES)
def test_list_smart_tags_follows_every_page(sim: Simulator, mode: str, watch: SecretWatch) -> None:
    async def scenario() -> tuple[Any, MimecastClient]:
        async with _client(sim, mode, watch) as client:
            return await client.list_smart_tags(page_size=4), client

    tags, client = run(scenario())
    expected = sim.smart_tags()
    assert [t.id for t in tags] == [t["id"] for t in expected]
    assert [t.path for t in tags] == [t["path"] for t in expected]
    assert client.stats.endpoint(LIST).requests == math.ceil(len(expected) / 4) > 1


@pytest.mark.parametrize("mode", MODES)
def test_apply_is_idempotent_and_search_smart_tag_finds_every_message(
    sim: Simulator, mode: str, watch: SecretWatch
) -> None:
    # One tag per mode: the module's simulator is shared by both.
    tag = sim.smart_tags()[-1 if mode == "2.0" else -2]
    targets = [m.id for m in sim.messages()[:9]]

    async def scenario() -> tuple[list[str], MimecastClient]:
        async with _client(sim, mode, watch) as client:
            for mid in targets:
                await client.apply_smart_tag(mid, tag["id"])
            # Applying again is a success, not an error.
            await client.apply_smart_tag(targets[0], tag["id"])
            found = [m async for m in client.search_smart_tag(tag["id"], page_size=4)]
            return found, client

    found, client = run(scenario())
    assert found == targets
    applied = sim.applied()
    assert all(applied[(mid, tag["id"])] >= 1 for mid in targets)
    assert applied[(targets[0], tag["id"])] == 2
    assert client.stats.endpoint(SEARCH_TAG).requests == 3


@pytest.mark.parametrize("mode", MODES)
def test_interleaved_pagination_keeps_tokens_per_query(
    sim: Simulator, mode: str, watch: SecretWatch
) -> None:
    # The simulator rejects a token used with another query, so interleaving two
    # paginations only succeeds if each iterator keeps its own token.
    first, second = sim.smart_tags()[0]["id"], sim.smart_tags()[1]["id"]
    a_ids, b_ids = [m.id for m in sim.messages()[10:17]], [m.id for m in sim.messages()[20:25]]

    async def scenario() -> tuple[list[str], list[str]]:
        async with _client(sim, mode, watch) as client:
            for mid in a_ids:
                await client.apply_smart_tag(mid, first)
            for mid in b_ids:
                await client.apply_smart_tag(mid, second)
            a_pages = client.pages(SEARCH_TAG, {"smartTagId": first}, page_size=2)
            b_pages = client.pages(SEARCH_TAG, {"smartTagId": second}, page_size=2)
            got_a: list[str] = []
            got_b: list[str] = []
            for _ in range(10):
                for pages, got in ((a_pages, got_a), (b_pages, got_b)):
                    page = await anext(pages, None)
                    if page is not None:
                        got.extend(item["id"] for item in page.items)
            return got_a, got_b

    got_a, got_b = run(scenario())
    assert (got_a, got_b) == (a_ids, b_ids)


@pytest.mark.parametrize("mode", MODES)
def test_fail_items_are_api_failures_and_not_retried(
    sim: Simulator, mode: str, watch: SecretWatch
) -> None:
    async def scenario() -> MimecastClient:
        async with _client(sim, mode, watch) as client:
            with pytest.raises(ApiFailure) as caught:
                await client.get_message_info("no-such-message")
            err = watch.raised(caught.value)
            assert isinstance(err, ApiFailure)
            assert err.code == "err_message_not_found" and not err.retryable
            assert err.status == 200 and err.endpoint == client.endpoints.message_info
            assert err.failures[0].key == {"id": "no-such-message"}
            assert "err_message_not_found" in str(err)
            with pytest.raises(ApiFailure) as caught:
                await client.apply_smart_tag(sim.messages()[0].id, "st-unknown")
            watch.raised(caught.value)
            assert caught.value.code == "err_smart_tag_not_found"
            return client

    client = run(scenario())
    stats = client.stats.endpoint(client.endpoints.message_info)
    assert (stats.requests, stats.retries, stats.failed) == (1, 0, 1)


@pytest.mark.parametrize("mode", MODES)
def test_search_cap_is_observable(mode: str, watch: SecretWatch) -> None:
    with Simulator(SimulatorConfig(seed=5, messages=30, search_cap=7)) as capped:
        start, end = _window(capped)

        async def scenario() -> Any:
            async with _client(capped, mode, watch) as client:
                return await client.search(SearchCriteria(), start, end)

        result = run(scenario())
    assert len(result.emails) == 7
