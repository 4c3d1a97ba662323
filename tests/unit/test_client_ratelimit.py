"""The client's rate-limit gate: pacing to a leaky bucket's refill, 429s as backpressure.

The scripted server is the simulator's own limiter driven by a virtual clock
(``VirtualTime``: concurrent sleeps overlap, nothing really sleeps), served
through ``httpx.MockTransport``; the last tests use the real simulator over
HTTP on 127.0.0.1. Nothing here asserts on elapsed real time.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import RateLimited, ServerError
from tagger.mimecast.pacing import cycle_bound
from tagger.mimecast.settings import AccountSettings, OAuthCredentials, RetryPolicy
from tagger.simulator.ratelimit import RateLimiter
from tests.support.client import SecretWatch, VirtualTime, envelope, run, watch

PATH = "/api/message-finder/get-message-info"
BARE_429 = {"detail": "Over throttling limit (10000/hour)"}
__all__ = ["watch"]

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, vt: VirtualTime, **kw: Any) -> MimecastClient:
    base: dict[str, Any] = {
        "name": "unit",
        "api_version": "2.0",
        "base_url": "http://127.0.0.1:9",
        "credentials": OAuthCredentials("unit-client", "unit-secret-value"),
    }
    base.update(kw)
    return MimecastClient(
        AccountSettings(**base),
        clock=vt.clock,
        sleep=vt.sleep,
        uniform=lambda: 0.0,
        transport=httpx.MockTransport(handler),
    )


class Server:
    """A scripted API: the token endpoint, then ``answer`` for every other call."""

    def __init__(self, vt: VirtualTime, answer: Callable[[float], httpx.Response]) -> None:
        self.vt = vt
        self.answer = answer
        self.sent: list[tuple[float, int]] = []  # (virtual time, status)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "unit-token", "expires_in": 1800})
        response = self.answer(self.vt.now)
        self.sent.append((self.vt.now, response.status_code))
        return response

    def statuses(self) -> list[int]:
        return [status for _, status in self.sent]


def scripted(vt: VirtualTime, answers: list[httpx.Response]) -> Server:
    """A server that gives ``answers`` in turn, then serves every call."""
    queue = list(answers)
    return Server(vt, lambda _: queue.pop(0) if queue else ok())


def ok() -> httpx.Response:
    return httpx.Response(200, json=envelope([{"id": "m"}]))


def leaky(vt: VirtualTime, size: int, interval: float, mode: str = "leaky") -> Server:
    """A server whose limit is the simulator's: ``size`` requests, one back per ``interval``."""
    limiter = RateLimiter(lambda _: (size, size * interval), clock=vt.clock, mode=mode)

    def answer(_now: float) -> httpx.Response:
        decision = limiter.take("info")
        headers = dict(decision.headers())
        if not decision.allowed:
            return httpx.Response(429, headers=headers, json=BARE_429)
        return httpx.Response(200, headers=headers, json=envelope([{"id": "m"}]))

    return Server(vt, answer)


def burst(client: MimecastClient, n: int) -> Any:
    return asyncio.gather(*(client.get_message_info("m") for _ in range(n)))


def test_a_burst_sends_the_bucket_at_once_then_one_call_per_refill() -> None:
    vt = VirtualTime()
    server = leaky(vt, size=4, interval=0.5)

    async def scenario() -> None:
        async with _client(server, vt, concurrency=16) as client:
            await burst(client, 12)

    run(scenario())
    assert server.statuses() == [200] * 12
    times = [t - 1000.0 for t, _ in server.sent]
    # The first call learns the bucket (4, one back every 0.5 s): the 3 left go at
    # once, then one call per refill interval.
    assert times[:4] == [0.0] * 4
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times[3:])]
    assert gaps == [0.5] * 8


def test_a_burst_against_a_window_server_completes_without_429() -> None:
    # A server whose Reset is the time until a whole window returns (3 per 6 s).
    vt = VirtualTime()
    server = leaky(vt, size=3, interval=2.0, mode="window")

    async def scenario() -> None:
        async with _client(server, vt, concurrency=8) as client:
            await burst(client, 10)

    run(scenario())
    assert server.statuses() == [200] * 10


def test_429s_spend_no_attempt_and_the_call_waits_until_it_gets_through() -> None:
    vt = VirtualTime()
    answers = [httpx.Response(429, headers={"X-RateLimit-Reset": "200"}, json=BARE_429)] * 9
    server = Server(
        vt,
        lambda _: answers.pop() if answers else httpx.Response(200, json=envelope([{"id": "m"}])),
    )

    async def scenario() -> MimecastClient:
        async with _client(server, vt, retry=RetryPolicy(max_attempts=2)) as client:
            assert (await client.get_message_info("m")).id == "m"
            return client

    client = run(scenario())
    assert server.statuses() == [429] * 9 + [200]
    stats = client.stats.endpoint(PATH)
    assert (stats.throttled, stats.failed) == (9, 0)
    # Each retry waited for the reset the server named.
    times = [t for t, _ in server.sent]
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [0.2] * 9


def test_real_failures_still_spend_attempts() -> None:
    vt = VirtualTime()
    server = Server(vt, lambda _: httpx.Response(500, json={}))

    async def scenario() -> None:
        async with _client(server, vt, retry=RetryPolicy(max_attempts=3)) as client:
            await client.get_message_info("m")

    with pytest.raises(ServerError):
        run(scenario())
    assert server.statuses() == [500] * 3


def test_an_endpoint_that_refuses_everything_fails_after_a_call_budget_without_spinning() -> None:
    """Refusing every call is an outage, not a backlog: it fails (transiently), not queues."""
    vt = VirtualTime()
    server = Server(vt, lambda _: httpx.Response(429, json=BARE_429))  # no header at all

    async def scenario() -> None:
        retry = RetryPolicy(max_attempts=2, max_total_s=30.0)
        async with _client(server, vt, retry=retry) as client:
            with cycle_bound(vt.now + 300.0):
                await client.get_message_info("m")

    with pytest.raises(RateLimited, match="refusing, not busy") as caught:
        run(scenario())
    assert caught.value.retryable
    # Waits double from 1 s up to 60 s when the server names none: few requests.
    assert 5 <= len(server.sent) <= 12
    assert vt.now - 1000.0 <= 300.0


def test_bare_429s_let_one_call_probe_at_a_time() -> None:
    vt = VirtualTime()
    server = Server(
        vt,
        lambda now: (
            httpx.Response(429, json=BARE_429)
            if now < 1010.0
            else httpx.Response(200, json=envelope([{"id": "m"}]))
        ),
    )

    async def scenario() -> None:
        async with _client(server, vt, concurrency=8) as client:
            await burst(client, 20)

    run(scenario())
    refused = server.statuses().count(429)
    assert server.statuses().count(200) == 20
    # One probe per growing wait while the server refuses, not 20 calls each time.
    assert refused <= 6


@pytest.mark.parametrize(
    "headers",
    [
        {"X-RateLimit-Reset": "999999996000"},
        {"Retry-After": "999999996"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "999999996000"},
    ],
)
def test_a_huge_wait_is_capped_and_probed_again(headers: dict[str, str]) -> None:
    vt = VirtualTime()
    answers = [httpx.Response(429, headers=headers, json=BARE_429)]
    server = Server(
        vt,
        lambda _: answers.pop() if answers else httpx.Response(200, json=envelope([{"id": "m"}])),
    )

    async def scenario() -> None:
        retry = RetryPolicy(max_total_s=3000.0, max_wait_s=600.0)
        async with _client(server, vt, retry=retry) as client:
            assert (await client.get_message_info("m")).id == "m"

    run(scenario())
    assert server.statuses() == [429, 200]
    assert max(vt.sleeps) <= 600.0
    assert server.sent[1][0] - server.sent[0][0] == pytest.approx(600.0)


def test_a_huge_wait_is_logged_once(watch: SecretWatch) -> None:
    vt = VirtualTime()
    answers = [httpx.Response(429, headers={"Retry-After": "999999996"}, json=BARE_429)] * 3
    server = Server(
        vt,
        lambda _: answers.pop() if answers else httpx.Response(200, json=envelope([{"id": "m"}])),
    )

    async def scenario() -> None:
        retry = RetryPolicy(max_total_s=3000.0, max_wait_s=60.0)
        async with _client(server, vt, retry=retry) as client:
            await client.get_message_info("m")

    run(scenario())
    assert server.statuses() == [429, 429, 429, 200]
    capped = [e for e in watch.events if e["event"] == "mimecast_rate_limit_wait_capped"]
    assert len(capped) == 1 and capped[0]["max_wait_s"] == 60.0


def test_without_rate_limit_headers_nothing_is_paced() -> None:
    vt = VirtualTime()
    server = Server(vt, lambda _: ok())

    async def scenario() -> None:
        async with _client(server, vt, concurrency=16) as client:
            await burst(client, 16)

    run(scenario())
    assert len(server.sent) == 16
    assert {t for t, _ in server.sent} == {1000.0}
    assert vt.sleeps == []


@pytest.mark.parametrize("value", ["soon", "", "-5", "nan"])
def test_garbled_headers_mean_no_pacing(value: str) -> None:
    vt = VirtualTime()
    headers = {"X-RateLimit-Limit": value, "X-RateLimit-Remaining": value}
    headers["X-RateLimit-Reset"] = value
    server = Server(
        vt, lambda _: httpx.Response(200, headers=headers, json=envelope([{"id": "m"}]))
    )

    async def scenario() -> None:
        async with _client(server, vt, concurrency=8) as client:
            await burst(client, 8)

    run(scenario())
    assert len(server.sent) == 8 and vt.sleeps == []


@pytest.mark.parametrize("mode", ["bare", "retry-after"])
def test_a_silent_server_s_refill_is_measured_at_the_cost_of_one_refusal(mode: str) -> None:
    # A bucket of 20 refilled at 5/s whose headers say nothing (a bare 429, or Retry-After).
    vt = VirtualTime()
    server = leaky(vt, size=20, interval=0.2, mode=mode)

    async def scenario() -> float | None:
        async with _client(server, vt, concurrency=8) as client:
            await burst(client, 120)
            return client.quota_seconds(1)

    interval = run(scenario())
    statuses = server.statuses()
    assert statuses.count(200) == 120
    # The calls in flight when the bucket first runs dry, then one to end the
    # measurement: no refusal per guess of the pace.
    assert statuses.count(429) <= 8 + 2
    # Paced at the refill it measured (give or take a probe of a faster pace), not at
    # a guess halved until it fits: the 100 calls beyond the bucket take about 20 s.
    assert interval is not None and abs(interval - 0.2) <= 0.2 * 0.15
    last = max(t for t, status in server.sent if status == 200)
    assert last - 1000.0 <= 20 / 0.9


def test_a_silent_quota_that_halves_while_running_is_found_again_within_a_few_refusals() -> None:
    # Bare 429s, a bucket of 10 refilled at 10/s; after 80 calls the quota halves to 5/s.
    vt = VirtualTime()
    limiter = RateLimiter(lambda _: (10, 1.0), clock=vt.clock, mode="bare")

    def answer(_now: float) -> httpx.Response:
        if not limiter.take("info").allowed:
            return httpx.Response(429, json=BARE_429)
        return httpx.Response(200, json=envelope([{"id": "m"}]))

    server = Server(vt, answer)

    async def scenario() -> float | None:
        async with _client(server, vt, concurrency=8) as client:
            await burst(client, 80)
            before = server.statuses().count(429)
            limiter.set_limits(lambda _: (10, 2.0))  # the same bucket, refilled at 5/s
            await burst(client, 80)
            after = server.statuses().count(429) - before
            assert after <= 6, after
            return client.quota_seconds(1)

    interval = run(scenario())
    assert server.statuses().count(200) == 160
    # Paced to the new refill (one call per 0.2 s), give or take a probe of a faster pace.
    assert interval is not None and abs(interval - 0.2) <= 0.2 * 0.15


def test_reset_0_while_requests_remain_the_refill_is_measured_from_two_empty_buckets() -> None:
    # leaky-zero: Reset is 0 until the bucket (20, one back every 0.2 s) is empty, then the
    # time until one request returns: part of an interval, which alone paces too fast.
    vt = VirtualTime()
    server = leaky(vt, size=20, interval=0.2, mode="leaky-zero")

    async def scenario() -> float | None:
        async with _client(server, vt, concurrency=8) as client:
            await burst(client, 120)
            return client.quota_seconds(1)

    interval = run(scenario())
    assert server.statuses().count(200) == 120
    # The first empty bucket, then the interval is known: no refusal per partial Reset.
    assert server.statuses().count(429) <= 3
    assert interval is not None and abs(interval - 0.2) <= 0.2 * 0.02
