"""Precise client mechanics that need an exact clock or a scripted server.

The simulator runs on real time and cannot answer a chosen sequence of
headers, so these few tests script the HTTP exchange with
``httpx.MockTransport`` and drive time with an injected clock. Everything
else is tested against the simulator.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tagger.mimecast.auth import refresh_time
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import (
    ApiFailure,
    ConfigurationError,
    MalformedResponse,
    QuotaDeferred,
    RateLimited,
    ServerError,
)
from tagger.mimecast.pacing import cycle_bound
from tagger.mimecast.ratelimit import RateLimitInfo
from tagger.mimecast.retry import MAX_THROTTLES, backoff_delay
from tagger.mimecast.settings import AccountSettings, OAuthCredentials, RetryPolicy
from tests.support.client import FakeTime, VirtualTime, envelope, run

PATH = "/api/message-finder/get-message-info"


def _settings(**kw: Any) -> AccountSettings:
    base: dict[str, Any] = {
        "name": "unit",
        "api_version": "2.0",
        "base_url": "http://127.0.0.1:9",
        "credentials": OAuthCredentials("unit-client", "unit-secret-value"),
    }
    base.update(kw)
    return AccountSettings(**base)


def _token_response() -> httpx.Response:
    return httpx.Response(200, json={"access_token": "unit-token-value", "expires_in": 1800})


def _client(handler: Any, ft: FakeTime, **kw: Any) -> MimecastClient:
    return MimecastClient(
        _settings(**kw),
        clock=ft.clock,
        sleep=ft.sleep,
        uniform=lambda: 0.0,
        transport=httpx.MockTransport(handler),
    )


def test_backoff_is_exponential_capped_and_fully_jittered() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=4.0)
    assert [backoff_delay(policy, n, lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        4.0,
    ]
    assert backoff_delay(policy, 3, lambda: 0.25) == 0.5
    assert backoff_delay(policy, 3, lambda: 0.0) == 0.0


def test_token_refresh_time_margin_and_half_life() -> None:
    assert refresh_time(100.0, 1800.0) == 100.0 + 1740.0
    assert refresh_time(100.0, 60.0) == 130.0
    assert refresh_time(0.0, 120.0) == 60.0


def test_exhausted_remaining_pauses_later_calls_until_reset() -> None:
    ft = FakeTime()
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return _token_response()
        sent_at.append(ft.now)
        remaining = "0" if len(sent_at) == 1 else "5"
        headers = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": remaining}
        headers["X-RateLimit-Reset"] = "2500"
        return httpx.Response(200, headers=headers, json=envelope([{"id": "m"}]))

    async def scenario() -> MimecastClient:
        async with _client(handler, ft) as client:
            await client.get_message_info("m")
            start = ft.now
            await asyncio.gather(*(client.get_message_info("m") for _ in range(3)))
            # Every concurrent call waited for the reset rather than sending early.
            assert all(t >= start + 2.5 for t in sent_at[1:])
            return client

    client = run(scenario())
    assert len(sent_at) == 4
    assert ft.sleeps and min(ft.sleeps) >= 2.5
    assert client.stats.endpoint(PATH).throttled == 0
    # The fake clock jumps on the first sleep, so later waiters may find the gate open.
    assert client.stats.endpoint(PATH).gate_waits >= 1


def test_429_waits_at_least_reset_and_retry_after() -> None:
    ft = FakeTime()
    answers = iter(
        [
            httpx.Response(
                429,
                headers={"X-RateLimit-Reset": "3000", "Retry-After": "4"},
                json={"detail": "Over throttling limit (10/hour)"},
            ),
            httpx.Response(429, headers={"X-RateLimit-Reset": "1500"}, json={}),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return _token_response()
        return next(answers, None) or httpx.Response(200, json=envelope([{"id": "m"}]))

    async def scenario() -> MimecastClient:
        async with _client(handler, ft) as client:
            info = await client.get_message_info("m")
            assert info.id == "m"
            return client

    client = run(scenario())
    # Jitter is 0 here, so each wait is exactly what the server asked for.
    assert ft.sleeps == [4.0, 1.5]
    stats = client.stats.endpoint(PATH)
    assert (stats.throttled, stats.retries, stats.requests) == (2, 2, 3)


def test_429_past_the_cycle_bound_is_deferred_without_sleeping() -> None:
    ft = FakeTime()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return _token_response()
        return httpx.Response(429, headers={"X-RateLimit-Reset": "3600000"}, json={})

    async def scenario() -> MimecastClient:
        async with _client(handler, ft, retry=RetryPolicy(max_total_s=60.0)) as client:
            with cycle_bound(ft.clock() + 60.0), pytest.raises(QuotaDeferred) as caught:
                await client.get_message_info("m")
            # The wait asked for is cut to retry.max_wait_s (900 s), past the cycle's bound.
            assert caught.value.wait_s == pytest.approx(900.0)
            assert caught.value.retryable
            return client

    client = run(scenario())
    assert ft.sleeps == []
    stats = client.stats.endpoint("/api/message-finder/get-message-info")
    assert stats.deferred == 1 and stats.failed == 0


def test_429_longer_than_the_call_budget_waits_its_turn_without_a_cycle_bound() -> None:
    """A backlog is paced, never failed: the queue wait is not the call's retry budget."""
    ft = FakeTime()
    answers = iter([httpx.Response(429, headers={"X-RateLimit-Reset": "3600000"}, json={})])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return _token_response()
        return next(answers, None) or httpx.Response(200, json=envelope([{"id": "m"}]))

    async def scenario() -> None:
        async with _client(handler, ft, retry=RetryPolicy(max_total_s=60.0)) as client:
            info = await client.get_message_info("m")
            assert info.id == "m"

    run(scenario())
    # It waited the capped 900 s (more than max_total_s) and then succeeded.
    assert sum(ft.sleeps) >= 900.0


def test_a_call_refused_without_end_fails_after_max_throttles() -> None:
    ft = FakeTime()
    refused = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return _token_response()
        refused.append(1)
        return httpx.Response(429, headers={"X-RateLimit-Reset": "1000"}, json={})

    async def scenario() -> None:
        async with _client(handler, ft) as client:
            await client.get_message_info("m")

    with pytest.raises(RateLimited) as caught:
        run(scenario())
    assert caught.value.retryable
    assert len(refused) == MAX_THROTTLES


def test_attempts_are_capped_by_max_attempts() -> None:
    ft = FakeTime()
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return _token_response()
        calls.append(1)
        return httpx.Response(503, text="busy")

    async def scenario() -> None:
        async with _client(handler, ft, retry=RetryPolicy(max_attempts=3)) as client:
            await client.get_message_info("m")

    with pytest.raises(ServerError) as caught:
        run(scenario())
    assert len(calls) == 3
    assert caught.value.status == 503 and caught.value.endpoint == PATH


def test_concurrency_is_bounded_by_settings() -> None:
    ft = FakeTime()
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        if request.url.path == "/oauth/token":
            return _token_response()
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(3):
            await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200, json=envelope([{"id": "m"}]))

    async def scenario() -> None:
        async with _client(handler, ft, concurrency=2) as client:
            await asyncio.gather(*(client.get_message_info("m") for _ in range(10)))

    run(scenario())
    assert peak == 2


def test_page_tokens_stay_within_one_query_and_loops_are_stopped() -> None:
    ft = FakeTime()
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return _token_response()
        body = json.loads(request.content)
        bodies.append(body)
        # The server hands out the same token forever: a broken pagination.
        return httpx.Response(200, json=envelope([{"id": "x"}], next_token="same"))

    async def scenario() -> None:
        async with _client(handler, ft) as client:
            for _ in range(2):
                with pytest.raises(MalformedResponse, match="page token already used"):
                    async for _page in client.pages("/api/x", {"q": 1}, page_size=7):
                        pass

    run(scenario())
    tokens = [b["meta"]["pagination"].get("pageToken") for b in bodies]
    # Each fresh iterator starts without a token; the repeated token is sent once.
    assert tokens == [None, "same", None, "same"]
    assert all(b["data"] == [{"q": 1}] and b["meta"]["pagination"]["pageSize"] == 7 for b in bodies)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"data": []}, "no 'meta'"),
        ({"meta": [], "data": []}, "'meta' is a JSON array"),
        ({"meta": {}, "data": {"id": 1}}, "'data' is a JSON object"),
        ({"meta": {}, "data": [], "fail": "x"}, "'fail' is a JSON string"),
        ({"meta": {"pagination": {"next": 5}}, "data": []}, "meta.pagination.next"),
        ([1, 2], "JSON list"),
    ],
)
def test_wrong_envelope_shapes_are_malformed_response(body: Any, needle: str) -> None:
    ft = FakeTime()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return _token_response()
        return httpx.Response(200, json=body)

    async def scenario() -> None:
        async with _client(handler, ft) as client:
            await client.get_message_info("m")

    with pytest.raises(MalformedResponse) as caught:
        run(scenario())
    assert needle in str(caught.value)
    assert caught.value.endpoint == PATH and caught.value.status == 200


def test_already_applied_fail_item_counts_as_success_but_others_do_not() -> None:
    ft = FakeTime()
    codes = iter(["err_smart_tag_already_applied", "err_validation_blank"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return _token_response()
        item = json.loads(request.content)["data"][0]
        error = {"code": next(codes), "message": "m", "retryable": False}
        return httpx.Response(
            200, json={"meta": {}, "data": [], "fail": [{"key": item, "errors": [error]}]}
        )

    async def scenario() -> None:
        async with _client(handler, ft) as client:
            await client.apply_smart_tag("m1", "t1")
            with pytest.raises(ApiFailure) as caught:
                await client.apply_smart_tag("m2", "t1")
            assert caught.value.code == "err_validation_blank"
            assert caught.value.failures[0].key == {"id": "m2", "smartTagId": "t1"}

    run(scenario())


def test_unreadable_ca_bundle_is_a_configuration_error(tmp_path: Any) -> None:
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(ConfigurationError, match="cannot load ca_bundle"):
        MimecastClient(_settings(ca_bundle=str(missing)))


def test_quota_exhausted_beyond_the_cycle_bound_defers_without_a_request() -> None:
    ft = FakeTime()
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return _token_response()
        sent.append(request.url.path)
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3600000"}
        return httpx.Response(200, headers=headers, json=envelope([{"id": "m"}]))

    async def scenario() -> None:
        retry = RetryPolicy(max_total_s=60.0, max_wait_s=7200.0)
        async with _client(handler, ft, retry=retry) as client:
            await client.get_message_info("m")
            with cycle_bound(ft.clock() + 60.0), pytest.raises(QuotaDeferred) as caught:
                await client.get_message_info("m")
            assert caught.value.wait_s == pytest.approx(3600.0)
            assert caught.value.retryable and caught.value.endpoint == PATH

    run(scenario())
    assert sent == [PATH]
    assert ft.sleeps == []


def test_remaining_credit_is_shared_by_concurrent_calls() -> None:
    ft = VirtualTime()
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return _token_response()
        sent_at.append(ft.now)
        # A fixed window: 3 calls, the window ends at t=1010.
        remaining = max(0, 3 - len([t for t in sent_at if t < 1010.0]))
        reset_ms = int(max(1010.0 - ft.now, 0.001) * 1000) if ft.now < 1010.0 else 10_000
        headers = {"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset_ms)}
        return httpx.Response(200, headers=headers, json=envelope([{"id": "m"}]))

    async def scenario() -> None:
        async with _client(handler, ft, concurrency=8) as client:
            await client.get_message_info("m")  # learns: 2 calls left until t=1010
            await asyncio.gather(*(client.get_message_info("m") for _ in range(6)))

    run(scenario())
    # Only the 2 remaining calls went out early; the others were paced by the
    # reset (here a whole window's).
    assert len([t for t in sent_at if t < 1010.0]) == 3
    assert len(sent_at) == 7


@pytest.mark.parametrize("value", ["1e309", "inf", "-inf", "nan", "soon", ""])
def test_garbled_rate_limit_headers_are_ignored(value: str) -> None:
    info = RateLimitInfo.from_headers(
        httpx.Headers({"X-RateLimit-Reset": value, "Retry-After": value})
    )
    assert info.reset_s is None and info.retry_after_s is None
