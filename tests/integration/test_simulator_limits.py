"""Simulator rate limits (a leaky bucket), fault injection, latency and the concurrency limit."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tagger.simulator import FaultConfig, Simulator, SimulatorConfig
from tagger.simulator.credentials import DEMO

SEARCH = "/api/message-finder/search"
INFO = "/api/message-finder/get-message-info"
APPLY = "/api/data-retention/apply-smart-tag"
FORM = {
    "client_id": DEMO.client_id,
    "client_secret": DEMO.client_secret,
    "grant_type": "client_credentials",
}


@contextmanager
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        token = c.post("/oauth/token", data=FORM).json()["access_token"]
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


@pytest.fixture()
def limited() -> Iterator[Simulator]:
    config = SimulatorConfig(messages=20, rate_limits={"search": (3, 60.0), "apply": (2, 60.0)})
    with Simulator(config) as sim:
        yield sim


def test_every_response_carries_rate_limit_headers(limited: Simulator) -> None:
    with client(limited) as c:
        msg = limited.messages()[0].id
        responses = [
            c.post("/oauth/token", data=FORM),
            c.post(SEARCH, json={"data": [{}]}),
            c.post(INFO, json={"data": [{"id": msg}]}),
            c.post(INFO, json={"data": [{"id": msg}]}, headers={"Authorization": "Bearer bad"}),
        ]
        for r in responses:
            limit = int(r.headers["X-RateLimit-Limit"])
            assert 0 <= int(r.headers["X-RateLimit-Remaining"]) < limit
            assert 0 < int(r.headers["X-RateLimit-Reset"]) <= 60_000
        assert responses[1].headers["X-RateLimit-Limit"] == "3"
        assert responses[1].headers["X-RateLimit-Remaining"] == "2"
        # A full bucket of 3 per 60 s was dipped into: the next request returns in 20 s.
        assert 19_000 < int(responses[1].headers["X-RateLimit-Reset"]) <= 20_000


def test_an_empty_bucket_gives_429_and_the_call_is_not_executed(limited: Simulator) -> None:
    with client(limited) as c:
        remaining = [
            c.post(SEARCH, json={"data": [{}]}).headers["X-RateLimit-Remaining"] for _ in range(3)
        ]
        assert remaining == ["2", "1", "0"]
        r = c.post(SEARCH, json={"data": [{}]})
        assert r.status_code == 429
        assert "throttling" in r.json()["detail"]
        # Reset is the time until one request is added back (one every 20 s).
        assert 0 < int(r.headers["X-RateLimit-Reset"]) <= 20_000
        msg, tag = limited.messages()[0].id, limited.smart_tags()[0]["id"]
        statuses = [
            c.post(APPLY, json={"data": [{"id": msg, "smartTagId": tag}]}).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        assert limited.applied() == {(msg, tag): 2}
        stats = limited.stats()
        assert stats["throttled"]["search"] == 1 and stats["throttled"]["apply"] == 1
        assert stats["endpoints"]["search"]["by_status"] == {"200": 3, "429": 1}


def test_capacity_returns_after_the_refill_interval() -> None:
    with (
        Simulator(SimulatorConfig(messages=5, rate_limits={"search": (1, 0.3)})) as sim,
        client(sim) as c,
    ):
        assert c.post(SEARCH, json={"data": [{}]}).status_code == 200
        assert c.post(SEARCH, json={"data": [{}]}).status_code == 429
        deadline = time.monotonic() + 5
        while c.post(SEARCH, json={"data": [{}]}).status_code == 429:
            assert time.monotonic() < deadline, "capacity never returned"
            time.sleep(0.05)


def test_forced_throttling_and_api_1_envelope() -> None:
    with Simulator(SimulatorConfig(messages=5)) as sim, client(sim) as c:
        sim.throttle("info", calls=2, reset_ms=1234)
        msg = sim.messages()[0].id
        got = [c.post(INFO, json={"data": [{"id": msg}]}) for _ in range(3)]
        assert [r.status_code for r in got] == [429, 429, 200]
        assert got[0].headers["X-RateLimit-Reset"] == "1234"
        sim.throttle(None, calls=1)
        r = c.post(
            SEARCH, json={"data": [{}]}, headers={"Authorization": f"MC {DEMO.access_key}:x"}
        )
        assert r.status_code == 429
        assert r.json()["fail"][0]["errors"][0]["code"] == "err_rate_limit_exceeded"


def _fire(sim: Simulator, n: int) -> dict[str, int]:
    seen = {"ok": 0, "5xx": 0, "drop": 0, "malformed": 0}
    with client(sim) as c:
        msg = sim.messages()[0].id
        for _ in range(n):
            try:
                r = c.post(INFO, json={"data": [{"id": msg}]})
            except httpx.RemoteProtocolError:
                seen["drop"] += 1
                continue
            if r.status_code >= 500:
                seen["5xx"] += 1
                continue
            try:
                json.loads(r.content)
                seen["ok"] += 1
            except ValueError:
                seen["malformed"] += 1
    return seen


def test_fault_rates_match_the_configuration() -> None:
    faults = FaultConfig(error_5xx=0.2, drop=0.1, malformed_json=0.1, seed=42)
    limits = {"info": (10_000, 60.0)}
    with Simulator(SimulatorConfig(messages=5, faults=faults, rate_limits=limits)) as sim:
        seen = _fire(sim, 500)
        assert 70 <= seen["5xx"] <= 130
        assert 28 <= seen["drop"] <= 72
        assert 28 <= seen["malformed"] <= 72
        counted = sim.stats()["faults"]
        assert counted["error_5xx"] == seen["5xx"]
        assert counted["drop"] == seen["drop"]
        assert counted["malformed_json"] == seen["malformed"]
        # The token endpoint and the stats endpoint are exempt.
        with httpx.Client(base_url=sim.url) as c:
            assert all(c.post("/oauth/token", data=FORM).status_code == 200 for _ in range(20))
            assert all(c.get("/_sim/stats").status_code == 200 for _ in range(20))


def test_faults_can_be_switched_at_run_time_and_malformed_calls_execute() -> None:
    with Simulator(SimulatorConfig(messages=5)) as sim, client(sim) as c:
        msg, tag = sim.messages()[0].id, sim.smart_tags()[0]["id"]
        sim.set_faults(FaultConfig(malformed_json=1.0))
        r = c.post(APPLY, json={"data": [{"id": msg, "smartTagId": tag}]})
        assert r.status_code == 200
        with pytest.raises(ValueError):
            json.loads(r.content)
        assert sim.applied() == {(msg, tag): 1}
        sim.set_faults(FaultConfig(error_5xx=1.0))
        r = c.post(APPLY, json={"data": [{"id": msg, "smartTagId": tag}]})
        assert r.status_code in (500, 503)
        assert sim.applied() == {(msg, tag): 1}
        sim.set_faults(FaultConfig())
        assert c.post(APPLY, json={"data": [{"id": msg, "smartTagId": tag}]}).json()["fail"] == []


def _timed(sim: Simulator, parallel: int) -> float:
    errors: list[Any] = []

    def one() -> None:
        with httpx.Client(base_url=sim.url, timeout=10) as c:
            r = c.get("/_sim/stats")  # warm the connection: not delayed
            r = c.post(SEARCH, json={"data": [{}]}, headers={"Authorization": "Bearer x"})
            if r.status_code != 401:
                errors.append(r.status_code)

    threads = [threading.Thread(target=one) for _ in range(parallel)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return time.perf_counter() - began


def test_latency_and_concurrency_limit() -> None:
    with Simulator(SimulatorConfig(messages=1, latency_ms=200)) as sim:
        assert _timed(sim, 1) >= 0.2
        assert _timed(sim, 4) < 0.7  # served side by side
    with Simulator(SimulatorConfig(messages=1, latency_ms=200, max_concurrency=1)) as sim:
        assert _timed(sim, 4) >= 0.8  # queued one after another


def test_slow_fault_delays_the_answer() -> None:
    faults = FaultConfig(slow=1.0, slow_ms=300)
    with Simulator(SimulatorConfig(messages=1, faults=faults)) as sim, client(sim) as c:
        began = time.perf_counter()
        assert c.post(SEARCH, json={"data": [{}]}).status_code == 200
        assert time.perf_counter() - began >= 0.3
        assert sim.stats()["faults"]["slow"] == 1
