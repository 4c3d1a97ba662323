"""Authentication failures, token refresh, rate limits and injected faults, on the simulator."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import (
    AuthenticationError,
    KeyBindingExpired,
    MalformedResponse,
    ServerError,
)
from tagger.mimecast.settings import RetryPolicy
from tagger.simulator import FaultConfig, Simulator, SimulatorConfig
from tests.support.client import (
    WRONG_CLIENT_SECRET,
    WRONG_SECRET_KEY,
    RecordingSleep,
    SecretWatch,
    credentials,
    run,
    settings_for,
    watch,
)

__all__ = ["watch"]

MODES = ("2.0", "1.0")
INFO = "/api/message-finder/get-message-info"


def _info_calls(sim: Simulator) -> dict[str, int]:
    return dict(sim.stats()["endpoints"]["info"]["by_status"])


async def _fetch_all(client: MimecastClient, ids: list[str]) -> list[str]:
    infos = await asyncio.gather(*(client.get_message_info(i) for i in ids))
    return [i.id for i in infos]


@pytest.mark.parametrize("mode", MODES)
def test_wrong_secret_is_an_authentication_error_and_not_retried(
    mode: str, watch: SecretWatch
) -> None:
    override = (
        {"client_secret": WRONG_CLIENT_SECRET}
        if mode == "2.0"
        else {"secret_key": WRONG_SECRET_KEY}
    )
    with Simulator(SimulatorConfig(seed=1, messages=5)) as sim:
        target = sim.messages()[0].id
        settings = settings_for(sim.url, mode, credentials(mode, **override))

        async def scenario() -> list[Any]:
            async with MimecastClient(settings, transport=watch.recorder()) as client:
                calls = (client.get_message_info(target) for _ in range(5))
                return await asyncio.gather(*calls, return_exceptions=True)

        results = run(scenario())
        stats = sim.stats()
    assert all(isinstance(r, AuthenticationError) for r in results)
    err = watch.raised(results[0])
    assert isinstance(err, AuthenticationError) and not isinstance(err, KeyBindingExpired)
    assert err.status == 401 and not err.retryable
    if mode == "2.0":
        assert err.code == "invalid_client" and "client_secret" in str(err)
        # Five callers shared one refused token request.
        assert stats["endpoints"]["token"]["by_status"] == {"401": 1}
        assert stats["endpoints"]["info"]["total"] == 0
    else:
        assert err.code == "err_xdk_invalid_signature" and "clock" in str(err)
        # Each call is refused once and none is retried.
        assert stats["endpoints"]["info"]["by_status"] == {"401": 5}


def test_expired_token_is_refreshed_once_and_silently(watch: SecretWatch) -> None:
    with Simulator(SimulatorConfig(seed=2, messages=12)) as sim:
        ids = [m.id for m in sim.messages()]

        async def scenario() -> MimecastClient:
            async with MimecastClient(settings_for(sim.url, "2.0")) as client:
                await client.get_message_info(ids[0])
                sim.expire_tokens()
                # Many calls in flight all see the expired token; one refresh serves them.
                assert await _fetch_all(client, ids) == ids
                return client

        client = run(scenario())
        stats = sim.stats()
    assert stats["tokens_issued"] == 2
    assert stats["auth_failures"].get("token_expired", 0) >= 1
    assert client.stats.tokens_issued == 2
    assert client.stats.endpoint(INFO).failed == 0


def test_short_lived_token_is_renewed_before_it_expires(watch: SecretWatch) -> None:
    now = [5000.0]
    with Simulator(SimulatorConfig(seed=2, messages=3, token_lifetime_s=100.0)) as sim:
        target = sim.messages()[0].id

        async def scenario() -> None:
            settings = settings_for(sim.url, "2.0")
            async with MimecastClient(settings, clock=lambda: now[0]) as client:
                await client.get_message_info(target)
                now[0] += 49.0  # before half-life: the cached token is reused
                await client.get_message_info(target)
                now[0] += 2.0  # past half-life of a 100 s token: renewed up front
                await client.get_message_info(target)

        run(scenario())
        stats = sim.stats()
    assert stats["tokens_issued"] == 2
    assert stats["auth_failures"] == {}


@pytest.mark.parametrize("mode", MODES)
def test_429_waits_at_least_the_reset_the_server_asked_for(mode: str, watch: SecretWatch) -> None:
    sleep = RecordingSleep()
    with Simulator(SimulatorConfig(seed=3, messages=3)) as sim:
        target = sim.messages()[0].id
        rec = watch.recorder()

        async def scenario() -> None:
            settings = settings_for(sim.url, mode)
            async with MimecastClient(settings, sleep=sleep, transport=rec) as client:
                sim.throttle("info", calls=2, reset_ms=300)
                info = await client.get_message_info(target)
                assert info.id == target
                assert client.stats.endpoint(INFO).throttled == 2

        run(scenario())
        assert sim.stats()["throttled"]["info"] == 2
    info_exchanges = [x for x in rec.exchanges if x.path == INFO]
    assert [x.status for x in info_exchanges] == [429, 429, 200]
    for refused, following in itertools.pairwise(info_exchanges):
        assert refused.reset_ms == 300
        # Measured on the monotonic clock: the next request left after the reset.
        assert following.sent_at - refused.answered_at >= 0.3
    # One pause per 429, of the reset (less the moments spent since the answer came).
    assert len(sleep.delays) == 2 and all(0.25 < d <= 0.3 for d in sleep.delays)
    assert any(e["event"] == "mimecast_rate_limited" for e in watch.events)


def test_exhausted_quota_pauses_instead_of_provoking_429(watch: SecretWatch) -> None:
    config = SimulatorConfig(seed=4, messages=8, rate_limits={"info": (3, 0.6)})
    with Simulator(config) as sim:
        ids = [m.id for m in sim.messages()[:7]]

        async def scenario() -> MimecastClient:
            async with MimecastClient(settings_for(sim.url, "1.0")) as client:
                for mid in ids:
                    await client.get_message_info(mid)
                return client

        client = run(scenario())
        stats = sim.stats()
    assert stats["endpoints"]["info"]["by_status"] == {"200": 7}
    assert stats["throttled"]["info"] == 0
    assert client.stats.endpoint(INFO).gate_waits >= 2


@pytest.mark.parametrize(
    ("mode", "faults"),
    [
        ("2.0", FaultConfig(error_5xx=0.4, seed=9)),
        ("1.0", FaultConfig(error_5xx=0.4, seed=9)),
        ("2.0", FaultConfig(drop=0.4, seed=10)),
        ("1.0", FaultConfig(drop=0.4, seed=10)),
    ],
)
def test_5xx_and_dropped_connections_are_retried_to_success(
    mode: str, faults: FaultConfig, watch: SecretWatch
) -> None:
    with Simulator(SimulatorConfig(seed=5, messages=15, faults=faults)) as sim:
        ids = [m.id for m in sim.messages()]
        settings = settings_for(sim.url, mode, retry=RetryPolicy(10, 30.0, 0.01, 0.05))

        async def scenario() -> MimecastClient:
            async with MimecastClient(settings) as client:
                assert await _fetch_all(client, ids) == ids
                return client

        client = run(scenario())
        stats = sim.stats()
    injected = sum(stats["faults"].values())
    assert injected > 0
    assert client.stats.endpoint(INFO).retries == injected
    assert client.stats.endpoint(INFO).requests == 15 + injected
    assert any(e["event"] == "mimecast_retry" for e in watch.events)


def test_key_binding_expiry_is_fatal_and_not_retried(watch: SecretWatch) -> None:
    with Simulator(SimulatorConfig(seed=6, messages=3)) as sim:
        target = sim.messages()[0].id
        sim.expire_key_binding()

        async def scenario() -> None:
            async with MimecastClient(settings_for(sim.url, "1.0")) as client:
                await client.get_message_info(target)

        with pytest.raises(KeyBindingExpired) as caught:
            run(scenario())
        calls = _info_calls(sim)
    err = watch.raised(caught.value)
    assert isinstance(err, KeyBindingExpired)
    assert calls == {"418": 1}
    assert err.status == 418 and err.code == "err_xdk_binding_expired" and not err.retryable
    assert "re-create the API 1.0 access key and secret key" in str(err)
    assert "restart tagger" in str(err)
    # The request id we signed with is quoted, for Mimecast support.
    assert err.request_id is not None and len(err.request_id) == 36


@pytest.mark.parametrize("mode", MODES)
def test_malformed_json_is_retried_then_raised(mode: str, watch: SecretWatch) -> None:
    faults = FaultConfig(malformed_json=1.0)
    with Simulator(SimulatorConfig(seed=7, messages=3, faults=faults)) as sim:
        target = sim.messages()[0].id
        settings = settings_for(sim.url, mode, retry=RetryPolicy(3, 30.0, 0.01, 0.05))

        async def scenario() -> None:
            async with MimecastClient(settings) as client:
                await client.get_message_info(target)

        with pytest.raises(MalformedResponse) as caught:
            run(scenario())
        calls = _info_calls(sim)
    err = watch.raised(caught.value)
    assert calls == {"200": 3}
    assert isinstance(err, MalformedResponse) and err.retryable and err.status == 200
    assert "not JSON" in str(err) and INFO in str(err)


def test_persistent_5xx_is_raised_after_max_attempts(watch: SecretWatch) -> None:
    faults = FaultConfig(error_5xx=1.0, seed=3)
    with Simulator(SimulatorConfig(seed=8, messages=3, faults=faults)) as sim:
        target = sim.messages()[0].id
        settings = settings_for(sim.url, "2.0", retry=RetryPolicy(4, 30.0, 0.01, 0.05))

        async def scenario() -> MimecastClient:
            async with MimecastClient(settings) as client:
                with pytest.raises(ServerError) as caught:
                    await client.get_message_info(target)
                watch.raised(caught.value)
                assert caught.value.status in (500, 503) and caught.value.retryable
                return client

        client = run(scenario())
        total = sim.stats()["endpoints"]["info"]["total"]
    assert total == 4
    assert client.stats.endpoint(INFO).failed == 1
    assert client.stats.endpoint(INFO).errors["ServerError"] == 4


def test_no_secret_in_logs_or_errors_across_every_failure(watch: SecretWatch) -> None:
    """Drive each failure path in both modes; the autouse watch then scans everything."""
    faults = FaultConfig(error_5xx=0.3, drop=0.2, malformed_json=0.2, seed=12)
    with Simulator(SimulatorConfig(seed=9, messages=10, faults=faults)) as sim:
        ids = [m.id for m in sim.messages()]

        async def scenario(mode: str, creds: Any = None) -> None:
            settings = settings_for(sim.url, mode, creds, retry=RetryPolicy(2, 5.0, 0.0, 0.0))
            async with MimecastClient(settings, transport=watch.recorder()) as client:
                results = await asyncio.gather(
                    *(client.get_message_info(i) for i in ids), return_exceptions=True
                )
                for r in results:
                    if isinstance(r, BaseException):
                        watch.raised(r)
                watch.texts += [repr(client), repr(settings), str(client.stats.as_dict())]

        for mode in MODES:
            run(scenario(mode))
        run(scenario("2.0", credentials("2.0", client_secret=WRONG_CLIENT_SECRET)))
        run(scenario("1.0", credentials("1.0", secret_key=WRONG_SECRET_KEY)))
        sim.expire_key_binding()
        run(scenario("1.0"))
    assert len(watch.texts) > 10
    assert len(watch.events) > 0
    # Tokens and signatures really crossed the wire, so the scan had them to look for.
    assert sum(len(rec.seen) for rec in watch.recorders) >= 8
