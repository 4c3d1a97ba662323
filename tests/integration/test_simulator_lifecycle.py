"""Simulator start/stop, the stats endpoint, and ``tagger simulate`` as a real process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tagger.simulator import FaultConfig, Simulator, SimulatorConfig
from tagger.simulator.credentials import DEMO

SEARCH = "/api/message-finder/search"


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_stop_is_fast_and_leaves_no_threads_with_idle_keepalive_clients() -> None:
    before = threading.active_count()
    sim = Simulator(SimulatorConfig(messages=5)).start()
    clients = [httpx.Client(base_url=sim.url) for _ in range(3)]
    for c in clients:
        assert c.get("/_sim/stats").status_code == 200  # connection stays open (keep-alive)
    assert threading.active_count() >= before + 4
    port = sim.port
    sim.stop()  # returns although the clients keep their connections open
    wait_until(lambda: threading.active_count() == before)
    assert refused(port)
    sim.stop()  # idempotent
    for c in clients:
        c.close()


def test_stop_interrupts_a_slow_request() -> None:
    faults = FaultConfig(slow=1.0, slow_ms=30_000)
    sim = Simulator(SimulatorConfig(messages=1, faults=faults)).start()
    outcome: list[object] = []
    token = httpx.post(
        f"{sim.url}/oauth/token",
        data={
            "client_id": DEMO.client_id,
            "client_secret": DEMO.client_secret,
            "grant_type": "client_credentials",
        },
    ).json()["access_token"]
    worker = threading.Thread(target=lambda: outcome.append(_slow_search(sim.url, token)))
    worker.start()
    wait_until(lambda: sim.stats()["faults"]["slow"] == 1)
    sim.stop()
    worker.join(60)
    assert not worker.is_alive()
    # The request was cut off, not answered after its 30 s of latency.
    assert isinstance(outcome[0], httpx.HTTPError)
    assert sim.stats()["faults"]["slow"] == 1


def _slow_search(url: str, token: str) -> object:
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            return c.post(SEARCH, json={"data": [{}]}, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return exc


def test_start_twice_is_an_error_and_url_needs_start() -> None:
    sim = Simulator(SimulatorConfig(messages=1))
    with pytest.raises(RuntimeError):
        _ = sim.url
    with sim:
        with pytest.raises(RuntimeError):
            sim.start()
        assert sim.url.startswith("http://127.0.0.1:")


def test_stats_endpoint_needs_no_auth_and_counts_calls() -> None:
    with Simulator(SimulatorConfig(messages=3)) as sim, httpx.Client(base_url=sim.url) as c:
        c.post(SEARCH, json={"data": [{}]})
        c.post("/nowhere", json={})
        stats = c.get("/_sim/stats").json()
        assert stats["endpoints"]["search"]["by_status"] == {"401": 1}
        assert stats["auth_failures"] == {"err_missing_authorization": 1}
        assert stats["unrouted"] == 1
        assert stats == sim.stats()
        sim.reset_stats()
        assert sim.stats()["requests"] == 0
